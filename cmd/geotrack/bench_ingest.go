package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/sender"
)

func init() {
	registerBench(command{name: "ingest", summary: "ingest throughput vs redis-benchmark GEOADD, cold start, RSS, nearby latency", run: runBenchIngest})
}

// Targets (ratios of ingest throughput to raw Redis GEOADD throughput).
const (
	targetBatchedRatio = 0.60
	targetSingleRatio  = 0.50
	// targetSingleHTTPRatio: one fix per request against the same load on
	// a no-op net/http handler (issue 11).
	targetSingleHTTPRatio = 0.60
)

// benchLimit bounds a whole run, whatever the flags say.
const benchLimit = 30 * time.Minute

type benchIngestConfig struct {
	redisURL       string
	duration       time.Duration
	warmup         time.Duration
	devices        int
	nearbyDevices  int
	nearbyQueries  int
	batchWorkers   int
	batchSize      int
	singleWorkers  int
	coldStarts     int
	geoaddRequests int
	out            string
}

func runBenchIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	var c benchIngestConfig
	fs.StringVar(&c.redisURL, "redis-url", "", "Redis to use (default: start a private redis-server on 127.0.0.1)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measuring time of each throughput run")
	fs.IntVar(&c.devices, "devices", 1000, "simulated devices feeding the throughput runs")
	fs.IntVar(&c.nearbyDevices, "nearby-devices", 1_000_000, "devices loaded for the nearby latency run (0 skips it)")
	fs.IntVar(&c.nearbyQueries, "nearby-queries", 5000, "nearby queries to time")
	fs.IntVar(&c.batchWorkers, "batch-workers", 4, "concurrent requests in the batched run")
	fs.IntVar(&c.batchSize, "batch-size", 1000, "fixes per request in the batched run")
	fs.IntVar(&c.singleWorkers, "single-workers", 64, "concurrent requests in the one-fix-per-request run")
	fs.IntVar(&c.coldStarts, "cold-starts", 20, "function starts to time")
	fs.IntVar(&c.geoaddRequests, "geoadd-requests", 1_000_000, "redis-benchmark -n for pipelined GEOADD (a fifth of it unpipelined)")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench ingest: unexpected argument %q", fs.Arg(0))
	}
	if c.duration <= 0 || c.duration > 10*time.Minute || c.devices <= 0 || c.batchWorkers <= 0 || c.singleWorkers <= 0 ||
		c.batchSize <= 0 || c.batchSize > fix.MaxBatch || c.nearbyDevices < 0 || c.coldStarts < 0 || c.geoaddRequests <= 0 {
		return errors.New("bench ingest: durations, counts and workers must be positive (duration ≤ 10m, batch-size ≤ 10000)")
	}
	c.warmup = min(2*time.Second, c.duration/4)
	ctx, cancel := context.WithTimeout(ctx, benchLimit)
	defer cancel()

	rep, err := benchIngest(ctx, c)
	if rep != nil {
		md := rep.markdown()
		fmt.Print(md)
		if c.out != "" {
			if werr := os.WriteFile(c.out, []byte(md), 0o644); werr != nil {
				return errors.Join(err, fmt.Errorf("bench ingest: write %s: %w", c.out, werr))
			}
		}
	}
	return err
}

// benchReport holds every figure of a run.
type benchReport struct {
	command, machine, cpu, goVersion, redisVersion string
	loadBefore, loadAfter                          string // /proc/loadavg: the CPUs may be shared
	date                                           time.Time
	cfg                                            benchIngestConfig
	privateRedis                                   bool

	batched, batchMode, single  loadResult // batched: one event carrying the fixes; batchMode: one event per fix
	noop                        loadResult // single's load against a no-op net/http handler: the HTTP ceiling
	geoaddPiped, geoaddUnpiped  float64
	coldStart                   []time.Duration
	rssIdle, rssWarm, rssLoaded int64 // KiB
	nearby                      nearbyResult
	notes                       []string
}

// benchIngest runs every part; a part that fails is noted and the rest
// still run, so one broken piece does not hide the other figures.
func benchIngest(ctx context.Context, c benchIngestConfig) (*benchReport, error) {
	rep := &benchReport{
		command:    "geotrack " + quoteArgs(os.Args[1:]),
		date:       time.Now().UTC(),
		cfg:        c,
		goVersion:  runtime.Version(),
		machine:    fmt.Sprintf("%s/%s, nproc %d", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		cpu:        cpuModel(),
		loadBefore: loadAverage(),
	}
	defer func() { rep.loadAfter = loadAverage() }()
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench ingest: find own executable: %w", err)
	}

	redisURL := c.redisURL
	if redisURL == "" {
		rs, err := startRedisServer(ctx)
		if err != nil {
			return nil, err
		}
		defer rs.stop()
		redisURL = rs.url
		rep.privateRedis = true
	}
	target, err := redisTarget(redisURL)
	if err != nil {
		return nil, err
	}
	rep.redisVersion = redisVersion(ctx, redisURL)

	secret := randomHex(32)
	env := []string{"REDIS_URL=" + redisURL, auth.SecretEnv + "=" + secret, "LOG_LEVEL=warn"}
	// A tenant of its own, so a shared Redis keeps its other data apart.
	tenant := "bench-" + randomHex(4)
	serviceToken, err := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleService}, 2*time.Hour)
	if err != nil {
		return nil, err
	}

	ingest, err := startServed(ctx, exe, "ingest", env)
	if err != nil {
		return rep, err
	}
	defer ingest.stop()
	rep.rssIdle = ingest.rssKiB()

	gen, err := newFixSource(c.devices)
	if err != nil {
		return rep, err
	}
	warm := &sender.Sender{URL: ingest.url, Token: serviceToken, Mode: sender.ModeBinary, Source: "urn:geotrack:bench:warm"}
	for range 20 {
		if _, err := warm.Post(ctx, gen.next(1)); err != nil {
			return rep, fmt.Errorf("bench ingest: warm-up request: %w", err)
		}
	}
	rep.rssWarm = ingest.rssKiB()

	fmt.Fprintf(os.Stderr, "bench: batched ingest, %d fixes/event, %d workers, %s…\n", c.batchSize, c.batchWorkers, c.duration)
	rep.batched, err = runLoad(ctx, loadSpec{url: ingest.url, token: serviceToken, mode: sender.ModeStructured,
		batch: c.batchSize, workers: c.batchWorkers, warmup: c.warmup, duration: c.duration}, gen)
	if err != nil {
		rep.note("batched run: %v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: CloudEvents batch mode, %d events/request, %d workers, %s…\n", c.batchSize, c.batchWorkers, c.duration)
	rep.batchMode, err = runLoad(ctx, loadSpec{url: ingest.url, token: serviceToken, mode: sender.ModeBatch,
		batch: c.batchSize, workers: c.batchWorkers, warmup: c.warmup, duration: c.duration}, gen)
	if err != nil {
		rep.note("batch-mode run: %v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: single-fix ingest, %d workers, %s…\n", c.singleWorkers, c.duration)
	rep.single, err = runLoad(ctx, loadSpec{url: ingest.url, token: serviceToken, mode: sender.ModeBinary,
		batch: 1, workers: c.singleWorkers, warmup: c.warmup, duration: c.duration}, gen)
	if err != nil {
		rep.note("single run: %v", err)
	}
	rep.rssLoaded = ingest.rssKiB()
	ingest.stop()

	fmt.Fprintf(os.Stderr, "bench: the same single-fix load against a no-op HTTP handler, %s…\n", c.duration)
	if noop, err := startOnPort(ctx, exe, []string{"bench", "noop-http"}, nil); err != nil {
		rep.note("no-op HTTP handler: %v", err)
	} else {
		rep.noop, err = runLoad(ctx, loadSpec{url: noop.url, token: serviceToken, mode: sender.ModeBinary,
			batch: 1, workers: c.singleWorkers, warmup: c.warmup, duration: c.duration}, gen)
		noop.stop()
		if err != nil {
			rep.note("no-op HTTP run: %v", err)
		}
	}

	fmt.Fprintln(os.Stderr, "bench: redis-benchmark GEOADD…")
	rep.geoaddPiped, err = geoaddBench(ctx, target, c.geoaddRequests, 16)
	if err != nil {
		rep.note("redis-benchmark pipelined: %v", err)
	}
	rep.geoaddUnpiped, err = geoaddBench(ctx, target, max(c.geoaddRequests/5, 1000), 0)
	if err != nil {
		rep.note("redis-benchmark unpipelined: %v", err)
	}
	if !rep.privateRedis {
		dropKey(ctx, redisURL, "bench:geo") // redis-benchmark's key, in someone else's Redis
	}

	if c.coldStarts > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d cold starts of position…\n", c.coldStarts)
		rep.coldStart, err = coldStarts(ctx, exe, "position", env, c.coldStarts)
		if err != nil {
			rep.note("cold start: %v", err)
		}
	}
	if c.nearbyDevices > 0 {
		rep.nearby, err = benchNearby(ctx, exe, env, redisURL, secret, "benchnb-"+randomHex(4), c.nearbyDevices, c.nearbyQueries)
		if err != nil {
			rep.note("nearby: %v", err)
		}
	}
	if len(rep.notes) > 0 {
		return rep, fmt.Errorf("bench ingest: %d parts failed: %s", len(rep.notes), strings.Join(rep.notes, "; "))
	}
	return rep, nil
}

func (r *benchReport) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}
