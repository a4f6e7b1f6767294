package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// outageFor is how long the sink is down under load. The issue measured
// 30 s; 10 s keeps the suite short and is still far beyond every retry
// inside one delivery (EVENT_RELAY_TIMEOUT, 5 s by default, and the HTTP
// sink's own five tries), so the relay must keep the events across many
// failed passes and backoffs.
const outageFor = 10 * time.Second

// delivery is what reached the sink: one event id and the fixes it
// announces as "device|ts".
type delivery struct {
	id    string
	fixes []string
}

// deliveries collects what a sink received, safe for concurrent use.
type deliveries struct {
	mu  sync.Mutex
	got []delivery
}

func (d *deliveries) add(id string, data []byte) error {
	var fixes []point
	if err := json.Unmarshal(data, &fixes); err != nil {
		return fmt.Errorf("event %s data %s: %w", id, data, err)
	}
	keys := make([]string, len(fixes))
	for i, f := range fixes {
		keys[i] = f.Device + "|" + f.TS
	}
	d.mu.Lock()
	d.got = append(d.got, delivery{id, keys})
	d.mu.Unlock()
	return nil
}

func (d *deliveries) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got)
}

// check compares the deliveries, after dropping repeated event ids, with
// the stored fixes: each exactly once. It returns "" when they match, else
// what differs; and how many repeats were dropped.
func (d *deliveries) check(stored map[string]bool) (string, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := map[string]bool{}
	seen := map[string]int{}
	repeats := 0
	for _, del := range d.got {
		if ids[del.id] {
			repeats++
			continue
		}
		ids[del.id] = true
		for _, k := range del.fixes {
			seen[k]++
		}
	}
	var problems []string
	missing := 0
	for k := range stored {
		if seen[k] == 0 {
			missing++
		}
	}
	if missing > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d stored fixes never announced", missing, len(stored)))
	}
	for k, n := range seen {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("fix %s announced by %d distinct events", k, n))
		}
		if !stored[k] {
			problems = append(problems, fmt.Sprintf("fix %s announced but not stored", k))
		}
		if len(problems) > 10 {
			break
		}
	}
	return strings.Join(problems, "; "), repeats
}

// sinkLoad posts one fix per device every interval until stop is closed and
// records the fixes ingest stored (canonical ts as ingest writes it). Any
// answer other than 202 is recorded as a failure: ingest must not fail
// because of the sink.
type sinkLoad struct {
	mu       sync.Mutex
	stored   map[string]bool
	failures []string
	requests atomic.Int64
}

func runLoad(t *testing.T, url, tok string, devices int, interval time.Duration, stop <-chan struct{}) (*sinkLoad, *sync.WaitGroup) {
	t.Helper()
	l := &sinkLoad{stored: map[string]bool{}}
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for d := 0; d < devices; d++ {
		wg.Add(1)
		go func(device string) {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				ts := time.Now().UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
				body := fmt.Sprintf(`{"device":%q,"ts":%q,"lat":51.5,"lon":-0.12,"speed":3.5}`, device, ts)
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				l.requests.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					l.fail(fmt.Sprintf("%s %s: %v", device, ts, err))
					continue
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var s summary
				if resp.StatusCode != http.StatusAccepted || json.Unmarshal(data, &s) != nil || s.Accepted != 1 {
					l.fail(fmt.Sprintf("%s %s: %d %s", device, ts, resp.StatusCode, data))
					continue
				}
				l.mu.Lock()
				l.stored[device+"|"+ts] = true
				l.mu.Unlock()
			}
		}(fmt.Sprintf("ob-%d", d))
	}
	return l, &wg
}

func (l *sinkLoad) fail(msg string) {
	l.mu.Lock()
	l.failures = append(l.failures, msg)
	l.mu.Unlock()
}

func (l *sinkLoad) snapshot() (map[string]bool, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stored := make(map[string]bool, len(l.stored))
	for k := range l.stored {
		stored[k] = true
	}
	return stored, append([]string(nil), l.failures...)
}

// tcpProxy forwards a port to a target; down closes the listener and every
// connection (the sink is unreachable), up listens again on the same port.
type tcpProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), conns: map[net.Conn]bool{}}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // the port may linger briefly after down
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(u, c); u.Close(); c.Close() }()
	_, _ = io.Copy(c, u)
	u.Close()
	c.Close()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// receiver is an HTTP event sink (a Knative broker's role) on a fixed port
// that can be taken down and brought back, and made slow.
type receiver struct {
	URL   string
	addr  string
	got   *deliveries
	delay atomic.Int64 // per request, ns
	srv   *http.Server
	mu    sync.Mutex
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), got: &deliveries{}}
	r.URL = "http://" + r.addr
	r.up(t)
	t.Cleanup(r.down)
	return r
}

func (r *receiver) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("receiver listen %s: %v", r.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		time.Sleep(time.Duration(r.delay.Load()))
		if req.Header.Get("Ce-Type") != events.TypeLocationUpdated || req.Header.Get("Ce-Id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := r.got.add(req.Header.Get("Ce-Id"), body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (r *receiver) down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		r.srv.Close()
		r.srv = nil
	}
}

// metric reads one unlabelled sample from a function's /metrics.
func metric(t *testing.T, baseURL, name string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("metric %s not exposed", name)
	return 0
}

func outboxDepth(t *testing.T, c redis.UniversalClient, tenant string) int64 {
	t.Helper()
	n, err := c.XLen(context.Background(), redisstore.EventOutboxKey("gt", tenant)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return n
}

// waitDelivered waits until the deliveries cover the stored fixes.
func waitDelivered(t *testing.T, got *deliveries, stored map[string]bool, c redis.UniversalClient, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		problem, repeats := got.check(stored)
		if problem == "" && outboxDepth(t, c, "acme") == 0 {
			t.Logf("%d stored fixes, %d events delivered (%d repeats dropped by id)", len(stored), got.len(), repeats)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s (outbox depth %d)", within, problem, outboxDepth(t, c, "acme"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOutboxSurvivesSinkOutage: under load from five devices, the event
// sink (a real nats-server behind a proxy that drops it, or an HTTP
// receiver that stops listening) is unreachable for outageFor. Ingest keeps
// answering 202 and stays ready, events pile up in the outbox, and after
// recovery every stored fix is in exactly one delivered location.updated
// (after dropping repeated ids).
func TestOutboxSurvivesSinkOutage(t *testing.T) {
	type sink struct {
		env      map[string]string
		got      *deliveries
		down, up func()
	}
	setups := map[string]func(t *testing.T) sink{
		"nats": func(t *testing.T) sink {
			ns := testenv.StartNATS(t)
			proxy := startProxy(t, ns.Addr)
			got := &deliveries{}
			nc := natsConn(t, ns.URL, "e2e-outbox-consumer") // straight to the server: never down
			if _, err := nc.Subscribe(events.TypeLocationUpdated, func(m *nats.Msg) {
				var e structuredEvent
				if err := json.Unmarshal(m.Data, &e); err != nil {
					t.Errorf("message %s: %v", m.Data, err)
					return
				}
				if err := got.add(e.ID, e.Data); err != nil {
					t.Error(err)
				}
			}); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			return sink{env: map[string]string{"EVENT_SINK": "nats://" + proxy.addr}, got: got,
				down: proxy.down, up: func() { proxy.up(t) }}
		},
		"http": func(t *testing.T) sink {
			r := startReceiver(t)
			return sink{env: map[string]string{"K_SINK": r.URL}, got: r.got, down: r.down, up: func() { r.up(t) }}
		},
	}
	for _, name := range []string{"nats", "http"} {
		t.Run(name, func(t *testing.T) {
			s := setups[name](t)
			rs := testenv.StartRedis(t)
			rc, err := redisstore.Open(rs.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rc.Close() })
			env := map[string]string{"REDIS_URL": rs.URL, "EVENT_RELAY_MAX_BACKOFF": "1s"}
			for k, v := range s.env {
				env[k] = v
			}
			ingest := startFunction(t, "ingest", env)

			stop := make(chan struct{})
			l, wg := runLoad(t, ingest.URL, token(t, "acme", auth.RoleService, ""), 5, 100*time.Millisecond, stop)
			time.Sleep(2 * time.Second)
			s.down()
			time.Sleep(outageFor / 2)
			// Mid-outage: the events wait in the outbox, ingest is ready.
			if d := outboxDepth(t, rc, "acme"); d == 0 {
				t.Error("outbox empty while the sink is down")
			}
			if r := call(t, http.MethodGet, ingest.URL+"/_/ready", "", nil, nil); r.Status != http.StatusOK {
				t.Errorf("/_/ready while only the sink is down: %d %s", r.Status, r.Body)
			}
			if d := metric(t, ingest.URL, "geotrack_event_outbox_depth"); d == 0 {
				t.Error("geotrack_event_outbox_depth is 0 while the sink is down")
			}
			if age := metric(t, ingest.URL, "geotrack_event_outbox_oldest_age_seconds"); age == 0 {
				t.Error("geotrack_event_outbox_oldest_age_seconds is 0 while the sink is down")
			}
			if f := metric(t, ingest.URL, `geotrack_events_failed_total{reason="sink"}`); f == 0 {
				t.Error(`geotrack_events_failed_total{reason="sink"} is 0 while the sink is down`)
			}
			time.Sleep(outageFor / 2)
			s.up()
			time.Sleep(2 * time.Second)
			close(stop)
			wg.Wait()

			stored, failures := l.snapshot()
			if len(failures) > 0 {
				t.Fatalf("%d of %d requests failed while the sink was down, e.g. %v", len(failures), l.requests.Load(), failures[:min(3, len(failures))])
			}
			if len(stored) < 100 {
				t.Fatalf("only %d fixes stored: the load did not run", len(stored))
			}
			waitDelivered(t, s.got, stored, rc, 30*time.Second)
			if n := metric(t, ingest.URL, "geotrack_events_delivered_total"); n == 0 {
				t.Error("geotrack_events_delivered_total is 0")
			}
		})
	}
}

// TestOutboxSurvivesRelayKill: the sink is slow, ingest (whose goroutine is
// the relay) is killed with SIGKILL mid-delivery and started again on the
// same Redis: nothing is lost, and repeats carry the same id.
func TestOutboxSurvivesRelayKill(t *testing.T) {
	r := startReceiver(t)
	r.delay.Store(int64(150 * time.Millisecond))
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	port := testenv.FreePort(t)
	env := map[string]string{"REDIS_URL": rs.URL, "K_SINK": r.URL, "PORT": strconv.Itoa(port), "EVENT_RELAY_MAX_BACKOFF": "1s"}
	ingest := startFunction(t, "ingest", env)
	tok := token(t, "acme", auth.RoleService, "")

	stored := map[string]bool{}
	for i := 0; i < 120; i++ {
		device := fmt.Sprintf("kill-%d", i%4)
		ts := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
		body := fmt.Sprintf(`{"device":%q,"ts":%q,"lat":48.85,"lon":2.29}`, device, ts)
		res := call(t, http.MethodPost, ingest.URL, tok, hdr("Content-Type", "application/json"), []byte(body))
		if res.Status != http.StatusAccepted {
			t.Fatalf("ingest %d: %d %s", i, res.Status, res.Body)
		}
		stored[device+"|"+ts] = true
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.got.len() < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("the relay delivered %d events in 10s", r.got.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ingest.kill()
	if d := outboxDepth(t, rc, "acme"); d == 0 {
		t.Fatal("the outbox was already empty at the kill: nothing was mid-delivery")
	}
	t.Logf("killed with %d events delivered, outbox depth %d", r.got.len(), outboxDepth(t, rc, "acme"))

	startFunction(t, "ingest", env)
	waitDelivered(t, r.got, stored, rc, 60*time.Second)
	// Deliveries are identical when repeated: same id, same data.
	byID := map[string]string{}
	r.got.mu.Lock()
	defer r.got.mu.Unlock()
	for _, d := range r.got.got {
		data := strings.Join(d.fixes, ",")
		if prev, ok := byID[d.id]; ok && !bytes.Equal([]byte(prev), []byte(data)) {
			t.Errorf("event %s delivered twice with different fixes: %s / %s", d.id, prev, data)
		}
		byID[d.id] = data
	}
}

// TestRelayCommandDeliversQueuedEvents: with EVENT_RELAY_DISABLED=true
// ingest only queues; `geotrack relay` (a scheduled job) delivers the queue
// and exits.
func TestRelayCommandDeliversQueuedEvents(t *testing.T) {
	r := startReceiver(t)
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL, "K_SINK": r.URL, "EVENT_RELAY_DISABLED": "true"})
	tok := token(t, "acme", auth.RoleService, "")
	stored := map[string]bool{}
	for i := 0; i < 3; i++ {
		ingestOK(t, &cloud{ingest: ingest}, tok, hdr("Content-Type", "application/json"), fixJSON("cron-1", i, 51.5, -0.1), 1)
		stored["cron-1|"+tsMS(i)] = true
	}
	if d := outboxDepth(t, rc, "acme"); d != 3 {
		t.Fatalf("outbox depth %d with the relay disabled, want 3", d)
	}
	cmd := exec.Command(binary, "relay")
	cmd.Env = append(os.Environ(), "REDIS_URL="+rs.URL, "K_SINK="+r.URL, "LOG_LEVEL=warn")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "delivered 3 events") {
		t.Fatalf("geotrack relay: %v\n%s", err, out)
	}
	if problem, _ := r.got.check(stored); problem != "" || outboxDepth(t, rc, "acme") != 0 {
		t.Fatalf("after geotrack relay: %s (depth %d)", problem, outboxDepth(t, rc, "acme"))
	}
}

// TestDevRoutesEventsThroughTheOutbox: `geotrack dev` keeps routing events
// in process; its router is the relay's sink, so what ingest queues is
// delivered and removed from the outbox.
func TestDevRoutesEventsThroughTheOutbox(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	base := startDev(t, rs.URL, "LOG_LEVEL=info")
	addr := strings.TrimPrefix(base, "http://")
	ingest := &cloud{ingest: &proc{URL: "http://" + addr + "/function/ingest"}}
	ingestOK(t, ingest, token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"), fixJSON("dev-1", 0, 51.5, -0.1), 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := rc.Exists(context.Background(), redisstore.EmittersKey("gt")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 && outboxDepth(t, rc, "acme") == 0 {
			break // queued (the tenant is registered) and delivered
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev: emitters key %d, outbox depth %d after 10s", n, outboxDepth(t, rc, "acme"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The relay counts a delivery just after its ack empties the outbox:
	// wait for the counter rather than read it once.
	var delivered float64
	err = poll.Until(context.Background(), 5*time.Second, 20*time.Millisecond, func(context.Context) error {
		if delivered = metric(t, "http://"+addr, "geotrack_events_delivered_total"); delivered < 1 {
			return fmt.Errorf("geotrack_events_delivered_total = %g", delivered)
		}
		return nil
	})
	if err != nil {
		t.Errorf("dev: %v after the outbox emptied", err)
	}
}

// TestFullOutboxAnswers503: with the sink down and the outbox at
// EVENT_OUTBOX_MAX_LEN, ingest refuses new fixes with 503 (stores nothing,
// so the device's retry is not a duplicate) and stays ready; once the sink
// is back and the relay drained the outbox, the retry is stored.
func TestFullOutboxAnswers503(t *testing.T) {
	r := startReceiver(t)
	r.down()
	rs := testenv.StartRedis(t)
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL, "K_SINK": r.URL,
		"EVENT_OUTBOX_MAX_LEN": "2", "EVENT_RELAY_MAX_BACKOFF": "500ms"})
	c := &cloud{ingest: ingest}
	tok := token(t, "acme", auth.RoleService, "")
	h := hdr("Content-Type", "application/json")
	ingestOK(t, c, tok, h, fixJSON("full-1", 0, 51.5, -0.1), 1)
	ingestOK(t, c, tok, h, fixJSON("full-1", 1, 51.5, -0.1), 1)
	third := []byte(fixJSON("full-1", 2, 51.5, -0.1))
	res := call(t, http.MethodPost, ingest.URL, tok, h, third)
	if res.Status != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), "outbox full") {
		t.Fatalf("ingest into a full outbox: %d %s; want 503 naming the outbox", res.Status, res.Body)
	}
	if rr := call(t, http.MethodGet, ingest.URL+"/_/ready", "", nil, nil); rr.Status != http.StatusOK {
		t.Errorf("/_/ready with a full outbox: %d", rr.Status)
	}
	r.up(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res = call(t, http.MethodPost, ingest.URL, tok, h, third)
		if res.Status == http.StatusAccepted {
			break
		}
		if res.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("retry after the sink came back: %d %s", res.Status, res.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var s summary
	res.JSON(t, &s)
	if s.Accepted != 1 {
		t.Fatalf("the refused fix was not stored on retry: %s", res.Body)
	}
}

// TestEdgeWakeUpNeverHoldsTheDevice: edge-ingest's wake-up of the forwarder
// (its K_SINK) hangs, as when the forwarder was killed mid-request: device
// fixes are still accepted (202, not 503 "handler timeout"), because the
// wake-up is fire-and-forget and the fixes are already in the edge outbox.
func TestEdgeWakeUpNeverHoldsTheDevice(t *testing.T) {
	var wakes atomic.Int32
	release := make(chan struct{})
	hanging := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		wakes.Add(1)
		<-release // never answers while the test runs
	})}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hanging.Serve(ln) }()
	t.Cleanup(func() { close(release); hanging.Close() })

	rs := testenv.StartRedis(t, testenv.WithAppendOnly())
	edge := startFunction(t, "edge-ingest", map[string]string{
		"REDIS_URL": rs.URL, "EDGE_NODE_ID": "site-1", "K_SINK": "http://" + addr, "EXEC_TIMEOUT": "1s",
	})
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	for i := 0; i < 5; i++ {
		body := fmt.Sprintf(`{"device":"w-%d","ts":%q,"lat":51.5,"lon":-0.1}`, i, tsMS(i))
		// Each device's first fix is kept at once (nothing to compare with
		// yet), so every request queues a fix and wakes the forwarder.
		res := call(t, http.MethodPost, edge.URL, token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"), []byte(body))
		if res.Status != http.StatusAccepted {
			t.Fatalf("fix %d with a hanging wake-up: %d %s", i, res.Status, res.Body)
		}
	}
	if wakes.Load() == 0 {
		t.Fatal("edge-ingest never tried to wake the forwarder: the test proves nothing")
	}
	if n, err := rc.XLen(context.Background(), "gt:{edge}:outbox").Result(); err != nil || n == 0 {
		t.Fatalf("edge outbox length %d, %v: the fixes were not queued", n, err)
	}
}

// TestNoSinkQueuesNothing: without EVENT_SINK or K_SINK nothing would drain
// an outbox, so ingest queues nothing (no unbounded growth).
func TestNoSinkQueuesNothing(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL})
	ingestOK(t, &cloud{ingest: ingest}, token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"),
		"["+fixJSON("ns-1", 0, 51.5, -0.1)+","+fixJSON("ns-1", 1, 51.5, -0.1)+"]", 2)
	n, err := rc.Exists(context.Background(), redisstore.EventOutboxKey("gt", "acme"), redisstore.EmittersKey("gt")).Result()
	if err != nil || n != 0 {
		t.Fatalf("without a sink %d outbox keys exist (%v), want none", n, err)
	}
}
