package main

// This file: geotrack bench fairness (issue 12 §3): the ingest latency of
// quiet tenants while another tenant floods, with and without the
// per-tenant rate limit, the in-flight cap and the tarpit.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/redisstore"
)

func init() {
	registerBench(command{name: "fairness", summary: "quiet tenants' ingest p99 while one tenant floods, with and without rate limits (target ≤ 2× unloaded)", run: runBenchFairness})
}

// targetFairness is the bound: under a flood the other tenants'
// ingest p99 stays within 2× of its unloaded value.
const targetFairness = 2.0

type benchFairnessConfig struct {
	redisURL     string
	duration     time.Duration
	tenants      int     // quiet tenants
	quietRate    float64 // requests/s of each quiet tenant
	floodWorkers int     // concurrent requests of the flooding tenant
	tenantRate   float64 // RATE_LIMIT_TENANT of the limited phase
	tenantBurst  int
	inflight     int           // RATE_LIMIT_TENANT_INFLIGHT of the in-flight phases
	tarpit       time.Duration // RATE_LIMIT_TARPIT of the tarpit phases (the others: 0)
	floodInProc  bool
	// sameFloodTenant floods as one tenant in every phase (before h34):
	// each flood subprocess starts its fix times over, so from the second
	// flood phase on its fixes are older than the history the earlier
	// phases stored (late fixes), and a phase's figures depend on the
	// phases before it.
	sameFloodTenant bool
	out             string
	// floodOnly runs only the flood against this URL (the subprocess the
	// bench starts; the token comes in floodTokenEnv) and prints its counts.
	floodOnly string
}

// floodTokenEnv hands the flooding tenant's token to the flood subprocess.
const floodTokenEnv = "GEOTRACK_BENCH_FLOOD_TOKEN"

func runBenchFairness(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench fairness", flag.ContinueOnError)
	var c benchFairnessConfig
	fs.StringVar(&c.redisURL, "redis-url", "", "Redis to use (default: start a private redis-server on 127.0.0.1)")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "measuring time of each phase")
	fs.IntVar(&c.tenants, "tenants", 4, "quiet tenants, each reporting one fix per request")
	fs.Float64Var(&c.quietRate, "quiet-rate", 50, "requests per second of each quiet tenant")
	fs.IntVar(&c.floodWorkers, "flood-workers", 64, "concurrent requests of the flooding tenant (it ignores 429 and Retry-After)")
	fs.Float64Var(&c.tenantRate, "tenant-rate", 500, "RATE_LIMIT_TENANT (requests/s) of the limited phase")
	fs.IntVar(&c.tenantBurst, "tenant-burst", 1000, "RATE_LIMIT_TENANT_BURST of the limited phase")
	fs.IntVar(&c.inflight, "tenant-inflight", 4, "RATE_LIMIT_TENANT_INFLIGHT (requests in progress per tenant) of the in-flight phases")
	fs.DurationVar(&c.tarpit, "tarpit", time.Second, "RATE_LIMIT_TARPIT (how long a refusal is held) of the tarpit phases; the other phases run without")
	fs.BoolVar(&c.sameFloodTenant, "same-flood-tenant", false, "flood as one tenant in every phase (as before h34): from the second flood phase on its fixes are older than its stored history (late fixes), so phases depend on the ones before")
	fs.BoolVar(&c.floodInProc, "flood-in-process", false, "run the flood inside the bench process (default: a subprocess with GOMAXPROCS=1, pinned to the last CPU with taskset when there is one)")
	fs.StringVar(&c.floodOnly, "flood-only", "", "internal: run only the flood against this URL and print its counts (the bench's subprocess)")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench fairness: unexpected argument %q", fs.Arg(0))
	}
	if c.duration <= 0 || c.duration > 10*time.Minute || c.tenants <= 0 || c.quietRate <= 0 || c.floodWorkers <= 0 || c.tenantRate <= 0 {
		return errors.New("bench fairness: duration (≤ 10m), tenants, quiet-rate, flood-workers and tenant-rate must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, benchLimit)
	defer cancel()
	if c.floodOnly != "" {
		return floodOnly(ctx, c)
	}
	if c.inflight <= 0 || c.tarpit <= 0 {
		return errors.New("bench fairness: tenant-inflight and tarpit must be positive")
	}
	rep, err := benchFairness(ctx, c)
	if rep != nil {
		md := rep.markdown()
		fmt.Print(md)
		if c.out != "" {
			if werr := os.WriteFile(c.out, []byte(md), 0o644); werr != nil {
				return errors.Join(err, fmt.Errorf("bench fairness: write %s: %w", c.out, werr))
			}
		}
	}
	return err
}

// fairnessPhase is one measured phase.
type fairnessPhase struct {
	name                    string
	quiet                   latencies // the quiet tenants' requests
	quietErrors             int
	quietErrorKinds         map[string]int // by status ("429") or "transport"
	floodOK, floodLimited   int            // the flood's 202s and 429s
	floodOther, floodFailed int
	elapsed                 time.Duration
	// CPU seconds (user + system) of the flood's load generator (when a
	// subprocess) and of the ingest process, over the phase.
	floodCPU, serverCPU time.Duration
	floodWall           time.Duration
	// redis is Redis's own work over the phase: ingest's CPU alone does
	// not say whether the shared store is busy.
	redis redisWork
}

type latencies []time.Duration

func (l latencies) q(p float64) time.Duration { return quantile(l, p) }

type fairnessReport struct {
	command, machine, loadBefore, loadAfter string
	date                                    time.Time
	cfg                                     benchFairnessConfig
	phases                                  []fairnessPhase
	notes                                   []string
}

func benchFairness(ctx context.Context, c benchFairnessConfig) (*fairnessReport, error) {
	rep := &fairnessReport{command: "geotrack " + quoteArgs(os.Args[1:]), date: time.Now().UTC(), cfg: c,
		machine: fmt.Sprintf("%s/%s, nproc %d, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel()), loadBefore: loadAverage()}
	defer func() { rep.loadAfter = loadAverage() }()
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench fairness: find own executable: %w", err)
	}
	redisURL := c.redisURL
	if redisURL == "" {
		rs, err := startRedisServer(ctx)
		if err != nil {
			return nil, err
		}
		defer rs.stop()
		redisURL = rs.url
	}
	rdb, err := redisstore.Open(redisURL)
	if err != nil {
		return nil, fmt.Errorf("bench fairness: %w", err)
	}
	defer rdb.Close()
	secret := randomHex(32)
	run := randomHex(4)
	quietTokens := make([]string, c.tenants)
	for i := range quietTokens {
		if quietTokens[i], err = auth.Sign([]byte(secret), auth.Principal{Tenant: fmt.Sprintf("quiet%d-%s", i, run), Role: auth.RoleService}, 2*time.Hour); err != nil {
			return nil, err
		}
	}
	// Each phase floods as a new tenant (unless sameFloodTenant), so its
	// fixes are new, as a flood's are, and no phase inherits another's
	// history.
	floodToken := func(phase int) (string, error) {
		tenant := "flood-" + run
		if !c.sameFloodTenant {
			tenant += "-" + strconv.Itoa(phase)
		}
		return auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleService}, 2*time.Hour)
	}
	rate := []string{fmt.Sprintf("RATE_LIMIT_TENANT=%g", c.tenantRate), fmt.Sprintf("RATE_LIMIT_TENANT_BURST=%d", c.tenantBurst)}
	inflight := fmt.Sprintf("RATE_LIMIT_TENANT_INFLIGHT=%d", c.inflight)
	tarpit := fmt.Sprintf("RATE_LIMIT_TARPIT=%s", c.tarpit)
	// The phases before the tarpit's answer each refusal at once
	// (RATE_LIMIT_TARPIT=0), as they did before it existed.
	phases := []struct {
		name  string
		flood bool
		env   []string
	}{
		{"unloaded", false, []string{"RATE_LIMIT_TENANT=0"}},
		{"flood, no rate limit", true, []string{"RATE_LIMIT_TENANT=0"}},
		{fmt.Sprintf("flood, RATE_LIMIT_TENANT=%g (burst %d)", c.tenantRate, c.tenantBurst), true,
			append([]string{"RATE_LIMIT_TARPIT=0"}, rate...)},
		{fmt.Sprintf("flood, RATE_LIMIT_TENANT_INFLIGHT=%d", c.inflight), true,
			[]string{"RATE_LIMIT_TENANT=0", inflight, "RATE_LIMIT_TARPIT=0"}},
		{fmt.Sprintf("flood, RATE_LIMIT_TENANT=%g and RATE_LIMIT_TENANT_INFLIGHT=%d", c.tenantRate, c.inflight), true,
			append([]string{inflight, "RATE_LIMIT_TARPIT=0"}, rate...)},
		{fmt.Sprintf("flood, RATE_LIMIT_TENANT=%g, %s", c.tenantRate, tarpit), true,
			append([]string{tarpit}, rate...)},
		{fmt.Sprintf("flood, RATE_LIMIT_TENANT=%g, RATE_LIMIT_TENANT_INFLIGHT=%d, %s", c.tenantRate, c.inflight, tarpit), true,
			append([]string{inflight, tarpit}, rate...)},
	}
	var seq atomic.Int64 // distinct fix times across phases
	for i, ph := range phases {
		floodToken, err := floodToken(i)
		if err != nil {
			return rep, err
		}
		env := append([]string{"REDIS_URL=" + redisURL, auth.SecretEnv + "=" + secret, "LOG_LEVEL=error", "RATE_LIMIT_DEVICE=0"}, ph.env...)
		ingest, err := startServed(ctx, exe, "ingest", env)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(os.Stderr, "bench fairness: %s, %s…\n", ph.name, c.duration)
		before := readRedisWork(ctx, rdb)
		res := fairnessRun(ctx, ingest.url, quietTokens, floodToken, c, ph.flood, &seq, exe)
		res.name = ph.name
		res.redis = readRedisWork(ctx, rdb).since(before)
		ingest.stop()
		if st := ingest.cmd.ProcessState; st != nil {
			res.serverCPU = st.UserTime() + st.SystemTime()
		}
		rep.phases = append(rep.phases, res)
		if len(res.quiet) == 0 {
			rep.notes = append(rep.notes, ph.name+": no quiet request succeeded")
		}
	}
	if len(rep.notes) > 0 {
		return rep, fmt.Errorf("bench fairness: %s", strings.Join(rep.notes, "; "))
	}
	return rep, nil
}

// fairnessRun paces each quiet tenant at quietRate (open loop: a slow
// answer does not slow the schedule) and, when flood is set, keeps
// floodWorkers requests of the flooding tenant in flight, for a warm-up
// second and then c.duration.
func fairnessRun(ctx context.Context, url string, quiet []string, flood string, c benchFairnessConfig, withFlood bool, seq *atomic.Int64, exe string) fairnessPhase {
	post, closeIdle := fixPoster(url, seq)
	defer closeIdle()
	const warmup = time.Second
	var (
		mu  sync.Mutex
		res fairnessPhase
		wg  sync.WaitGroup
	)
	if withFlood && !c.floodInProc {
		wg.Go(func() {
			counts, cpu, wall, err := floodSubprocess(ctx, exe, url, flood, c, warmup)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench fairness: flood subprocess: %v\n", err)
			}
			res.floodOK, res.floodLimited, res.floodOther, res.floodFailed = counts.OK, counts.Limited, counts.Other, counts.Failed
			res.floodCPU, res.floodWall = cpu, wall
		})
	}
	runCtx, stop := context.WithTimeout(ctx, warmup+c.duration)
	defer stop()
	began := time.Now()
	measuring := func() bool { return time.Since(began) >= warmup }
	if withFlood && c.floodInProc {
		wg.Go(func() {
			counts := floodLoop(runCtx, post, flood, c.floodWorkers, measuring)
			mu.Lock()
			defer mu.Unlock()
			res.floodOK, res.floodLimited, res.floodOther, res.floodFailed = counts.OK, counts.Limited, counts.Other, counts.Failed
		})
	}
	interval := time.Duration(float64(time.Second) / c.quietRate)
	for i, tok := range quiet {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			var inner sync.WaitGroup
			defer inner.Wait()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-tick.C:
				}
				inner.Go(func() {
					start := time.Now()
					code, err := post(runCtx, tok, fmt.Sprintf("q%d", i))
					took := time.Since(start)
					if !measuring() || runCtx.Err() != nil {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if err != nil || code != http.StatusAccepted {
						res.quietErrors++
						kind := strconv.Itoa(code)
						if err != nil {
							kind = "transport"
						}
						if res.quietErrorKinds == nil {
							res.quietErrorKinds = map[string]int{}
						}
						res.quietErrorKinds[kind]++
						return
					}
					res.quiet = append(res.quiet, took)
				})
			}
		})
	}
	wg.Wait()
	res.elapsed = c.duration
	return res
}

// floodCounts are the flood's answers while measuring.
type floodCounts struct {
	OK, Limited, Other, Failed int
}

// floodLoop keeps workers requests of the flooding tenant in flight until
// ctx ends, ignoring 429 and Retry-After.
func floodLoop(ctx context.Context, post posterFunc, token string, workers int, measuring func() bool) floodCounts {
	var ok, limited, other, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				code, err := post(ctx, token, fmt.Sprintf("flood-%d", w))
				if !measuring() {
					continue
				}
				switch {
				case err != nil:
					if ctx.Err() == nil {
						failed.Add(1)
					}
				case code == http.StatusAccepted:
					ok.Add(1)
				case code == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return floodCounts{OK: int(ok.Load()), Limited: int(limited.Load()), Other: int(other.Load()), Failed: int(failed.Load())}
}

// floodSubprocess runs the flood in a child process with GOMAXPROCS=1,
// pinned to the machine's last CPU with taskset when there is one, so the
// load generator's share of the machine is bounded and measured (its CPU
// time and wall time are returned).
func floodSubprocess(ctx context.Context, exe, url, token string, c benchFairnessConfig, warmup time.Duration) (floodCounts, time.Duration, time.Duration, error) {
	args := []string{"bench", "fairness", "--flood-only", url, "--flood-workers", strconv.Itoa(c.floodWorkers), "--duration", c.duration.String()}
	name := exe
	if tk, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
		args = append([]string{"-c", strconv.Itoa(runtime.NumCPU() - 1), exe}, args...)
		name = tk
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", floodTokenEnv+"="+token)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var cpu time.Duration
	if st := cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	if err != nil {
		return floodCounts{}, cpu, wall, fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	var counts floodCounts
	if err := json.Unmarshal(out.Bytes(), &counts); err != nil {
		return floodCounts{}, cpu, wall, fmt.Errorf("read the flood's counts %q: %w", out.String(), err)
	}
	return counts, cpu, wall, nil
}

// floodOnly is the flood subprocess: a warm-up second, then c.duration of
// flood, then its counts as JSON on stdout.
func floodOnly(ctx context.Context, c benchFairnessConfig) error {
	token := os.Getenv(floodTokenEnv)
	if token == "" {
		return fmt.Errorf("bench fairness: --flood-only needs the token in %s", floodTokenEnv)
	}
	var seq atomic.Int64
	post, closeIdle := fixPoster(c.floodOnly, &seq)
	defer closeIdle()
	const warmup = time.Second
	runCtx, stop := context.WithTimeout(ctx, warmup+c.duration)
	defer stop()
	began := time.Now()
	counts := floodLoop(runCtx, post, token, c.floodWorkers, func() bool { return time.Since(began) >= warmup })
	return json.NewEncoder(os.Stdout).Encode(counts)
}

// posterFunc posts one fix of device with token and returns the status.
type posterFunc func(ctx context.Context, token, device string) (int, error)

// fixPoster posts single-fix requests to url, each with a distinct time
// taken from seq; closeIdle releases its connections.
func fixPoster(url string, seq *atomic.Int64) (post posterFunc, closeIdle func()) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}}
	base := time.Now().Add(-time.Hour)
	return func(ctx context.Context, tok string, device string) (int, error) {
		n := seq.Add(1)
		body := fmt.Sprintf(`{"device":%q,"ts":%q,"lat":%g,"lon":%g}`, device,
			base.Add(time.Duration(n)*time.Millisecond).UTC().Format(time.RFC3339Nano), 48.8+float64(n%1000)/10000, 2.3)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}, client.CloseIdleConnections
}

func (r *fairnessReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## bench fairness (%s)\n\n", r.date.Format(time.RFC3339))
	fmt.Fprintf(&b, "`%s` on %s; load average before %s, after %s.\n\n", r.command, r.machine, r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "%d quiet tenants × %g single-fix requests/s (open loop); the flooding tenant keeps %d requests in flight "+
		"and ignores 429. One ingest process; the quiet tenants' load generator runs in the bench process, ", r.cfg.tenants, r.cfg.quietRate, r.cfg.floodWorkers)
	if r.cfg.floodInProc {
		b.WriteString("and so does the flood's (it shares the machine).\n\n")
	} else {
		b.WriteString("the flood's in a subprocess with GOMAXPROCS=1 pinned with taskset to the last CPU where available. " +
			"CPU columns: CPU-seconds per wall second (1.00 = one whole CPU) of the flood's generator and of ingest.\n\n")
	}
	if r.cfg.sameFloodTenant {
		b.WriteString("One flooding tenant for every phase (--same-flood-tenant): from the second flood phase on its fixes are older than the history it stored before (late fixes).\n\n")
	} else {
		b.WriteString("Each phase floods as a new tenant, so the flood's fixes are new ones and no phase inherits another's history.\n\n")
	}
	b.WriteString("Redis columns: its CPU-seconds per wall second, and the scripts it ran (EVAL/EVALSHA: the saves) per second with their mean time.\n\n")
	b.WriteString("| phase | quiet p50 | quiet p99 | quiet p99 / unloaded | quiet errors | flood 202/s | flood 429/s | flood generator CPU | ingest CPU | Redis CPU | Redis scripts/s, µs each |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	var unloaded time.Duration
	for i, p := range r.phases {
		p99 := p.quiet.q(0.99)
		if i == 0 {
			unloaded = p99
		}
		ratio := "–"
		if i > 0 && unloaded > 0 {
			x := float64(p99) / float64(unloaded)
			verdict := "met"
			if x > targetFairness {
				verdict = "not met"
			}
			ratio = fmt.Sprintf("%.2f× (%s)", x, verdict)
		}
		secs := p.elapsed.Seconds()
		floodCPU := "–"
		if p.floodWall > 0 {
			floodCPU = fmt.Sprintf("%.2f", p.floodCPU.Seconds()/p.floodWall.Seconds())
		}
		serverCPU := "–"
		if p.serverCPU > 0 {
			// ingest ran from its start to its stop: about a warm-up
			// second, the phase and its start-up; the phase is the bulk.
			serverCPU = fmt.Sprintf("%.2f", p.serverCPU.Seconds()/(secs+1))
		}
		redisCPU, scripts := "–", "–"
		if w := p.redis; w.wall > 0 {
			redisCPU = fmt.Sprintf("%.2f", w.cpu.Seconds()/w.wall.Seconds())
			if w.scripts > 0 {
				scripts = fmt.Sprintf("%.0f, %.0f µs", float64(w.scripts)/w.wall.Seconds(), float64(w.scriptTime.Microseconds())/float64(w.scripts))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s | %s | %s |\n", p.name, fmtMS(p.quiet.q(0.5)), fmtMS(p99), ratio, errorKinds(p.quietErrors, p.quietErrorKinds),
			float64(p.floodOK)/secs, float64(p.floodLimited)/secs, floodCPU, serverCPU, redisCPU, scripts)
	}
	fmt.Fprintf(&b, "\nTarget: quiet p99 under a flood ≤ %.0f× unloaded (issue 12 §3). Rate limits are per replica (in-process token buckets).\n", targetFairness)
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\n- %s\n", n)
	}
	return b.String()
}

// redisWork is a reading of Redis's counters (INFO cpu, commandstats), or
// the difference of two.
type redisWork struct {
	at         time.Time
	wall       time.Duration // of a difference
	cpu        time.Duration // used_cpu_sys + used_cpu_user
	scripts    int64         // EVAL and EVALSHA calls
	scriptTime time.Duration // their time inside Redis
}

// readRedisWork reads Redis's counters; a zero reading when it cannot.
func readRedisWork(ctx context.Context, rdb redis.UniversalClient) redisWork {
	info, err := rdb.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return redisWork{}
	}
	w := parseRedisWork(info)
	w.at = time.Now()
	return w
}

// parseRedisWork reads the counters out of INFO's text.
func parseRedisWork(info string) redisWork {
	var w redisWork
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_cpu_sys", "used_cpu_user":
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				w.cpu += time.Duration(f * float64(time.Second))
			}
		case "cmdstat_eval", "cmdstat_evalsha":
			// calls=12,usec=345,usec_per_call=…
			for _, field := range strings.Split(v, ",") {
				name, num, _ := strings.Cut(field, "=")
				n, _ := strconv.ParseInt(num, 10, 64)
				switch name {
				case "calls":
					w.scripts += n
				case "usec":
					w.scriptTime += time.Duration(n) * time.Microsecond
				}
			}
		}
	}
	return w
}

// since is the work done between earlier and w (zero when either reading failed).
func (w redisWork) since(earlier redisWork) redisWork {
	if w.at.IsZero() || earlier.at.IsZero() {
		return redisWork{}
	}
	return redisWork{wall: w.at.Sub(earlier.at), cpu: w.cpu - earlier.cpu, scripts: w.scripts - earlier.scripts, scriptTime: w.scriptTime - earlier.scriptTime}
}

// errorKinds is n followed by its kinds, e.g. "6 (429: 6)".
func errorKinds(n int, kinds map[string]int) string {
	if n == 0 || len(kinds) == 0 {
		return strconv.Itoa(n)
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s: %d", k, kinds[k])
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}
