package e2e

// The fault suite: what happens to acknowledged fixes and to clients when
// Redis dies, when the function dies, when the function is drained by
// SIGTERM under keep-alive load, and when a producer delivers an event id
// twice. Every load loop is bounded in requests and time and talks to
// 127.0.0.1 only; each test asserts counts.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

const faultTenant = "faults"

// loadOutcome is one request of a load loop.
type loadOutcome struct {
	device, ts string
	status     int
	retryAfter string
	errorMsg   string
	closed     bool  // the response said Connection: close
	err        error // transport error: no response
	sentAt     time.Time
	took       time.Duration
}

// load sends one-fix requests from workers goroutines, each with its own
// device and strictly increasing timestamps, until stop is closed, the
// context ends or each worker sent maxPerWorker requests. A worker pauses
// briefly after a transport error, so a dead server is not hammered.
type load struct {
	mu       sync.Mutex
	outcomes []loadOutcome
	wg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once
}

func startLoad(t *testing.T, ctx context.Context, url func() string, client *http.Client, workers, maxPerWorker int) *load {
	t.Helper()
	tok := token(t, faultTenant, auth.RoleService, "")
	l := &load{stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			device := fmt.Sprintf("load-%d", w)
			for i := range maxPerWorker {
				select {
				case <-l.stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				ts := base.Add(time.Duration(i) * time.Millisecond * 10).Format("2006-01-02T15:04:05.000Z")
				body := fmt.Sprintf(`{"device":%q,"ts":%q,"lat":%g,"lon":%g}`, device, ts, 48.85+float64(i%100)*1e-4, 2.35)
				o := loadOutcome{device: device, ts: ts, sentAt: time.Now()}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url(), strings.NewReader(body))
				if err != nil {
					panic(err) // the URL is ours
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				o.took = time.Since(o.sentAt)
				if err != nil {
					o.err = err
				} else {
					data, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					o.status, o.retryAfter, o.closed = resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close
					if rerr != nil {
						o.err = rerr
					}
					if resp.StatusCode >= 400 {
						var e struct{ Error string }
						_ = json.Unmarshal(data, &e)
						o.errorMsg = e.Error
					}
				}
				l.mu.Lock()
				l.outcomes = append(l.outcomes, o)
				l.mu.Unlock()
				if o.err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

// count returns how many outcomes match.
func (l *load) count(match func(loadOutcome) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.outcomes {
		if match(o) {
			n++
		}
	}
	return n
}

// halt tells the workers to send no more requests.
func (l *load) halt() { l.stopOnce.Do(func() { close(l.stop) }) }

// finish stops the workers and returns every outcome.
func (l *load) finish() []loadOutcome {
	l.halt()
	l.wg.Wait()
	return l.outcomes
}

func accepted(o loadOutcome) bool { return o.err == nil && o.status == http.StatusAccepted }

// waitLoad waits until cond holds for the load, failing after timeout.
func waitLoad(t *testing.T, what string, timeout time.Duration, l *load, cond func(loadOutcome) bool, n int) {
	t.Helper()
	err := poll.Until(context.Background(), timeout, 10*time.Millisecond, func(context.Context) error {
		if have := l.count(cond); have < n {
			return fmt.Errorf("have %d", have)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for %d %s: %v", n, what, err)
	}
}

// checkStored asserts that every fix answered 202 is in the device's
// history, and returns how many were.
func checkStored(t *testing.T, redisURL string, outcomes []loadOutcome) int {
	t.Helper()
	client := openRedis(t, redisURL)
	store := redisstore.New(client, redisstore.Options{})
	stored := map[string]map[string]bool{}
	acked := 0
	for _, o := range outcomes {
		if !accepted(o) {
			continue
		}
		acked++
		if stored[o.device] == nil {
			stored[o.device] = historyTimes(t, store, o.device)
		}
		if !stored[o.device][o.ts] {
			t.Errorf("fix %s@%s was acknowledged with 202 but is not stored", o.device, o.ts)
		}
	}
	return acked
}

func historyTimes(t *testing.T, store *redisstore.Store, device string) map[string]bool {
	t.Helper()
	times := map[string]bool{}
	cursor := ""
	for {
		page, err := store.History(context.Background(), faultTenant, device, time.Time{}, time.Time{}, redisstore.MaxLimit, cursor)
		if err != nil {
			t.Fatalf("history of %s: %v", device, err)
		}
		for _, f := range page.Fixes {
			times[f.TS.UTC().Format("2006-01-02T15:04:05.000Z")] = true
		}
		if page.Next == "" {
			return times
		}
		cursor = page.Next
	}
}

// TestFaultRedisKilledUnderLoad: Redis is killed with SIGKILL while ingest
// is under load and restarted on its AOF. While it is down every answer is
// 503 with Retry-After naming Redis (never a 500, never a hang past the
// configured timeouts), /_/ready and a read function say 503 too; once it
// is back the same ingest process accepts again; every fix acknowledged
// with 202, before or after, is stored.
func TestFaultRedisKilledUnderLoad(t *testing.T) {
	rs := testenv.StartRedis(t, testenv.WithAppendOnly())
	// A request that waited for Redis longer than EXEC_TIMEOUT would get
	// "handler timeout", which fails the "redis unavailable" check below:
	// that bounds the wait without timing anything.
	env := map[string]string{"REDIS_URL": rs.URL, "REDIS_DIAL_TIMEOUT": "200ms", "REDIS_TIMEOUT": "500ms", "EXEC_TIMEOUT": "2s"}
	ingest := startFunction(t, "ingest", env)
	position := startFunction(t, "position", env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	l := startLoad(t, ctx, func() string { return ingest.URL }, &http.Client{Timeout: 10 * time.Second}, 4, 3000)
	waitLoad(t, "acknowledged fixes before the kill", 20*time.Second, l, accepted, 100)
	rs.Kill()
	killedAt := time.Now()
	unavailable := func(o loadOutcome) bool { return o.status == http.StatusServiceUnavailable }
	waitLoad(t, "503s while Redis is down", 20*time.Second, l, unavailable, 20)

	ready := call(t, http.MethodGet, ingest.URL+"/_/ready", "", nil, nil)
	if ready.Status != http.StatusServiceUnavailable {
		t.Errorf("/_/ready with Redis down = %d %s, want 503", ready.Status, ready.Body)
	}
	read := call(t, http.MethodGet, position.URL+"?device=load-0", token(t, faultTenant, auth.RoleViewer, ""), nil, nil)
	if read.Status != http.StatusServiceUnavailable || read.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(string(read.Body), `{"error":"redis unavailable: `) {
		t.Errorf("position with Redis down = %d %s (Retry-After %q), want 503 naming redis", read.Status, read.Body, read.Header.Get("Retry-After"))
	}

	rs.Restart(t)
	restartedAt := time.Now()
	t.Logf("Redis down for %s", restartedAt.Sub(killedAt).Round(time.Millisecond))
	afterRestart := func(o loadOutcome) bool { return accepted(o) && o.sentAt.After(restartedAt) }
	waitLoad(t, "acknowledged fixes after the restart", 20*time.Second, l, afterRestart, 100)
	outcomes := l.finish()

	statuses := map[int]int{}
	var slowest503 time.Duration
	for _, o := range outcomes {
		if o.err != nil {
			t.Errorf("transport error (the server must answer): %v", o.err)
			continue
		}
		statuses[o.status]++
		switch o.status {
		case http.StatusAccepted:
		case http.StatusServiceUnavailable:
			if o.retryAfter == "" || !strings.HasPrefix(o.errorMsg, "redis unavailable: ") {
				t.Errorf("503 without Retry-After or naming redis: Retry-After %q, error %q", o.retryAfter, o.errorMsg)
			}
			slowest503 = max(slowest503, o.took)
			if o.sentAt.Before(killedAt.Add(-time.Second)) {
				t.Errorf("503 for a request sent %s before the kill", killedAt.Sub(o.sentAt))
			}
		default:
			t.Errorf("status %d (%s): only 202 and 503 are expected", o.status, o.errorMsg)
		}
	}
	select {
	case <-ingest.done:
		t.Fatal("ingest exited: it must recover without a restart")
	default:
	}
	acked := checkStored(t, rs.URL, outcomes)
	t.Logf("statuses %v; %d acknowledged fixes, all stored; slowest 503 took %s", statuses, acked, slowest503.Round(time.Millisecond))
	if acked != statuses[http.StatusAccepted] || statuses[http.StatusServiceUnavailable] < 20 {
		t.Fatalf("acknowledged %d, statuses %v", acked, statuses)
	}
}

// TestFaultFunctionKilledUnderLoad: ingest is killed with SIGKILL under
// load and started again on the same port. Requests cut by the kill get no
// answer (and were never acknowledged); every fix answered 202 is stored.
func TestFaultFunctionKilledUnderLoad(t *testing.T) {
	rs := testenv.StartRedis(t)
	port := testenv.FreePort(t)
	env := map[string]string{"REDIS_URL": rs.URL, "PORT": strconv.Itoa(port)}
	first := startFunction(t, "ingest", env)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	l := startLoad(t, ctx, func() string { return first.URL }, &http.Client{Timeout: 10 * time.Second}, 4, 3000)
	waitLoad(t, "acknowledged fixes before the kill", 20*time.Second, l, accepted, 200)
	first.kill()
	killedAt := time.Now()
	startFunction(t, "ingest", env) // same port: the clients' URL stays valid
	afterRestart := func(o loadOutcome) bool { return accepted(o) && o.sentAt.After(killedAt) }
	waitLoad(t, "acknowledged fixes after the restart", 20*time.Second, l, afterRestart, 200)
	outcomes := l.finish()

	failed := 0
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			failed++ // cut by the kill or refused while down: never acknowledged
		case o.status != http.StatusAccepted:
			t.Errorf("status %d (%s): only 202 or no answer are expected", o.status, o.errorMsg)
		}
	}
	acked := checkStored(t, rs.URL, outcomes)
	t.Logf("%d acknowledged fixes, all stored; %d requests without an answer around the kill", acked, failed)
	if acked < 400 {
		t.Fatalf("only %d fixes acknowledged", acked)
	}
}

// TestFaultSIGTERMUnderKeepAliveLoad: SIGTERM while clients send on
// kept-alive connections. /_/ready turns 503 at once and stays so; the
// server keeps serving through SHUTDOWN_DELAY, telling clients to close
// their connections; the clients, like an endpoint controller that notices
// within the delay, stop sending new requests halfway through it; then the
// server stops accepting and exits cleanly. No request is reset or left
// unanswered, and every 202 is stored.
func TestFaultSIGTERMUnderKeepAliveLoad(t *testing.T) {
	const delay = 1500 * time.Millisecond
	rs := testenv.StartRedis(t)
	p := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL, "SHUTDOWN_DELAY": delay.String(), "LOG_LEVEL": "info"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keepAlive := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	l := startLoad(t, ctx, func() string { return p.URL }, keepAlive, 6, 5000)
	waitLoad(t, "acknowledged fixes before SIGTERM", 20*time.Second, l, accepted, 300)

	// Readiness, polled on fresh connections from SIGTERM until the exit.
	type probe struct {
		status int
		body   string
		err    error
	}
	probes := make(chan []probe, 1)
	sigterm := make(chan struct{})
	go func() {
		var seen []probe
		defer func() { probes <- seen }()
		<-sigterm
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for {
			select {
			case <-p.done:
				return
			default:
			}
			resp, err := c.Get(p.URL + "/_/ready")
			if err != nil {
				seen = append(seen, probe{err: err})
				time.Sleep(10 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen = append(seen, probe{status: resp.StatusCode, body: string(b)})
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termAt := time.Now()
	close(sigterm)
	time.AfterFunc(delay/2, l.halt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("ingest did not exit within 20s of SIGTERM")
	}
	outcomes := l.finish()
	seen := <-probes

	// Outcomes are in completion order, which per worker (device) is the
	// order sent. Once a worker was told to close, every later answer to it
	// must say so too: the drain has begun.
	var servedInDrain, closing int
	draining := map[string]bool{}
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			t.Errorf("request sent %s after SIGTERM got no answer: %v", o.sentAt.Sub(termAt), o.err)
		case o.status != http.StatusAccepted:
			t.Errorf("status %d (%s), want 202", o.status, o.errorMsg)
		case o.closed:
			draining[o.device] = true
			closing++
		case draining[o.device]:
			t.Errorf("a response after the drain began kept the connection open (%s)", o.device)
		}
		if o.err == nil && o.sentAt.After(termAt) {
			servedInDrain++
		}
	}
	if servedInDrain == 0 || closing == 0 {
		t.Errorf("%d requests sent after SIGTERM were served, %d answers said Connection: close; want both > 0", servedInDrain, closing)
	}
	// The first probe may race the signal; after the first 503 there must
	// be no 200 until the listener closes.
	notReady, readyAfter := 0, 0
	for _, pr := range seen {
		switch {
		case pr.err != nil:
		case pr.status == http.StatusServiceUnavailable && pr.body == "shutting down":
			notReady++
		case notReady > 0:
			readyAfter++
		}
	}
	if notReady == 0 || readyAfter != 0 {
		t.Errorf("/_/ready after SIGTERM: %d × 503 shutting down, then %d other answers; want 503s only", notReady, readyAfter)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after the drain, want 0", code)
	}
	acked := checkStored(t, rs.URL, outcomes)
	t.Logf("%d acknowledged (all stored), %d served during the drain (%d answers with Connection: close); readiness 503 × %d",
		acked, servedInDrain, closing, notReady)
}

// TestFaultDuplicateDelivery: an event delivered twice is stored once; the
// same id with other data is a duplicate too, but counted in
// geotrack_ingest_duplicate_conflicts_total and logged at warn with its
// source and id.
func TestFaultDuplicateDelivery(t *testing.T) {
	rs := testenv.StartRedis(t)
	p := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL})
	svc := token(t, faultTenant, auth.RoleService, "")
	event := func(id string) http.Header {
		return hdr("Ce-Specversion", "1.0", "Ce-Id", id, "Ce-Source", "urn:producer", "Ce-Type", "io.geotrack.location.reported",
			"Ce-Subject", "dup-dev", "Content-Type", "application/json")
	}
	cases := []struct {
		name            string
		id              string
		lat             float64
		accepted, dups  int
		conflictsMetric float64
	}{
		{"first delivery", "ev-1", 48.85, 1, 0, 0},
		{"redelivery", "ev-1", 48.85, 0, 1, 0},
		{"same id, other fix", "ev-1", 48.90, 0, 1, 1},
		{"same id, other fix again", "ev-1", 48.95, 0, 1, 2},
		{"new id", "ev-2", 48.86, 1, 0, 2},
	}
	for i, tc := range cases {
		body := fmt.Sprintf(`{"ts":%q,"lat":%g,"lon":2.35}`, ts(i), tc.lat)
		if tc.id == "ev-1" {
			body = fmt.Sprintf(`{"ts":%q,"lat":%g,"lon":2.35}`, ts(0), tc.lat)
		}
		r := call(t, http.MethodPost, p.URL, svc, event(tc.id), []byte(body))
		var s summary
		r.JSON(t, &s)
		if r.Status != http.StatusAccepted || s.Accepted != tc.accepted || s.Duplicates != tc.dups {
			t.Fatalf("%s: %d %s, want 202 accepted %d duplicates %d", tc.name, r.Status, r.Body, tc.accepted, tc.dups)
		}
		if got := scrapeMetric(t, p.URL, "geotrack_ingest_duplicate_conflicts_total"); got != tc.conflictsMetric {
			t.Fatalf("%s: geotrack_ingest_duplicate_conflicts_total = %g, want %g", tc.name, got, tc.conflictsMetric)
		}
	}
	client := openRedis(t, rs.URL)
	h, err := redisstore.New(client, redisstore.Options{}).History(context.Background(), faultTenant, "dup-dev", time.Time{}, time.Time{}, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Fixes) != 2 || h.Fixes[0].Lat != 48.85 {
		t.Fatalf("history = %+v, want the first delivery of ev-1 and ev-2", h.Fixes)
	}
	p.stop(t) // the logs are complete once the process is gone
	warnings := 0
	for _, rec := range logRecords(t, p) {
		if rec["msg"] == "duplicate event id with different data: not stored; the producer reuses CloudEvent ids" {
			if rec["level"] != "WARN" || rec["ce_source"] != "urn:producer" || rec["ce_id"] != "ev-1" {
				t.Errorf("conflict log line: %v", rec)
			}
			warnings++
		}
	}
	if warnings != 2 {
		t.Fatalf("%d conflict warnings logged, want 2", warnings)
	}
}

// scrapeMetric reads one unlabelled sample from a function's /metrics.
func scrapeMetric(t *testing.T, baseURL, name string) float64 {
	t.Helper()
	r := call(t, http.MethodGet, baseURL+"/metrics", "", nil, nil)
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("%s not in /metrics:\n%s", name, r.Body)
	return 0
}

// logRecords decodes a stopped function's JSON log lines.
func logRecords(t *testing.T, p *proc) []map[string]any {
	t.Helper()
	select {
	case <-p.done:
	default:
		t.Fatal("logRecords: stop the process first")
	}
	var recs []map[string]any
	for _, line := range strings.Split(p.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			recs = append(recs, rec)
		}
	}
	return recs
}
