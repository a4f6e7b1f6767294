package main

// This file: geotrack bench geofence: a tenant's 50,000 fences over a city,
// a simulated fleet's fixes through the evaluator, the geofence-detect
// handler, and ingest → location.updated → geofence-detect → geofence
// events end to end.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/redisstore"
)

func init() {
	registerBench(command{name: "geofence", summary: "fences per tenant: evaluator fixes/s, handler p99, ingest→detect end to end, memory per fence", run: runBenchGeofence})
}

// Targets of issue 9.
const (
	targetEvaluatorFixesPerSec = 50000
	targetHandlerP99           = time.Millisecond
	targetEndToEndFixesPerSec  = 20000
)

type benchGeofenceConfig struct {
	redisURL        string
	fences          int
	devices         int
	evaluatorFixes  int
	handlerRequests int
	e2eFixes        int
	batchSize       int
	workers         int
	eventBatch      int
	out             string
}

func runBenchGeofence(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench geofence", flag.ContinueOnError)
	var c benchGeofenceConfig
	fs.StringVar(&c.redisURL, "redis-url", "", "Redis to use (default: start a private redis-server on 127.0.0.1)")
	fs.IntVar(&c.fences, "fences", 50000, "fences of the tenant (polygons of 8-200 vertices and circles)")
	fs.IntVar(&c.devices, "devices", 10000, "simulated devices")
	fs.IntVar(&c.evaluatorFixes, "evaluator-fixes", 300_000, "fixes through the evaluator")
	fs.IntVar(&c.handlerRequests, "handler-requests", 20000, "one-fix requests to the geofence-detect handler")
	fs.IntVar(&c.e2eFixes, "e2e-fixes", 300_000, "fixes sent through ingest for the end-to-end run (0 skips it)")
	fs.IntVar(&c.batchSize, "batch-size", 1000, "fixes per ingest request in the end-to-end run")
	fs.IntVar(&c.workers, "workers", 4, "concurrent ingest requests in the end-to-end run")
	fs.IntVar(&c.eventBatch, "event-batch", 100, "EVENT_SINK_BATCH of ingest and geofence-detect in the end-to-end run: events per relay request (1: one per request)")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench geofence: unexpected argument %q", fs.Arg(0))
	}
	if c.fences <= 0 || c.fences > geofence.DefaultQuota || c.devices <= 0 || c.evaluatorFixes <= 0 || c.handlerRequests <= 0 ||
		c.e2eFixes < 0 || c.batchSize <= 0 || c.batchSize > fix.MaxBatch || c.workers <= 0 ||
		c.eventBatch <= 0 || c.eventBatch > events.MaxBatchEvents {
		return fmt.Errorf("bench geofence: counts must be positive (fences ≤ %d, batch-size ≤ %d)", geofence.DefaultQuota, fix.MaxBatch)
	}
	ctx, cancel := context.WithTimeout(ctx, benchLimit)
	defer cancel()
	rep, err := benchGeofence(ctx, c)
	if rep != nil {
		md := rep.markdown()
		fmt.Print(md)
		if c.out != "" {
			if werr := os.WriteFile(c.out, []byte(md), 0o644); werr != nil {
				return errors.Join(err, werr)
			}
		}
	}
	return err
}

type geofenceReport struct {
	command, machine, cpu, goVersion, redisVersion string
	loadBefore, loadAfter                          string
	date                                           time.Time
	cfg                                            benchGeofenceConfig
	polygons, circles, vertices                    int
	validate                                       time.Duration // decoding and validating every fence
	heapPerFence, redisPerFence                    float64       // bytes
	indexBuild, initialLoad                        time.Duration
	evalSingle, evalParallel                       float64 // fixes/s
	evalPerCPUSecond                               float64 // fixes per second of process CPU time (user+sys), one goroutine
	evalTransitions                                int
	handlerP50, handlerP99, handlerMax             time.Duration
	handlerRate                                    float64
	e2eSent, e2eDetected, e2eEvents                int
	e2eIgnored, e2eEventsDetected, e2eExpected     int // fixes detect ignored as not newer; events it committed; transitions of the same fixes in memory
	e2eRate, ingestRate                            float64
	e2eDetectRate                                  float64       // fixes/s until the last fix was evaluated (events not yet all out)
	e2eOutAtDetect                                 int           // geofence events out when the last fix was evaluated
	e2eDetectCPU, e2eIngestCPU                     time.Duration // user+sys CPU time of the two processes while the clock ran
	notes                                          []string
}

func (r *geofenceReport) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// benchCity is where the fleet roams and the fences lie: 10 km around London.
const benchCityRadiusM = 10000

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func benchGeofence(ctx context.Context, c benchGeofenceConfig) (*geofenceReport, error) {
	rep := &geofenceReport{
		command: "geotrack " + quoteArgs(os.Args[1:]), date: time.Now().UTC(), cfg: c, goVersion: runtime.Version(),
		machine: fmt.Sprintf("%s/%s, nproc %d", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), cpu: cpuModel(), loadBefore: loadAverage(),
	}
	defer func() { rep.loadAfter = loadAverage() }()

	// 1. The fences: decode and validate, then memory of the index.
	fmt.Fprintf(os.Stderr, "bench: %d fences…\n", c.fences)
	features := fleet.CityFences(c.fences, benchCityRadiusM)
	before := heapInUse()
	start := time.Now()
	fences := make([]*geofence.Fence, 0, c.fences)
	for _, f := range features {
		fs, err := geofence.Decode(f)
		if err != nil {
			return rep, fmt.Errorf("bench geofence: generated fence refused: %w", err)
		}
		fences = append(fences, &fs[0])
		if fs[0].Kind == geofence.KindCircle {
			rep.circles++
		} else {
			rep.polygons++
			rep.vertices += fs[0].Vertices()
		}
	}
	rep.validate = time.Since(start)
	start = time.Now()
	idx := geofence.NewIndex(fences)
	rep.indexBuild = time.Since(start)
	rep.heapPerFence = (float64(heapInUse()) - float64(before)) / float64(c.fences)
	runtime.KeepAlive(features)

	// 2. The evaluator alone: the fleet's fixes, states in memory.
	fmt.Fprintf(os.Stderr, "bench: %d fixes of %d devices through the evaluator…\n", c.evaluatorFixes, c.devices)
	t0 := time.Now().Add(-6 * time.Hour).Truncate(time.Second)
	fl, err := fleet.New(fleet.Config{Devices: c.devices, Rate: 1, Seed: 7, Start: t0, Prefix: "dev-", RadiusM: benchCityRadiusM})
	if err != nil {
		return rep, err
	}
	steps := max(1, c.evaluatorFixes/c.devices)
	track := fl.Advance(t0.Add(time.Duration(steps) * time.Second))
	cpu0 := processCPU()
	rep.evalSingle, rep.evalTransitions = evaluate(idx, track, 1)
	if cpu := processCPU() - cpu0; cpu > 0 {
		rep.evalPerCPUSecond = float64(len(track)) / cpu.Seconds()
	}
	rep.evalParallel, _ = evaluate(idx, track, runtime.NumCPU())

	// 3. Redis: the fences stored, memory per fence, the handler.
	redisURL := c.redisURL
	if redisURL == "" {
		rs, err := startRedisServer(ctx)
		if err != nil {
			return rep, err
		}
		defer rs.stop()
		redisURL = rs.url
	}
	rep.redisVersion = redisVersion(ctx, redisURL)
	client, err := redisstore.Open(redisURL)
	if err != nil {
		return rep, err
	}
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{})
	tenant := "bench-" + randomHex(4)
	memBefore := redisUsedMemory(ctx, client)
	for i := 0; i < len(fences); i += 1000 {
		var chunk []geofence.Stored
		for _, f := range fences[i:min(i+1000, len(fences))] {
			b, err := geofence.Encode(f)
			if err != nil {
				return rep, err
			}
			chunk = append(chunk, geofence.Stored{ID: f.ID, Feature: b})
		}
		if err := store.PutFences(ctx, tenant, chunk, geofence.DefaultQuota); err != nil {
			return rep, err
		}
	}
	rep.redisPerFence = float64(redisUsedMemory(ctx, client)-memBefore) / float64(c.fences)

	secret := randomHex(32)
	os.Setenv("REDIS_URL", redisURL)
	os.Setenv(auth.SecretEnv, secret)
	serviceToken, err := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleService}, 2*time.Hour)
	if err != nil {
		return rep, err
	}
	spec, err := functions.Lookup("geofence-detect")
	if err != nil {
		return rep, err
	}
	deps := &functions.Deps{}
	defer deps.Close()
	built, err := spec.Build(ctx, deps)
	if err != nil {
		return rep, fmt.Errorf("bench geofence: build geofence-detect: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: %d one-fix requests to the geofence-detect handler…\n", c.handlerRequests)
	handlerFixes, err := benchHandler(ctx, rep, built.Handler, serviceToken, fl, c.handlerRequests)
	if err != nil {
		rep.note("handler run: %v", err)
	}

	// 4. End to end through the served functions.
	if c.e2eFixes > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d fixes through ingest → geofence-detect…\n", c.e2eFixes)
		if err := benchEndToEnd(ctx, rep, c, redisURL, secret, tenant, fl, idx, handlerFixes); err != nil {
			rep.note("end-to-end run: %v", err)
		}
	}
	return rep, nil
}

// evaluate runs the fixes through the evaluator with workers goroutines,
// each owning a share of the devices (so each device's fixes stay in order
// on one goroutine), and returns fixes/s and the transitions.
func evaluate(idx *geofence.Index, track []fix.Fix, workers int) (float64, int) {
	owner := make([]int, len(track))
	for i, f := range track {
		h := fnv.New32a()
		h.Write([]byte(f.Device))
		owner[i] = int(h.Sum32() % uint32(workers))
	}
	ev := geofence.Evaluator{}
	var transitions atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := memoryStates{}
			transitions.Add(int64(m.evaluate(&ev, idx, track, func(i int) bool { return owner[i] == w })))
		}()
	}
	wg.Wait()
	return float64(len(track)) / time.Since(start).Seconds(), int(transitions.Load())
}

// benchHandler returns the fixes it sent, in order: they are the devices'
// states in Redis before the end-to-end run.
func benchHandler(ctx context.Context, rep *geofenceReport, h handler.FunctionHandler, token string, fl *fleet.Fleet, n int) ([]fix.Fix, error) {
	var fixes []fix.Fix
	for len(fixes) < n+1 {
		fixes = append(fixes, fl.Advance(fl.Now().Add(time.Second))...)
	}
	request := func(i int, f fix.Fix) handler.Request {
		body := fmt.Appendf(nil, `{"specversion":"1.0","id":"h-%d","source":"urn:bench","type":"io.geotrack.location.updated","subject":%q,"datacontenttype":"application/json","data":[%s]}`,
			i, f.Device, f.AppendJSON(nil))
		hdr := http.Header{}
		hdr.Set("Content-Type", "application/cloudevents+json")
		hdr.Set("Authorization", "Bearer "+token)
		req := handler.Request{Body: body, Header: hdr, Method: http.MethodPost}
		req.WithContext(ctx)
		return req
	}
	// The first request loads the tenant's fences into the index.
	t := time.Now()
	if resp, err := h.Handle(request(0, fixes[0])); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("first request: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	rep.initialLoad = time.Since(t)
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := 1; i <= n; i++ {
		t := time.Now()
		resp, err := h.Handle(request(i, fixes[i]))
		lat = append(lat, time.Since(t))
		if err != nil || resp.StatusCode != http.StatusOK {
			return fixes[:i], fmt.Errorf("request %d: %v %d %s", i, err, resp.StatusCode, resp.Body)
		}
	}
	rep.handlerRate = float64(n) / time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rep.handlerP50, rep.handlerP99, rep.handlerMax = quantile(lat, 0.5), quantile(lat, 0.99), lat[len(lat)-1]
	return fixes[:n+1], nil
}

// transitionsAfter runs prior then track through the evaluator in memory,
// one goroutine, and returns the transitions of track alone: what
// geofence-detect should emit for track when Redis holds the states prior
// left (the end-to-end run's expected event count).
func transitionsAfter(idx *geofence.Index, prior, track []fix.Fix) int {
	ev := geofence.Evaluator{}
	m := memoryStates{}
	m.evaluate(&ev, idx, prior, nil)
	return m.evaluate(&ev, idx, track, nil)
}

// memoryStates are devices' fence states kept in memory (the bench's
// stand-in for Redis), a device's state made on its first fix.
type memoryStates map[string]*geofence.DeviceState

// evaluate runs the fixes (those keep takes, by index; nil: all) through ev
// in order and returns their transitions.
func (m memoryStates) evaluate(ev *geofence.Evaluator, idx *geofence.Index, fixes []fix.Fix, keep func(i int) bool) int {
	n := 0
	for i, f := range fixes {
		if keep != nil && !keep(i) {
			continue
		}
		st := m[f.Device]
		if st == nil {
			st = &geofence.DeviceState{}
			m[f.Device] = st
		}
		_, trs := ev.Evaluate(idx, st, f.Device, f)
		n += len(trs)
	}
	return n
}

// benchEndToEnd serves ingest and geofence-detect, with a router standing in
// for the connector as the event sink of both, posts the fleet's fixes to
// ingest and waits until geofence-detect evaluated every one.
func benchEndToEnd(ctx context.Context, rep *geofenceReport, c benchGeofenceConfig, redisURL, secret, tenant string, fl *fleet.Fleet, idx *geofence.Index, handlerFixes []fix.Fix) error {
	var detected, ignored, eventsDetected, eventsOut atomic.Int64
	var detectURL atomic.Value
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	router := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		typ, tenant, count := r.Header.Get("Ce-Type"), r.Header.Get("Ce-Tenant"), 1
		if strings.HasPrefix(r.Header.Get("Content-Type"), events.MediaBatch) {
			// A relay batch holds one process's events of one tenant.
			var batch []struct{ Type, Tenant string }
			if err := json.Unmarshal(body, &batch); err != nil || len(batch) == 0 {
				http.Error(w, "bad batch", http.StatusBadRequest)
				return
			}
			typ, tenant, count = batch[0].Type, batch[0].Tenant, len(batch)
		}
		if strings.HasPrefix(typ, "io.geotrack.geofence.") {
			eventsOut.Add(int64(count))
			w.WriteHeader(http.StatusAccepted)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, detectURL.Load().(string), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		tok, _ := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleService}, time.Minute)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := httpc.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var res geofence.Result
		_ = json.NewDecoder(resp.Body).Decode(&res)
		if resp.StatusCode == http.StatusOK {
			// Order matters: eventsDetected before detected, so that once
			// every fix is counted, so is every event to wait for.
			ignored.Add(int64(res.Ignored))
			eventsDetected.Add(int64(res.Events))
			detected.Add(int64(res.Fixes))
		}
		w.WriteHeader(resp.StatusCode)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go router.Serve(ln)
	defer router.Close()
	sinkURL := "http://" + ln.Addr().String()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env := []string{"REDIS_URL=" + redisURL, auth.SecretEnv + "=" + secret, "LOG_LEVEL=warn", "EVENT_SINK=" + sinkURL,
		"EVENT_SINK_BATCH=" + strconv.Itoa(c.eventBatch)}
	detect, err := startServed(ctx, exe, "geofence-detect", env)
	if err != nil {
		return err
	}
	defer detect.stop()
	detectURL.Store(detect.url)
	ingest, err := startServed(ctx, exe, "ingest", env)
	if err != nil {
		return err
	}
	defer ingest.stop()
	token, err := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleService}, time.Hour)
	if err != nil {
		return err
	}
	var batches [][]byte
	var track []fix.Fix
	for sent := 0; sent < c.e2eFixes; {
		fixes := fl.Advance(fl.Now().Add(time.Second))
		for i := 0; i < len(fixes) && sent < c.e2eFixes; i += c.batchSize {
			part := fixes[i:min(i+c.batchSize, len(fixes))]
			track = append(track, part...)
			b := []byte{'['}
			for j, f := range part {
				if j > 0 {
					b = append(b, ',')
				}
				b = f.AppendJSON(b)
			}
			batches = append(batches, append(b, ']'))
			sent += len(part)
		}
	}
	// Warm the replica before the clock starts: its first location event
	// loads and indexes every fence (reported above as the first request),
	// which is a cold start, not throughput.
	warm := fix.Fix{Device: "warm-up", TS: fl.Now(), Lat: fleet.London.Lat, Lon: fleet.London.Lon}
	if err := postFixes(ctx, httpc, ingest.url, token, warm.AppendJSON([]byte{'['})); err != nil {
		return fmt.Errorf("warm-up fix: %w", err)
	}
	warmDeadline := time.Now().Add(2 * time.Minute)
	for detected.Load() < 1 && time.Now().Before(warmDeadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if detected.Load() < 1 {
		return errors.New("warm-up fix: geofence-detect did not evaluate it within 2 minutes")
	}
	// The warm-up device's own events (if it lies in fences) must be out
	// before the counters restart.
	for eventsOut.Load() < eventsDetected.Load() && time.Now().Before(warmDeadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	detected.Store(0)
	ignored.Store(0)
	eventsDetected.Store(0)
	eventsOut.Store(0)

	fmt.Fprintln(os.Stderr, "bench: end-to-end clock started") // a profiler attached now sees the clocked part only
	detectCPU0, ingestCPU0 := pidCPU(detect.cmd.Process.Pid), pidCPU(ingest.cmd.Process.Pid)
	start := time.Now()
	var next, accepted atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := 0; w < c.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ingest.url, bytes.NewReader(batches[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := httpc.Do(req)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				var s struct{ Accepted int }
				_ = json.NewDecoder(resp.Body).Decode(&s)
				resp.Body.Close()
				accepted.Add(int64(s.Accepted))
			}
		}()
	}
	wg.Wait()
	ingested := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	rep.ingestRate = float64(accepted.Load()) / ingested.Seconds()
	deadline := time.Now().Add(5 * time.Minute)
	for detected.Load() < accepted.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	rep.e2eDetectRate = float64(detected.Load()) / time.Since(start).Seconds()
	rep.e2eOutAtDetect = int(eventsOut.Load())
	// The clock stops when the last geofence event is out, not when the
	// last fix was evaluated: the events still in geofence-detect's outbox
	// are part of "ingest → event → detect → event out".
	for eventsOut.Load() < eventsDetected.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// CPU per fix does not depend on what else runs on shared CPUs, as
	// much as fixes/s does: the figure to compare two builds by there.
	rep.e2eDetectCPU = pidCPU(detect.cmd.Process.Pid) - detectCPU0
	rep.e2eIngestCPU = pidCPU(ingest.cmd.Process.Pid) - ingestCPU0
	rep.e2eSent, rep.e2eDetected, rep.e2eEvents = int(accepted.Load()), int(detected.Load()), int(eventsOut.Load())
	rep.e2eIgnored, rep.e2eEventsDetected = int(ignored.Load()), int(eventsDetected.Load())
	rep.e2eRate = float64(rep.e2eDetected) / elapsed.Seconds()
	rep.e2eExpected = transitionsAfter(idx, handlerFixes, track)
	if rep.e2eDetected < rep.e2eSent {
		return fmt.Errorf("only %d of %d ingested fixes were evaluated within 5 minutes", rep.e2eDetected, rep.e2eSent)
	}
	if rep.e2eEvents < rep.e2eEventsDetected {
		return fmt.Errorf("only %d of %d geofence events were out within 5 minutes", rep.e2eEvents, rep.e2eEventsDetected)
	}
	return nil
}

// postFixes posts a JSON array of fixes (b lacks its closing bracket) to
// ingest.
func postFixes(ctx context.Context, httpc *http.Client, url, token string, b []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(append(b, ']')))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ingest answered %s", resp.Status)
	}
	return nil
}

// processCPU is the process's user+sys CPU time so far: on shared CPUs the
// wall-clock rate understates what a core does.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisUsedMemory is INFO memory's used_memory, in bytes.
func redisUsedMemory(ctx context.Context, c redis.UniversalClient) int64 {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func (r *geofenceReport) markdown() string {
	var b strings.Builder
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	fmt.Fprintf(&b, "### geotrack bench geofence, %s\n\n", r.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Command: `%s`  \nMachine: %s, %s, %s; Redis %s; load average before %s, after %s (the CPUs are shared).\n\n",
		r.command, r.machine, r.cpu, r.goVersion, r.redisVersion, r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "Fences: %d of one tenant over 10 km around London: %d polygons (%d vertices, %.0f on average), %d circles; decoding and validating them took %s; the R-tree %s.\n\n",
		r.cfg.fences, r.polygons, r.vertices, float64(r.vertices)/math.Max(1, float64(r.polygons)), r.circles, r.validate.Round(time.Millisecond), r.indexBuild.Round(time.Millisecond))
	b.WriteString("| Measure | Result | Target |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| evaluator, one goroutine (%d devices, %s fixes, %d transitions) | %s fixes/s | ≥ %s fixes/s: %s |\n",
		r.cfg.devices, fmtThousands(float64(r.cfg.evaluatorFixes)), r.evalTransitions, fmtThousands(r.evalSingle), fmtThousands(targetEvaluatorFixesPerSec), verdict(r.evalSingle >= targetEvaluatorFixesPerSec))
	fmt.Fprintf(&b, "| evaluator, one goroutine, per second of process CPU time (user+sys, GC included) | %s fixes/CPU-s | |\n", fmtThousands(r.evalPerCPUSecond))
	fmt.Fprintf(&b, "| evaluator, %d goroutines | %s fixes/s | |\n", runtime.NumCPU(), fmtThousands(r.evalParallel))
	fmt.Fprintf(&b, "| geofence-detect handler, one fix per request, sequential, real Redis: p50 / p99 / max | %s / %s / %s (%s requests/s) | p99 < 1 ms: %s |\n",
		fmtMS(r.handlerP50), fmtMS(r.handlerP99), fmtMS(r.handlerMax), fmtThousands(r.handlerRate), verdict(r.handlerP99 > 0 && r.handlerP99 < targetHandlerP99))
	if r.cfg.e2eFixes > 0 {
		fmt.Fprintf(&b, "| end to end: ingest → outbox → location.updated → geofence-detect → geofence events (%s fixes, batches of %d, %d workers, relays posting up to %d events per request; the replica warmed by one fix first) | %s fixes/s (ingest alone accepted %s fixes/s; %s geofence events out) | ≥ %s fixes/s: %s |\n",
			fmtThousands(float64(r.e2eSent)), r.cfg.batchSize, r.cfg.workers, r.cfg.eventBatch, fmtThousands(r.e2eRate), fmtThousands(r.ingestRate), fmtThousands(float64(r.e2eEvents)),
			fmtThousands(targetEndToEndFixesPerSec), verdict(r.e2eRate >= targetEndToEndFixesPerSec))
		fmt.Fprintf(&b, "| end to end, its counts: fixes evaluated / ignored as not newer; events committed by geofence-detect / out / transitions of the same fixes in memory (the handler run's states first); fixes/s until the last fix was evaluated, and the events out by then | %s / %s; %s / %s / %s; %s fixes/s, %s events out | events out = committed = in memory: %s |\n",
			fmtThousands(float64(r.e2eDetected)), fmtThousands(float64(r.e2eIgnored)), fmtThousands(float64(r.e2eEventsDetected)), fmtThousands(float64(r.e2eEvents)),
			fmtThousands(float64(r.e2eExpected)), fmtThousands(r.e2eDetectRate), fmtThousands(float64(r.e2eOutAtDetect)), verdict(r.e2eEvents == r.e2eEventsDetected && r.e2eEventsDetected == r.e2eExpected && r.e2eIgnored == 0))
	}
	if r.cfg.e2eFixes > 0 && r.e2eDetected > 0 {
		perK := func(d time.Duration) string {
			return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)*1000/float64(r.e2eDetected))
		}
		fmt.Fprintf(&b, "| end to end, CPU time (user+sys) per 1000 fixes while the clock ran: geofence-detect / ingest (each relay included) | %s / %s | reported |\n",
			perK(r.e2eDetectCPU), perK(r.e2eIngestCPU))
	}
	fmt.Fprintf(&b, "| memory per fence: Go heap of the index (decoded fences + R-tree) | %.0f bytes | reported |\n", r.heapPerFence)
	fmt.Fprintf(&b, "| memory per fence: Redis (stored Feature JSON, id, change log) | %.0f bytes | reported |\n", r.redisPerFence)
	fmt.Fprintf(&b, "| first request of a replica: load and index all fences from Redis | %s | |\n", fmtMS(r.initialLoad))
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	return b.String()
}
