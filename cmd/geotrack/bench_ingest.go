package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/localserver"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/sender"
)

func init() {
	registerBench(command{name: "ingest", summary: "ingest throughput vs redis-benchmark GEOADD, cold start, RSS, nearby latency", run: runBenchIngest})
}

// Targets (ratios of ingest throughput to raw Redis GEOADD throughput).
const (
	targetBatchedRatio = 0.60
	targetSingleRatio  = 0.50
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
		goVersion:  goruntime.Version(),
		machine:    fmt.Sprintf("%s/%s, nproc %d", goruntime.GOOS, goruntime.GOARCH, goruntime.NumCPU()),
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

// ---- load runs ----------------------------------------------------------

// fixSource hands out distinct fixes endlessly: one simulated cycle of the
// fleet, replayed with timestamps shifted by the cycle length each round.
// Precomputing keeps the load generator cheap, since it shares the CPU with
// the server it measures.
type fixSource struct {
	mu    sync.Mutex
	cycle []fix.Fix
	span  time.Duration
	round int
	pos   int
	limit time.Time // never stamp beyond this (ingest rejects > now+24h)
}

func newFixSource(devices int) (*fixSource, error) {
	const span = time.Minute
	start := time.Now().Add(-12 * time.Hour).Truncate(time.Second)
	fl, err := fleet.New(fleet.Config{Devices: devices, Rate: 1, Seed: 42, Start: start, Prefix: "bench-"})
	if err != nil {
		return nil, err
	}
	// At least 20,000 fixes per cycle, whatever the fleet size.
	d := max(span, time.Duration(math.Ceil(20000/float64(devices)))*time.Second)
	return &fixSource{cycle: fl.Advance(start.Add(d)), span: d, limit: time.Now().Add(23 * time.Hour)}, nil
}

// next returns n fixes never handed out before (nil once the time budget of
// the source is used up, after tens of millions of fixes).
func (s *fixSource) next(n int) []fix.Fix {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]fix.Fix, 0, n)
	shift := time.Duration(s.round) * s.span
	for len(out) < n {
		if s.pos == len(s.cycle) {
			s.pos, s.round = 0, s.round+1
			shift = time.Duration(s.round) * s.span
		}
		f := s.cycle[s.pos]
		f.TS = f.TS.Add(shift)
		if f.TS.After(s.limit) {
			return nil
		}
		out = append(out, f)
		s.pos++
	}
	return out
}

type loadSpec struct {
	url, token       string
	mode             sender.Mode
	batch, workers   int
	warmup, duration time.Duration
}

// loadResult is one measured run; PerSec counts stored positions.
type loadResult struct {
	Fixes, Requests, Duplicates, Rejected, Errors int
	Elapsed                                       time.Duration
	PerSec                                        float64
	Workers, Batch                                int
}

// runLoad keeps spec.workers requests in flight for warmup+duration and
// counts what completes in the measured window.
func runLoad(ctx context.Context, spec loadSpec, src *fixSource) (loadResult, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: sender.NewTransport(spec.workers)}
	defer client.CloseIdleConnections()
	s := &sender.Sender{URL: spec.url, Token: spec.token, Mode: spec.mode, Source: "urn:geotrack:bench",
		HTTPClient: client, MaxAttempts: 3, Backoff: 20 * time.Millisecond}
	var (
		measuring                       atomic.Bool
		fixes, requests, dups, rejected atomic.Int64
		errs                            atomic.Int64
		fatal                           atomic.Pointer[error]
	)
	runCtx, stop := context.WithTimeout(ctx, spec.warmup+spec.duration+30*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for range spec.workers {
		wg.Go(func() {
			for runCtx.Err() == nil {
				batch := src.next(spec.batch)
				if batch == nil {
					return
				}
				t, err := s.Post(runCtx, batch)
				if err != nil {
					if runCtx.Err() != nil {
						return
					}
					errs.Add(1)
					var se *sender.StatusError
					if errors.As(err, &se) && se.Code < 500 && se.Code != http.StatusTooManyRequests {
						fatal.CompareAndSwap(nil, &err)
						stop()
						return
					}
					continue
				}
				if measuring.Load() {
					fixes.Add(int64(t.Accepted))
					requests.Add(1)
					dups.Add(int64(t.Duplicates))
					rejected.Add(int64(t.Rejected))
				}
			}
		})
	}
	sleepCtx(runCtx, spec.warmup)
	measuring.Store(true)
	began := time.Now()
	sleepCtx(runCtx, spec.duration)
	measuring.Store(false)
	elapsed := time.Since(began)
	stop()
	wg.Wait()
	res := loadResult{Fixes: int(fixes.Load()), Requests: int(requests.Load()), Duplicates: int(dups.Load()),
		Rejected: int(rejected.Load()), Errors: int(errs.Load()), Elapsed: elapsed, Workers: spec.workers, Batch: spec.batch}
	res.PerSec = float64(res.Fixes) / elapsed.Seconds()
	if p := fatal.Load(); p != nil {
		return res, *p
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if res.Fixes == 0 {
		return res, errors.New("no fixes stored in the measured window")
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ---- redis-benchmark ----------------------------------------------------

type redisAddr struct{ host, port, password string }

func redisTarget(rawURL string) (redisAddr, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return redisAddr{}, fmt.Errorf("bench ingest: redis url: %w", err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "6379"
	}
	if host != "127.0.0.1" && host != "localhost" && host != "::1" {
		return redisAddr{}, fmt.Errorf("bench ingest: --redis-url must point at 127.0.0.1 (got host %q): benchmarks only load local targets", host)
	}
	pw, _ := u.User.Password()
	return redisAddr{host: "127.0.0.1", port: port, password: pw}, nil
}

var requestsPerSecond = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) requests per second`)

// geoaddBench runs redis-benchmark GEOADD with pipeline depth pipeline (0 =
// none) and 50 clients, and returns its requests per second.
func geoaddBench(ctx context.Context, t redisAddr, n, pipeline int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	args := []string{"-h", t.host, "-p", t.port, "-n", strconv.Itoa(n), "-r", "1000000", "-c", "50", "-q"}
	if pipeline > 0 {
		args = append(args, "-P", strconv.Itoa(pipeline))
	}
	if t.password != "" {
		args = append(args, "-a", t.password, "--no-auth-warning")
	}
	args = append(args, "GEOADD", "bench:geo", "13.36", "38.11", "m:__rand_int__")
	out, err := exec.CommandContext(ctx, "redis-benchmark", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, lastOutputLine(out))
	}
	return parseRequestsPerSecond(out)
}

// parseRequestsPerSecond reads the final figure of redis-benchmark -q, whose
// output also holds \r-separated progress lines.
func parseRequestsPerSecond(out []byte) (float64, error) {
	m := requestsPerSecond.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark: no requests per second in %q", lastOutputLine(out))
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

func lastOutputLine(b []byte) string {
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\r", "\n"))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// ---- processes ----------------------------------------------------------

// redisServer is a private, non-persistent redis-server for the run.
type redisServer struct {
	*localserver.Redis
	url  string
	once sync.Once
}

func startRedisServer(ctx context.Context) (*redisServer, error) {
	dir, err := os.MkdirTemp("", "geotrack-bench-redis-")
	if err != nil {
		return nil, err
	}
	r, err := localserver.StartRedis(ctx, localserver.RedisConfig{Dir: dir, Args: []string{"--protected-mode", "yes"}})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench ingest: %w", err)
	}
	return &redisServer{Redis: r, url: r.URL}, nil
}

// stop ends the server by its PID (SIGTERM, then SIGKILL) and removes its dir.
func (r *redisServer) stop() {
	r.once.Do(func() {
		r.Stop()
		os.RemoveAll(r.Dir)
	})
}

func stopProcess(p *os.Process, done <-chan struct{}) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-done
	}
}

// servedFunction is one `geotrack serve <function>` subprocess.
type servedFunction struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  *tailBuffer
	once sync.Once
}

func launchServed(exe, name string, env []string) (*servedFunction, error) {
	port, err := loopbackPort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve", name)
	cmd.Env = append(append(os.Environ(), env...), "PORT="+strconv.Itoa(port))
	s := &servedFunction{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/", port), done: make(chan struct{}), log: &tailBuffer{max: 8192}}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start geotrack serve %s: %w", name, err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	return s, nil
}

// startServed launches the function and waits until it is ready.
func startServed(ctx context.Context, exe, name string, env []string) (*servedFunction, error) {
	s, err := launchServed(exe, name, env)
	if err != nil {
		return nil, err
	}
	if _, err := s.waitReady(ctx, 30*time.Second, 5*time.Millisecond); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls /_/ready every interval until a 200 and returns when
// that came.
func (s *servedFunction) waitReady(ctx context.Context, timeout, interval time.Duration) (time.Time, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	var readyAt time.Time
	err := poll.Until(ctx, timeout, interval, func(ctx context.Context) error {
		select {
		case <-s.done:
			return poll.Abort(errors.New("exited before ready"))
		default:
		}
		resp, err := client.Get(s.url + "_/ready")
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		readyAt = time.Now()
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("geotrack serve not ready: %w: %s", err, s.log.String())
	}
	return readyAt, nil
}

func (s *servedFunction) stop() {
	s.once.Do(func() { stopProcess(s.cmd.Process, s.done) })
}

// rssKiB reads VmRSS of the process from /proc (0 where there is none).
func (s *servedFunction) rssKiB() int64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// tailBuffer keeps the last max bytes written, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

func loopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// coldStarts times exec → first 200 on /_/ready, n times, one at a time.
func coldStarts(ctx context.Context, exe, name string, env []string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for range n {
		began := time.Now()
		s, err := launchServed(exe, name, env)
		if err != nil {
			return out, err
		}
		readyAt, err := s.waitReady(ctx, 30*time.Second, 200*time.Microsecond)
		s.stop()
		if err != nil {
			return out, err
		}
		out = append(out, readyAt.Sub(began))
	}
	return out, nil
}

// ---- nearby -------------------------------------------------------------

type nearbyResult struct {
	Devices, Queries int
	RegionKm         float64
	LoadElapsed      time.Duration
	HTTP, Store      []time.Duration
	MeanFound        float64
}

// nearbyRegionKm is the side of the square the devices are spread over, so
// that a 1 km circle holds about 150 of them: tens to hundreds per query.
func nearbyRegionKm(devices int) float64 {
	return max(5, math.Sqrt(float64(devices)*math.Pi/150))
}

func benchNearby(ctx context.Context, exe string, env []string, redisURL, secret, tenant string, devices, queries int) (nearbyResult, error) {
	res := nearbyResult{Devices: devices, Queries: queries, RegionKm: nearbyRegionKm(devices)}
	client, err := redisstore.Open(redisURL)
	if err != nil {
		return res, err
	}
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{})

	fmt.Fprintf(os.Stderr, "bench: loading %d devices over %.0f km × %.0f km…\n", devices, res.RegionKm, res.RegionKm)
	began := time.Now()
	if err := loadNearby(ctx, store, tenant, devices, res.RegionKm); err != nil {
		return res, err
	}
	res.LoadElapsed = time.Since(began)

	nb, err := startServed(ctx, exe, "nearby", env)
	if err != nil {
		return res, err
	}
	defer nb.stop()
	viewer, err := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleViewer}, time.Hour)
	if err != nil {
		return res, err
	}

	rng := mrand.New(mrand.NewPCG(7, 7))
	type query struct{ lat, lon, radius float64 }
	qs := make([]query, queries)
	for i := range qs {
		lat, lon := regionPoint(rng, res.RegionKm*0.9)
		qs[i] = query{lat, lon, 500 + 1500*rng.Float64()}
	}
	fmt.Fprintf(os.Stderr, "bench: %d nearby queries over HTTP and against the store…\n", queries)
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: sender.NewTransport(1)}
	defer httpClient.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Minute)
	found := 0
	for _, q := range qs {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		u := fmt.Sprintf("%s?lat=%.6f&lon=%.6f&radius=%.0f&limit=100", nb.url, q.lat, q.lon, q.radius)
		t0 := time.Now()
		n, err := nearbyHTTP(ctx, httpClient, u, viewer)
		if err != nil {
			return res, err
		}
		res.HTTP = append(res.HTTP, time.Since(t0))
		found += n
	}
	if len(res.HTTP) > 0 {
		res.MeanFound = float64(found) / float64(len(res.HTTP))
	}
	deadline = time.Now().Add(2 * time.Minute)
	for _, q := range qs {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		if _, err := store.Nearby(ctx, tenant, q.lat, q.lon, q.radius, 100); err != nil {
			return res, err
		}
		res.Store = append(res.Store, time.Since(t0))
	}
	return res, nil
}

func nearbyHTTP(ctx context.Context, c *http.Client, u, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("nearby query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("nearby query: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("nearby query %s: %s: %s", u, resp.Status, bodySnippet(body))
	}
	var r struct {
		Devices []json.RawMessage `json:"devices"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("nearby reply: %w", err)
	}
	return len(r.Devices), nil
}

func bodySnippet(b []byte) string {
	return clip.String(strings.TrimSpace(string(b)), 200)
}

// regionPoint is a uniform point of the square of side km around London.
func regionPoint(rng *mrand.Rand, km float64) (lat, lon float64) {
	const mPerDegLat = 111_195.0
	dy := (rng.Float64() - 0.5) * km * 1000
	dx := (rng.Float64() - 0.5) * km * 1000
	lat = fleet.London.Lat + dy/mPerDegLat
	lon = fleet.London.Lon + dx/(mPerDegLat*math.Cos(fleet.London.Lat*math.Pi/180))
	return lat, lon
}

// loadNearby stores one latest fix per device through Store.Save, in
// batches of 5,000 with a few batches in flight.
func loadNearby(ctx context.Context, store *redisstore.Store, tenant string, devices int, km float64) error {
	const batch, workers = 5000, 4
	now := time.Now()
	jobs := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(11, uint64(w)))
			for first := range jobs {
				fixes := make([]fix.Fix, 0, batch)
				for i := first; i < min(first+batch, devices); i++ {
					lat, lon := regionPoint(rng, km)
					fixes = append(fixes, fix.Fix{
						Device: fmt.Sprintf("nb-%07d", i),
						TS:     now.Add(-time.Duration(rng.IntN(600_000)) * time.Millisecond).Truncate(time.Millisecond),
						Lat:    lat, Lon: lon,
						Acc: fix.Float(5), Speed: fix.Float(0),
					})
				}
				if _, err := store.Save(ctx, tenant, []redisstore.Group{{Fixes: fixes}}, now); err != nil {
					errc <- fmt.Errorf("load nearby devices: %w", err)
					return
				}
			}
		})
	}
	var err error
feed:
	for first := 0; first < devices; first += batch {
		select {
		case jobs <- first:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// ---- machine facts ------------------------------------------------------

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func redisVersion(ctx context.Context, url string) string {
	c, err := redisstore.Open(url)
	if err != nil {
		return "unknown"
	}
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "unknown"
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func dropKey(ctx context.Context, url, key string) {
	c, err := redisstore.Open(url)
	if err != nil {
		return
	}
	defer c.Close()
	c.Del(ctx, key)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// quoteArgs renders args as a shell command line.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\`*?[]{}()<>|&;") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// ---- report -------------------------------------------------------------

// percentile returns the q-quantile (0..1) of ds by the nearest-rank method.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func fmtMiB(kib int64) string {
	if kib == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

// thousands formats 1234567.8 as 1,234,568.
func fmtThousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func benchRatio(a, b float64) (float64, bool) {
	if a <= 0 || b <= 0 {
		return 0, false
	}
	return a / b, true
}

func targetVerdict(r float64, ok bool, target float64) string {
	switch {
	case !ok:
		return "n/a"
	case r >= target:
		return "**pass**"
	}
	return "**miss**"
}

func (r *benchReport) markdown() string {
	var b strings.Builder
	c := r.cfg
	fmt.Fprintf(&b, "### geotrack bench ingest — %s\n\n", r.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Command: `%s`\n", r.command)
	fmt.Fprintf(&b, "- Machine: %s, %s, %s; load average %s before the run, %s after\n", r.cpu, r.machine, r.goVersion, r.loadBefore, r.loadAfter)
	where := "given by --redis-url"
	if r.privateRedis {
		where = "private redis-server on 127.0.0.1, no persistence"
	}
	fmt.Fprintf(&b, "- Redis %s (%s); functions run as `geotrack serve <fn>` subprocesses with LOG_LEVEL=warn; "+
		"the load generator runs on the same machine and shares its CPUs.\n", r.redisVersion, where)
	fmt.Fprintf(&b, "- Throughput runs: %s measured after %s warm-up, fixes from %d simulated devices.\n\n", c.duration, c.warmup, c.devices)

	b.WriteString("| Measure | Value | Target | Result |\n|---|---|---|---|\n")
	load := func(name string, l loadResult) {
		fmt.Fprintf(&b, "| %s | %s positions/s (%d requests, %d duplicates, %d rejected, %d errors) | | |\n",
			name, fmtThousands(l.PerSec), l.Requests, l.Duplicates, l.Rejected, l.Errors)
	}
	load(fmt.Sprintf("Ingest batched: %d fixes per request in one structured CloudEvent (as edge forwarders send), %d workers", c.batchSize, c.batchWorkers), r.batched)
	load(fmt.Sprintf("Ingest CloudEvents batch mode: %d events of one fix per request (each deduplicated by source+id), %d workers", c.batchSize, c.batchWorkers), r.batchMode)
	load(fmt.Sprintf("Ingest single: 1 fix/request (binary CloudEvent), %d workers", c.singleWorkers), r.single)
	fmt.Fprintf(&b, "| redis-benchmark GEOADD pipelined (-P 16, -c 50, -n %d) | %s requests/s | | |\n", c.geoaddRequests, fmtThousands(r.geoaddPiped))
	fmt.Fprintf(&b, "| redis-benchmark GEOADD unpipelined (-c 50, -n %d) | %s requests/s | | |\n", max(c.geoaddRequests/5, 1000), fmtThousands(r.geoaddUnpiped))
	rb, okB := benchRatio(r.batched.PerSec, r.geoaddPiped)
	rs, okS := benchRatio(r.single.PerSec, r.geoaddUnpiped)
	fmt.Fprintf(&b, "| Batched ÷ pipelined GEOADD | %.1f %% | ≥ %.0f %% | %s |\n", rb*100, targetBatchedRatio*100, targetVerdict(rb, okB, targetBatchedRatio))
	fmt.Fprintf(&b, "| Single ÷ unpipelined GEOADD | %.1f %% | ≥ %.0f %% | %s |\n", rs*100, targetSingleRatio*100, targetVerdict(rs, okS, targetSingleRatio))
	if len(r.coldStart) > 0 {
		fmt.Fprintf(&b, "| Cold start `serve position`, exec → 200 on /_/ready (n=%d) | median %s, p90 %s, max %s | | |\n",
			len(r.coldStart), fmtMS(quantile(r.coldStart, 0.5)), fmtMS(quantile(r.coldStart, 0.9)), fmtMS(quantile(r.coldStart, 1)))
	}
	fmt.Fprintf(&b, "| RSS of `serve ingest`: idle after start / after 20 requests / after the load runs | %s / %s / %s | | |\n",
		fmtMiB(r.rssIdle), fmtMiB(r.rssWarm), fmtMiB(r.rssLoaded))
	if n := r.nearby; len(n.HTTP) > 0 {
		fmt.Fprintf(&b, "| Nearby over HTTP: %s devices over %.0f×%.0f km, %d queries, radius 500–2000 m, limit 100 (mean %.0f found) | p50 %s, p99 %s, max %s | | |\n",
			fmtThousands(float64(n.Devices)), n.RegionKm, n.RegionKm, len(n.HTTP), n.MeanFound,
			fmtMS(quantile(n.HTTP, 0.5)), fmtMS(quantile(n.HTTP, 0.99)), fmtMS(quantile(n.HTTP, 1)))
	}
	if n := r.nearby; len(n.Store) > 0 {
		fmt.Fprintf(&b, "| Nearby store-level (Store.Nearby, same queries) | p50 %s, p99 %s, max %s | | |\n",
			fmtMS(quantile(n.Store, 0.5)), fmtMS(quantile(n.Store, 0.99)), fmtMS(quantile(n.Store, 1)))
		fmt.Fprintf(&b, "| Loading the nearby devices through Store.Save (5,000/batch, 4 in flight) | %s (%s devices/s) | | |\n",
			r.nearby.LoadElapsed.Round(time.Millisecond), fmtThousands(float64(n.Devices)/r.nearby.LoadElapsed.Seconds()))
	}
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\nFailed part: %s\n", n)
	}
	b.WriteString("\n")
	return b.String()
}
