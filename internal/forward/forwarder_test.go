package forward

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

func TestRunOnceDeliversAndAcks(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, nil)
	f := e.forwarder(t, c, nil)
	in := append(makeFixes("car-1", 0, 700), makeFixes("car-2", 0, 500)...)
	e.append(t, "acme", in)

	res, err := f.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res != (Result{Sent: 1200, Batches: 3, Backlog: 0}) {
		t.Errorf("Result = %+v, want 1200 sent in 3 batches, no backlog", res)
	}
	c.requireStoredExactly(t, in)
	if d := e.depth(t); d != 0 {
		t.Errorf("outbox depth %d after delivery, want 0", d)
	}
	reqs := c.received()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	idPattern := regexp.MustCompile(`^edge-1-\d+-\d+-\d+-\d+$`)
	wantSubjects := []any{"car-1", nil, "car-2"} // the middle batch mixes both devices
	for i, r := range reqs {
		if !idPattern.MatchString(r.ID) {
			t.Errorf("request %d: id %q, want edge-1-<first>-<last>", i, r.ID)
		}
		if r.Event["source"] != "urn:geotrack:edge:edge-1" || r.Tenant != "acme" {
			t.Errorf("request %d: source %v tenant %q", i, r.Event["source"], r.Tenant)
		}
		if r.Event["subject"] != wantSubjects[i] {
			t.Errorf("request %d: subject %v, want %v", i, r.Event["subject"], wantSubjects[i])
		}
		if !regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`).MatchString(r.Traceparent) {
			t.Errorf("request %d: traceparent %q", i, r.Traceparent)
		}
	}
	m := f.Metrics()
	if m.SentTotal != 1200 || m.Backlog != 0 || m.FailuresTotal != 0 || m.LastSuccess.IsZero() {
		t.Errorf("Metrics = %+v", m)
	}
	// Nothing left: a second run sends nothing.
	if res, err := f.RunOnce(context.Background()); err != nil || res.Sent != 0 || len(c.received()) != 3 {
		t.Errorf("second RunOnce = %+v, %v; requests %d", res, err, len(c.received()))
	}
}

func TestOneTenantPerEvent(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, nil)
	f := e.forwarder(t, c, nil)
	a1, b, a2 := makeFixes("d1", 0, 3), makeFixes("d2", 0, 2), makeFixes("d1", 3, 4)
	e.append(t, "acme", a1)
	e.append(t, "globex", b)
	e.append(t, "acme", a2)
	if _, err := f.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.received() {
		got = append(got, fmt.Sprintf("%s:%d", r.Tenant, len(r.Fixes)))
	}
	if want := "acme:3 globex:2 acme:4"; strings.Join(got, " ") != want {
		t.Errorf("events %v, want %s", got, want)
	}
}

func TestMaxBatchesPerRun(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, nil)
	f := e.forwarder(t, c, func(cfg *Config) { cfg.BatchSize = 10; cfg.MaxBatchesPerRun = 2 })
	e.append(t, "acme", makeFixes("d1", 0, 25))
	res, err := f.RunOnce(context.Background())
	if err != nil || res != (Result{Sent: 20, Batches: 2, Backlog: 5, More: true}) {
		t.Fatalf("RunOnce = %+v, %v; want 20 sent, 5 left, More", res, err)
	}
	res, err = f.RunOnce(context.Background())
	if err != nil || res != (Result{Sent: 5, Batches: 1, Backlog: 0}) {
		t.Fatalf("second RunOnce = %+v, %v", res, err)
	}
}

// The cloud answers 503 for a while: nothing is acked, nothing lost; then
// everything drains, each fix stored once.
func TestAckOnlyAfter2xx(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, func(n int, ev *received) action {
		if n < 3 {
			return action{status: 503, body: "overloaded", header: map[string]string{"Retry-After": "7"}}
		}
		return accept()
	})
	f := e.forwarder(t, c, nil)
	in := makeFixes("d1", 0, 1100)
	e.append(t, "acme", in)
	for i := range 3 {
		res, err := f.RunOnce(context.Background())
		var re *RetryableError
		if !errors.As(err, &re) || re.Status != 503 || re.RetryAfter.Seconds() != 7 {
			t.Fatalf("run %d: err = %v, want retryable 503 with Retry-After 7s", i, err)
		}
		if res.Sent != 0 || res.Backlog != 1100 {
			t.Fatalf("run %d: %+v, want nothing sent and the whole backlog kept", i, res)
		}
	}
	if m := f.Metrics(); m.FailuresTotal != 3 || m.Backlog != 1100 || m.OldestAgeSeconds < 0 {
		t.Errorf("Metrics = %+v, want 3 failures, backlog 1100", m)
	}
	res, err := f.RunOnce(context.Background())
	if err != nil || res.Sent != 1100 || res.Backlog != 0 {
		t.Fatalf("RunOnce after recovery = %+v, %v", res, err)
	}
	c.requireStoredExactly(t, in)
}

func TestResponseStatuses(t *testing.T) {
	tests := []struct {
		status   int
		wantDead bool
	}{
		{400, true}, {410, true}, {413, true}, {422, true},
		{401, false}, {403, false}, {404, false}, {408, false}, {429, false},
		{500, false}, {502, false}, {503, false}, {504, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			e := startEdge(t)
			c := newCloud(t, func(int, *received) action {
				return action{status: tt.status, body: `{"error":"nope"}`}
			})
			f := e.forwarder(t, c, nil)
			in := makeFixes("d1", 0, 4)
			e.append(t, "acme", in)
			res, err := f.RunOnce(context.Background())
			dead, derr := e.ob.DeadLetters(context.Background(), 10)
			if derr != nil {
				t.Fatal(derr)
			}
			if !tt.wantDead {
				var re *RetryableError
				if !errors.As(err, &re) || re.Status != tt.status {
					t.Fatalf("err = %v, want RetryableError with status %d", err, tt.status)
				}
				if len(dead) != 0 || res.Backlog != 4 || e.depth(t) != 4 {
					t.Errorf("%d dead letters, backlog %d: want the batch kept", len(dead), res.Backlog)
				}
				return
			}
			if err != nil {
				t.Fatalf("RunOnce: %v (a rejected batch is dead-lettered, the run goes on)", err)
			}
			if len(dead) != len(in) || res.Dead != len(in) || e.depth(t) != 0 {
				t.Fatalf("%d dead letters (res.Dead %d), depth %d: want all %d", len(dead), res.Dead, e.depth(t), len(in))
			}
			for i, d := range dead {
				if d.Status != tt.status || d.Body != `{"error":"nope"}` || !strings.Contains(d.Reason, "rejected") ||
					!strings.Contains(d.Fix, fix.FormatTime(in[i].TS)) || d.Tenant != "acme" {
					t.Errorf("dead letter %d = %+v", i, d)
				}
			}
			if m := f.Metrics(); m.DeadLetteredTotal != 4 || m.DeadLetters != 4 {
				t.Errorf("Metrics = %+v, want 4 dead-lettered", m)
			}
		})
	}
}

// One fix the cloud refuses must not take its batch-mates with it.
func TestPoisonFixIsolated(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, func(_ int, ev *received) action {
		for _, f := range ev.Fixes {
			if f.Device == "poison" {
				return action{status: 400, body: "device poison is banned"}
			}
		}
		return accept()
	})
	f := e.forwarder(t, c, func(cfg *Config) { cfg.BatchSize = 100 })
	good1, bad, good2 := makeFixes("d1", 0, 137), makeFixes("poison", 0, 1), makeFixes("d1", 137, 200)
	e.append(t, "acme", good1)
	e.append(t, "acme", bad)
	e.append(t, "acme", good2)
	res, err := f.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if res.Sent != 337 || res.Dead != 1 || res.Backlog != 0 {
		t.Errorf("Result = %+v, want 337 sent, 1 dead", res)
	}
	c.requireStoredExactly(t, append(good1, good2...))
	dead, err := e.ob.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || !strings.Contains(dead[0].Fix, `"device":"poison"`) || dead[0].Status != 400 ||
		dead[0].Body != "device poison is banned" {
		t.Errorf("dead letters = %+v, want the poison fix with the cloud's answer", dead)
	}
}

// The connection drops after the cloud stored the batch: the forwarder
// resends the same event, which the cloud deduplicates.
func TestDroppedConnection(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, func(n int, ev *received) action {
		switch n {
		case 0:
			return action{drop: true} // lost before storing
		case 1:
			return action{store: true, drop: true} // stored, answer lost
		}
		return accept()
	})
	f := e.forwarder(t, c, nil)
	in := makeFixes("d1", 0, 300)
	e.append(t, "acme", in)
	for i := range 2 {
		_, err := f.RunOnce(context.Background())
		var re *RetryableError
		if !errors.As(err, &re) || re.Status != 0 {
			t.Fatalf("run %d: err = %v, want a retryable network error", i, err)
		}
	}
	if _, err := f.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	c.requireStoredExactly(t, in)
	reqs := c.received()
	if len(reqs) != 3 || reqs[0].ID != reqs[1].ID || reqs[1].ID != reqs[2].ID {
		t.Errorf("want 3 sends of one event id, got %d", len(reqs))
	}
	if c.dupByID != 1 {
		t.Errorf("cloud deduplicated %d events by id, want 1", c.dupByID)
	}
	if m := f.Metrics(); m.FailuresTotal != 2 {
		t.Errorf("FailuresTotal = %d, want 2", m.FailuresTotal)
	}
}

// Crash safety: the caller's context ends in the middle of a send the cloud
// has already stored; the next run resends the very same event (same id,
// same body) and the cloud ends with every fix exactly once.
func TestCancelMidSendResendsSameEvent(t *testing.T) {
	e := startEdge(t)
	arrived := make(chan struct{})
	never := make(chan struct{})
	c := newCloud(t, func(n int, ev *received) action {
		if n == 0 {
			return action{store: true, arrived: arrived, block: never}
		}
		return accept()
	})
	f := e.forwarder(t, c, func(cfg *Config) { cfg.BatchSize = 250 })
	in := makeFixes("d1", 0, 600)
	e.append(t, "acme", in)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.RunOnce(ctx)
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunOnce after cancel: %v, want context.Canceled", err)
	}
	if d := e.depth(t); d != 600 {
		t.Fatalf("depth %d after the interrupted send, want 600 (nothing acked)", d)
	}

	res, err := f.RunOnce(context.Background())
	if err != nil || res.Sent != 600 {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}
	reqs := c.received()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4 (1 interrupted + 3)", len(reqs))
	}
	if reqs[0].ID != reqs[1].ID {
		t.Errorf("resent batch has id %s, the interrupted one %s: want the same", reqs[1].ID, reqs[0].ID)
	}
	if fmt.Sprint(reqs[0].Event) != fmt.Sprint(reqs[1].Event) {
		t.Errorf("resent event differs from the interrupted one")
	}
	c.requireStoredExactly(t, in)
	if c.dupByID != 1 {
		t.Errorf("cloud deduplicated %d events by id, want 1", c.dupByID)
	}
}

// The outbox survives a Redis crash (AOF) in the middle of forwarding.
func TestRedisRestartMidway(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, nil)
	f := e.forwarder(t, c, func(cfg *Config) { cfg.BatchSize = 100; cfg.MaxBatchesPerRun = 3 })
	in := makeFixes("d1", 0, 1000)
	e.append(t, "acme", in)
	if res, err := f.RunOnce(context.Background()); err != nil || res.Sent != 300 {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}
	e.srv.Kill()
	res, err := f.RunOnce(context.Background())
	var re *RetryableError
	if !errors.As(err, &re) || res.Sent != 0 {
		t.Fatalf("RunOnce with Redis down = %+v, %v; want a retryable error", res, err)
	}
	e.srv.Restart(t)
	if d := e.depth(t); d != 700 {
		t.Fatalf("depth after restart %d, want 700", d)
	}
	for e.depth(t) > 0 {
		if _, err := f.RunOnce(context.Background()); err != nil {
			t.Fatalf("RunOnce after restart: %v", err)
		}
	}
	c.requireStoredExactly(t, in)
	if c.fixesReceived() != 1000 {
		t.Errorf("cloud received %d fixes, want 1000 (no resend needed)", c.fixesReceived())
	}
}

func TestNewValidatesConfig(t *testing.T) {
	e := startEdge(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no url", Config{NodeID: "n1"}},
		{"no node", Config{URL: "http://127.0.0.1:1"}},
		{"bad node", Config{URL: "http://127.0.0.1:1", NodeID: "a b"}},
		{"negative rate", Config{URL: "http://127.0.0.1:1", NodeID: "n1", RatePerSecond: -1}},
	}
	for _, tt := range tests {
		if _, err := New(e.ob, tt.cfg); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
	f, err := New(e.ob, Config{URL: "http://127.0.0.1:1", NodeID: "n1", BatchSize: 50000, MinBackoff: 2e9, MaxBackoff: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.BatchSize != fix.MaxBatch || f.cfg.MaxBackoff != f.cfg.MinBackoff || f.cfg.LockKey != e.ob.Key()+":lock" {
		t.Errorf("defaults not applied: %+v", f.cfg)
	}
	if http.DefaultClient == f.cfg.HTTPClient {
		t.Error("shares http.DefaultClient")
	}
}

// TestGzipBatches: with Gzip on, large batches go compressed and arrive
// whole; small ones are sent plain.
func TestGzipBatches(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, func(int, *received) action { return accept() })
	f := e.forwarder(t, c, func(cfg *Config) { cfg.Gzip = true; cfg.BatchSize = 200 })
	fixes := makeFixes("gz", 0, 201) // one full batch and one of a single fix
	e.append(t, "acme", fixes)
	if _, err := f.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.requireStoredExactly(t, fixes)
	got := c.received()
	if len(got) != 2 || !got[0].Gzipped || got[1].Gzipped {
		t.Fatalf("want a gzipped batch then a plain one, got %d requests", len(got))
	}
}
