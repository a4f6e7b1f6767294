package main

// This file: `geotrack bench archive`, the archive tier's targets: bytes per
// archived point on the recorded 1 Hz tracks and points archived per second.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/localserver"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/s3store"
)

func init() {
	registerBench(command{name: "archive", summary: "archive tier: bytes per archived point and points archived per second (private Redis + MinIO)", run: runBenchArchive})
}

// Targets of issue 11.
const (
	archiveBytesPerPointTarget = 4.0
	archivePointsPerSecTarget  = 250_000.0
)

func runBenchArchive(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench archive", flag.ContinueOnError)
	tracks := fs.String("tracks", "testdata/tracks", "folder of recorded 1 Hz .gpx tracks; each device's history loops them")
	devices := fs.Int("devices", 20, "devices with history")
	hours := fs.Float64("hours", 24, "hours of 1 Hz history per device (all of it older than the hot retention)")
	workers := fs.Int("workers", 4, "devices archived at once (ARCHIVE_WORKERS)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the pass to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *devices < 1 || *hours <= 0 || *workers < 1 {
		return fmt.Errorf("bench archive: --devices, --hours and --workers must be positive")
	}
	recorded, err := loadBenchTracks(*tracks)
	if err != nil {
		return err
	}
	sizes, err := recordedTrackSizes(recorded)
	if err != nil {
		return err
	}
	var track []fix.Fix
	for _, t := range recorded {
		track = append(track, t.fixes...)
	}

	redisDir, err := os.MkdirTemp("", "geotrack-bench-redis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(redisDir)
	rs, err := localserver.StartRedis(ctx, localserver.RedisConfig{Dir: redisDir})
	if err != nil {
		return fmt.Errorf("bench archive: %w", err)
	}
	defer rs.Stop()
	minioDir, err := os.MkdirTemp("", "geotrack-bench-minio-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(minioDir)
	ms, err := localserver.StartMinIO(ctx, localserver.MinIOConfig{Dir: minioDir})
	if err != nil {
		return fmt.Errorf("bench archive: %w", err)
	}
	defer ms.Stop()

	client, err := redisstore.Open(rs.URL)
	if err != nil {
		return err
	}
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{HistoryRetention: 30 * 24 * time.Hour})
	now := time.Now().UTC()
	start := archive.Day(now.Add(-4 * 24 * time.Hour).UnixMilli()) // all due with a 48h retention
	perDevice := int(*hours * 3600)
	fmt.Fprintf(os.Stderr, "loading %d devices × %d points (1 Hz, looping %d recorded points)...\n", *devices, perDevice, len(track))
	loaded := 0
	for d := range *devices {
		fixes := benchDeviceHistory(track, fmt.Sprintf("bench-%04d", d), start, perDevice, d)
		for i := 0; i < len(fixes); i += 5000 {
			batch := fixes[i:min(i+5000, len(fixes))]
			res, err := store.Save(ctx, "bench", []redisstore.Group{{Fixes: batch}}, now)
			if err != nil {
				return fmt.Errorf("bench archive: load: %w", err)
			}
			loaded += res.Accepted
		}
	}

	bucket, err := s3store.New(s3store.Config{Endpoint: ms.Endpoint, Bucket: "bench", AccessKey: ms.AccessKey, SecretKey: ms.SecretKey}, nil)
	if err != nil {
		return err
	}
	a := &archive.Archiver{Hot: benchHot{store}, Cold: bucket, Retention: 48 * time.Hour, Workers: *workers, Now: func() time.Time { return now }}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, redisCPU0, minioCPU0 := processCPU(), pidCPU(rs.PID), pidCPU(ms.PID)
	t0 := time.Now()
	res, err := a.Pass(ctx)
	wall := time.Since(t0)
	cpu, redisCPU, minioCPU := processCPU()-cpu0, pidCPU(rs.PID)-redisCPU0, pidCPU(ms.PID)-minioCPU0
	if err != nil {
		return fmt.Errorf("bench archive: pass: %w", err)
	}
	if res.Points != loaded {
		return fmt.Errorf("bench archive: archived %d of %d points", res.Points, loaded)
	}
	r := archiveReport{date: time.Now(), devices: *devices, points: res.Points, objects: res.Objects, bytes: res.Bytes,
		wall: wall, cpu: cpu, redisCPU: redisCPU, minioCPU: minioCPU, workers: *workers, sse: bucket.Mode(),
		args: "geotrack bench archive " + quoteArgs(args), cpuModel: cpuModel(), load: loadAverage(), trackPoints: len(track), tracks: sizes}
	r.write(os.Stdout)
	return nil
}

// benchHot maps the store's ErrHistoryChanged to the archive's, as the
// archiver function's wiring does.
type benchHot struct{ *redisstore.Store }

func (h benchHot) TrimArchived(ctx context.Context, tenant, device string, before time.Time, archived int) error {
	err := h.Store.TrimArchived(ctx, tenant, device, before, archived)
	if err != nil && strings.Contains(err.Error(), redisstore.ErrHistoryChanged.Error()) {
		return fmt.Errorf("%w: %w", archive.ErrHistoryChanged, err)
	}
	return err
}

// recordedTrack is one .gpx of the tracks folder.
type recordedTrack struct {
	name  string
	fixes []fix.Fix
}

// trackSize is one recorded track archived as the archiver writes a day
// of it: one object.
type trackSize struct {
	name          string
	points, bytes int
}

// recordedTrackSizes encodes each recorded track as one archive object, the
// honest bytes-per-point figure: the looped history of the throughput run
// repeats the tracks, and zstd compresses the repeats.
func recordedTrackSizes(tracks []recordedTrack) ([]trackSize, error) {
	var out []trackSize
	for _, t := range tracks {
		rows := make([]archive.Row, len(t.fixes))
		for i, f := range t.fixes {
			r, err := archive.FromFix(f)
			if err != nil {
				return nil, err
			}
			rows[i] = r
		}
		data, err := archive.Encode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, trackSize{name: t.name, points: len(rows), bytes: len(data)})
	}
	return out, nil
}

// loadBenchTracks reads every .gpx of dir.
func loadBenchTracks(dir string) ([]recordedTrack, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.gpx"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("bench archive: no .gpx tracks in %s (run from the repository root or pass --tracks)", dir)
	}
	var all []recordedTrack
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		fixes, err := gpx.Decode(f, "t", 10_000_000)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("bench archive: %s: %w", p, err)
		}
		all = append(all, recordedTrack{name: filepath.Base(p), fixes: fixes})
	}
	return all, nil
}

// benchDeviceHistory lays the recorded points end to end at 1 Hz from
// start, looping the tracks, each device starting at another offset in
// them so that devices differ.
func benchDeviceHistory(track []fix.Fix, device string, start time.Time, n, seed int) []fix.Fix {
	out := make([]fix.Fix, n)
	offset := (seed * 7919) % len(track)
	for i := range n {
		f := track[(offset+i)%len(track)]
		f.Device = device
		f.TS = start.Add(time.Duration(i) * time.Second)
		out[i] = f
	}
	return out
}

// pidCPU is a process's user+sys CPU time from /proc/<pid>/stat (0 where
// there is no /proc).
func pidCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

type archiveReport struct {
	date                          time.Time
	devices, points, objects      int
	trackPoints, workers          int
	bytes                         int64
	wall, cpu, redisCPU, minioCPU time.Duration
	sse, args, cpuModel, load     string
	tracks                        []trackSize
}

func (r archiveReport) write(w io.Writer) {
	bpp := float64(r.bytes) / float64(r.points)
	pps := float64(r.points) / r.wall.Seconds()
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	fmt.Fprintf(w, "### geotrack bench archive, %s\n\n", r.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "`%s` on %s (load before: %s); private redis-server and minio (SSE %s), %d workers.\n", r.args, r.cpuModel, r.load, r.sse, r.workers)
	fmt.Fprintf(w, "%d devices of 1 Hz history looping the %d recorded points of testdata/tracks: %d points, %d objects (one per device and day).\n\n", r.devices, r.trackPoints, r.points, r.objects)
	fmt.Fprintf(w, "| figure | value | target |\n| --- | --- | --- |\n")
	var tp, tb int
	for _, t := range r.tracks {
		tp += t.points
		tb += t.bytes
		fmt.Fprintf(w, "| bytes per point, %s as one object | %.2f (%d points, %d bytes) | |\n", t.name, float64(t.bytes)/float64(t.points), t.points, t.bytes)
	}
	tbpp := float64(tb) / float64(tp)
	fmt.Fprintf(w, "| bytes per point, recorded tracks | %.2f | ≤ %.0f: %s |\n", tbpp, archiveBytesPerPointTarget, verdict(tbpp <= archiveBytesPerPointTarget))
	fmt.Fprintf(w, "| bytes per point, the looped run (repeats compress; not the target's figure) | %.2f (%d bytes) | |\n", bpp, r.bytes)
	fmt.Fprintf(w, "| points archived per second | %s (%.2f s) | ≥ %s: %s |\n", fmtThousands(pps), r.wall.Seconds(), fmtThousands(archivePointsPerSecTarget), verdict(pps >= archivePointsPerSecTarget))
	all := r.cpu + r.redisCPU + r.minioCPU
	fmt.Fprintf(w, "| points per CPU second of archiver + redis-server + minio (what a quiet core would do; the wall rate depends on the load) | %s | |\n", fmtThousands(float64(r.points)/all.Seconds()))
	fmt.Fprintf(w, "| CPU: archiver / redis-server / minio | %.2f s / %.2f s / %.2f s (%.0f%% / %.0f%% / %.0f%% of the wall time) | |\n",
		r.cpu.Seconds(), r.redisCPU.Seconds(), r.minioCPU.Seconds(),
		100*r.cpu.Seconds()/r.wall.Seconds(), 100*r.redisCPU.Seconds()/r.wall.Seconds(), 100*r.minioCPU.Seconds()/r.wall.Seconds())
}
