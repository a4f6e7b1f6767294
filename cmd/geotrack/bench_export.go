package main

// This file: the export benchmark: a long history, mostly archived (MinIO,
// Parquet) and the newest part in Redis, exported whole through the track
// function as GPX and GeoJSON: time to first byte, total time, peak RSS.

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/localserver"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// Targets of issue 11 §3 for a 1,000,000-point export.
const (
	targetExportFirstByte = 200 * time.Millisecond
	targetExportTotal     = 2 * time.Second
	targetExportRSSMiB    = 64
)

func init() {
	registerBench(command{name: "export", summary: "whole-history export through track (archive + hot): first byte, total time, peak RSS", run: runBenchExport})
}

func runBenchExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench export", flag.ContinueOnError)
	points := fs.Int("points", 1_000_000, "points of history, one a second, ending now")
	hot := fs.Int("hot", 100_000, "how many of the newest points are in Redis (the rest is archived)")
	formats := fs.String("formats", "gpx,geojson", "formats to export, comma-separated (json, geojson, gpx)")
	runs := fs.Int("runs", 1, "exports per format")
	extra := fs.String("query", "", "more query parameters of each export, e.g. max_points=2000 or simplify=5")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *points < 2 || *hot < 0 || *hot > *points {
		return fmt.Errorf("bench export: want 2 ≤ points and 0 ≤ hot ≤ points")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	out := os.Stdout
	const tenant, device = "bench", "export-1"

	redisSrv, err := startRedisServer(ctx)
	if err != nil {
		return err
	}
	defer redisSrv.stop()
	dir, err := os.MkdirTemp("", "geotrack-bench-minio-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := localserver.StartMinIO(ctx, localserver.MinIOConfig{Dir: dir})
	if err != nil {
		return fmt.Errorf("bench export: %w", err)
	}
	defer m.Stop()

	// The history: 1 Hz along a slow curve, 7-decimal coordinates.
	now := time.Now().UTC().Truncate(time.Second)
	start := now.Add(-time.Duration(*points) * time.Second)
	at := func(i int) fix.Fix {
		lat := math.Round((47+0.05*math.Sin(float64(i)/5000))*1e7) / 1e7
		lon := math.Round((8+float64(i)*2e-6)*1e7) / 1e7
		return fix.Fix{Device: device, TS: start.Add(time.Duration(i) * time.Second), Lat: lat, Lon: lon}
	}
	coldN := *points - *hot
	fmt.Fprintf(os.Stderr, "bench: archiving %d points, storing %d in Redis…\n", coldN, *hot)
	began := time.Now()
	bucket := "geotrack-archive"
	if err := archivePoints(ctx, m, bucket, tenant, device, coldN, at); err != nil {
		return err
	}
	client, err := redisstore.Open(redisSrv.url)
	if err != nil {
		return err
	}
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{HistoryRetention: 10 * 365 * 24 * time.Hour})
	batch := make([]fix.Fix, 0, 5000)
	for i := coldN; i < *points; i++ {
		batch = append(batch, at(i))
		if len(batch) == cap(batch) || i == *points-1 {
			if _, err := store.Save(ctx, tenant, []intake.Group{{Fixes: batch}}, now); err != nil {
				return fmt.Errorf("store hot history: %w", err)
			}
			batch = batch[:0]
		}
	}
	loaded := time.Since(began)

	secret := randomHex(32)
	env := []string{"REDIS_URL=" + redisSrv.url, auth.SecretEnv + "=" + secret, "LOG_LEVEL=warn",
		"S3_ENDPOINT=" + m.Endpoint, "S3_BUCKET=" + bucket, "S3_ACCESS_KEY=" + m.AccessKey, "S3_SECRET_KEY=" + m.SecretKey,
		// As deployed (stack.yml): a soft heap limit keeps a long export's
		// garbage from growing the process (RSS 62-73 MiB without it).
		"GOMEMLIMIT=" + trackMemLimit}
	viewer, err := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleViewer}, time.Hour)
	if err != nil {
		return err
	}
	tr, err := startServed(ctx, exe, "track", env)
	if err != nil {
		return err
	}
	defer tr.stop()

	fmt.Fprintf(out, "# geotrack bench export\n\n%d points at 1 Hz (%d archived in MinIO as Parquet, %d in Redis), loaded in %s; "+
		"one GET track?all=true per row, the function a separate process (`geotrack serve track`)\n\n",
		*points, coldN, *hot, loaded.Round(time.Millisecond))
	fmt.Fprintf(out, "| format | bytes | points | first byte | total | peak RSS (function) | targets (first byte < %s, total < %s, RSS < %d MiB) |\n|---|---:|---:|---:|---:|---:|---|\n",
		targetExportFirstByte, targetExportTotal, targetExportRSSMiB)
	for _, format := range strings.Split(*formats, ",") {
		for range *runs {
			r, err := exportOnce(ctx, tr, viewer, device, format, *extra)
			if err != nil {
				return err
			}
			ok := r.firstByte < targetExportFirstByte && r.total < targetExportTotal && r.peakRSSKiB < targetExportRSSMiB*1024 &&
				(r.points == *points || *extra != "")
			fmt.Fprintf(out, "| %s | %d | %d | %s | %s | %.1f MiB | %s |\n", format, r.bytes, r.points,
				r.firstByte.Round(time.Millisecond), r.total.Round(time.Millisecond), float64(r.peakRSSKiB)/1024, verdict(ok))
		}
	}
	return nil
}

// archivePoints writes points [0, n) as the archive objects of the device,
// one per UTC day in one row group, zstd, with the archive's schema.
func archivePoints(ctx context.Context, m *localserver.MinIO, bucket, tenant, device string, n int, at func(int) fix.Fix) error {
	client, err := minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		return err
	}
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("make bucket: %w", err)
	}
	var rows []archive.Row
	flush := func(day string) error {
		if len(rows) == 0 {
			return nil
		}
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[archive.Row](&buf, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(int64(len(rows))))
		if _, err := w.Write(rows); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		key := fmt.Sprintf("tenant=%s/device=%s/date=%s/part-0.parquet", tenant, device, day)
		if _, err := client.PutObject(ctx, bucket, key, &buf, int64(buf.Len()), minio.PutObjectOptions{}); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		rows = rows[:0]
		return nil
	}
	day := ""
	for i := range n {
		f := at(i)
		d := f.TS.Format(time.DateOnly)
		if d != day {
			if err := flush(day); err != nil {
				return err
			}
			day = d
		}
		rows = append(rows, archive.Row{Device: device, TS: f.TS.UnixMilli(), LatE7: int32(math.Round(f.Lat * 1e7)), LonE7: int64(math.Round(f.Lon * 1e7))})
	}
	return flush(day)
}

type exportRun struct {
	bytes, points    int
	firstByte, total time.Duration
	peakRSSKiB       int64
}

// exportOnce GETs the whole history in format, sampling the function's
// RSS every 5 ms while it runs.
func exportOnce(ctx context.Context, tr *servedFunction, token, device, format, extra string) (exportRun, error) {
	var r exportRun
	url := tr.url + "?device=" + device + "&all=true&format=" + format
	if extra != "" {
		url += "&" + extra
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return r, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if kb := tr.rssKiB(); kb > r.peakRSSKiB {
				r.peakRSSKiB = kb
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		close(stop)
		wg.Wait()
		return r, err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	if _, err := br.Peek(1); err != nil {
		close(stop)
		wg.Wait()
		return r, fmt.Errorf("export %s: %d: %w", format, resp.StatusCode, err)
	}
	r.firstByte = time.Since(began)
	counter := &pointCounter{format: format}
	n, err := io.Copy(counter, br)
	r.total = time.Since(began)
	close(stop)
	wg.Wait()
	if err != nil {
		return r, fmt.Errorf("export %s: %w", format, err)
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("export %s: status %d", format, resp.StatusCode)
	}
	if hwm := vmHWM(tr); hwm > r.peakRSSKiB {
		r.peakRSSKiB = hwm
	}
	r.bytes, r.points = int(n), counter.count()
	return r, nil
}

// pointCounter counts the points of a streamed document without keeping
// it: trkpt elements in GPX, timestamps in JSON and GeoJSON (coordTimes).
type pointCounter struct {
	format string
	n      int
	tail   []byte // the end of the previous write, for a marker split across writes
}

func (c *pointCounter) marker() []byte {
	switch c.format {
	case "gpx":
		return []byte("<trkpt ")
	case "json":
		return []byte(`"ts":`)
	}
	return []byte(`Z"`) // each coordTimes entry (and start, end) ends so
}

func (c *pointCounter) Write(p []byte) (int, error) {
	mk := c.marker()
	buf := append(c.tail, p...)
	c.n += bytes.Count(buf, mk)
	keep := min(len(mk)-1, len(buf))
	// The kept tail is shorter than a marker, so no marker is counted twice.
	c.tail = append(c.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}

func (c *pointCounter) count() int {
	if c.format == "geojson" {
		return c.n - 2 // start and end
	}
	return c.n
}

// vmHWM is the function's peak RSS (VmHWM) in KiB.
func vmHWM(s *servedFunction) int64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// trackMemLimit is track's GOMEMLIMIT in stack.yml (the chart's values come
// from it); TestExportBenchRunsTrackAsDeployed checks they agree.
const trackMemLimit = "40MiB"
