package eventoutbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// fakeSink records what it acknowledged; fail decides, per event, whether
// to refuse it (nil = accept).
type fakeSink struct {
	mu   sync.Mutex
	got  []event.Event
	fail func(e event.Event) error
}

func (s *fakeSink) Send(_ context.Context, e event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(e); err != nil {
			return err
		}
	}
	s.got = append(s.got, e)
	return nil
}
func (s *fakeSink) Close() error { return nil }

func (s *fakeSink) events() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Event(nil), s.got...)
}

func (s *fakeSink) setFail(f func(e event.Event) error) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func setup(t *testing.T) (redis.UniversalClient, *redisstore.Store) {
	t.Helper()
	r := testenv.StartRedis(t)
	client, err := redisstore.Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client, redisstore.New(client, redisstore.Options{})
}

var base = time.Now().UTC().Truncate(time.Second).Add(-time.Hour)

// store saves one fix per device and call, announcing each.
func store(t *testing.T, s *redisstore.Store, tenant string, devices, perDevice int) {
	t.Helper()
	for i := 0; i < perDevice; i++ {
		for d := 0; d < devices; d++ {
			f := fix.Fix{Device: "dev-" + strconv.Itoa(d), TS: base.Add(time.Duration(i) * time.Second), Lat: 1, Lon: 1}
			ann := &redisstore.Announce{Type: events.TypeLocationUpdated, Source: "urn:test", TraceParent: "tp"}
			if _, err := s.Save(context.Background(), tenant, []redisstore.Group{{Fixes: []fix.Fix{f}, Announce: ann}}, base.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func depth(t *testing.T, c redis.UniversalClient, tenant string) int64 {
	t.Helper()
	n, err := c.XLen(context.Background(), redisstore.EventOutboxKey("gt", tenant)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fixesOf decodes an event's data.
func fixesOf(t *testing.T, e event.Event) []fix.Fix {
	t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal(e.Data(), &raw); err != nil {
		t.Fatalf("event %s data: %v", e.ID(), err)
	}
	out := make([]fix.Fix, len(raw))
	for i, r := range raw {
		f, err := fix.Decode(r, "")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = f
	}
	return out
}

// checkDelivered asserts that, after dropping repeated ids, every stored
// fix was announced exactly once and each device's fixes arrived in order.
func checkDelivered(t *testing.T, got []event.Event, tenant string, devices, perDevice int) {
	t.Helper()
	seenID := map[string]bool{}
	last := map[string]time.Time{}
	count := map[string]int{}
	for _, e := range got {
		if seenID[e.ID()] {
			continue
		}
		seenID[e.ID()] = true
		if tn, _ := e.Extensions()[events.ExtTenant].(string); tn != tenant || e.Type() != events.TypeLocationUpdated {
			t.Fatalf("event %s: tenant %q type %q", e.ID(), tn, e.Type())
		}
		for _, f := range fixesOf(t, e) {
			if e.ID() != redisstore.EventID(e.Type(), tenant, f.Device, f.TS.UnixMilli()) {
				t.Fatalf("event id %s is not derived from its fix", e.ID())
			}
			if !f.TS.After(last[f.Device]) {
				t.Fatalf("device %s: fix %s after %s: out of order or repeated", f.Device, f.TS, last[f.Device])
			}
			last[f.Device] = f.TS
			count[f.Device]++
		}
	}
	for d := 0; d < devices; d++ {
		if n := count["dev-"+strconv.Itoa(d)]; n != perDevice {
			t.Errorf("dev-%d: %d fixes announced, want %d", d, n, perDevice)
		}
	}
}

func TestRelayDeliversInOrderAndAcks(t *testing.T) {
	client, s := setup(t)
	store(t, s, "acme", 5, 30)
	store(t, s, "beta", 2, 3)
	sink := &fakeSink{}
	r := New(client, sink, Config{Logger: quiet, BatchSize: 7, MaxBatchesPerTenant: 100})
	res, err := r.RunOnce(context.Background())
	if err != nil || res.Delivered != 156 || res.Depth != 156 {
		t.Fatalf("RunOnce = %+v, %v; want 156 delivered", res, err)
	}
	if depth(t, client, "acme") != 0 || depth(t, client, "beta") != 0 {
		t.Fatal("delivered entries were not removed")
	}
	var acme, beta []event.Event
	for _, e := range sink.events() {
		if e.Extensions()[events.ExtTenant] == "acme" {
			acme = append(acme, e)
		} else {
			beta = append(beta, e)
		}
		if e.Source() != "urn:test" || e.Extensions()["traceparent"] != "tp" || e.Subject() == "" {
			t.Fatalf("event attributes: %v", e)
		}
	}
	checkDelivered(t, acme, "acme", 5, 30)
	checkDelivered(t, beta, "beta", 2, 3)
	if st := r.Stats(); st.Depth != 0 || st.OldestAgeSeconds != 0 {
		t.Errorf("stats after draining: %+v", st)
	}
}

// TestRelayKeepsEventsWhileTheSinkIsDown: a failing sink removes nothing;
// a sink failing at random keeps every device's order; after recovery
// every fix is announced once.
func TestRelayKeepsEventsWhileTheSinkIsDown(t *testing.T) {
	client, s := setup(t)
	store(t, s, "acme", 4, 25)
	sink := &fakeSink{}
	sink.setFail(func(event.Event) error { return errors.New("connection refused") })
	r := New(client, sink, Config{Logger: quiet, BatchSize: 10})
	if _, err := r.RunOnce(context.Background()); err == nil {
		t.Fatal("RunOnce with a dead sink succeeded")
	}
	if n := depth(t, client, "acme"); n != 100 {
		t.Fatalf("depth %d after a failed pass, want 100", n)
	}
	if st := r.Stats(); st.Depth != 100 || st.OldestAgeSeconds <= 0 {
		t.Errorf("stats while down: %+v", st)
	}
	calls := 0
	sink.setFail(func(event.Event) error {
		calls++
		if calls%3 == 0 {
			return errors.New("flaky")
		}
		return nil
	})
	for i := 0; i < 200 && depth(t, client, "acme") > 0; i++ {
		_, _ = r.RunOnce(context.Background())
	}
	if n := depth(t, client, "acme"); n != 0 {
		t.Fatalf("depth %d after recovery", n)
	}
	checkDelivered(t, sink.events(), "acme", 4, 25)
}

// TestRelayDeadLettersRefusedAndCorruptEntries: an event the sink refuses
// for good (HTTP 400) and an entry that is not an event go to the
// dead-letter stream; the rest is delivered.
func TestRelayDeadLettersRefusedAndCorruptEntries(t *testing.T) {
	client, s := setup(t)
	store(t, s, "acme", 1, 3)
	key := redisstore.EventOutboxKey("gt", "acme")
	client.XAdd(context.Background(), &redis.XAddArgs{Stream: key, Values: []any{"type", "x"}})
	store(t, s, "acme", 1, 4) // one more fix (the first three are duplicates)
	refused := redisstore.EventID(events.TypeLocationUpdated, "acme", "dev-0", base.Add(time.Second).UnixMilli())
	sink := &fakeSink{fail: func(e event.Event) error {
		if e.ID() == refused {
			return cehttp.NewResult(http.StatusBadRequest, "bad event")
		}
		return nil
	}}
	r := New(client, sink, Config{Logger: quiet})
	res, err := r.RunOnce(context.Background())
	if err != nil || res.Delivered != 3 || res.DeadLettered != 2 {
		t.Fatalf("RunOnce = %+v, %v; want 3 delivered, 2 dead-lettered", res, err)
	}
	dead, err := client.XRange(context.Background(), key+":dead", "-", "+").Result()
	if err != nil || len(dead) != 2 || dead[0].Values["dl_reason"] == "" || dead[1].Values["id"] != refused && dead[0].Values["id"] != refused {
		t.Fatalf("dead letters %v, %v", dead, err)
	}
	if depth(t, client, "acme") != 0 {
		t.Fatal("outbox not empty")
	}
}

// flushSink buffers like NATS: Send queues, Flush confirms.
type flushSink struct {
	fakeSink
	flushErr error
}

func (s *flushSink) Flush(context.Context) error { return s.flushErr }

func TestRelayAcksOnlyFlushedEvents(t *testing.T) {
	client, s := setup(t)
	store(t, s, "acme", 2, 2)
	sink := &flushSink{flushErr: errors.New("nats: connection closed")}
	r := New(client, sink, Config{Logger: quiet})
	if _, err := r.RunOnce(context.Background()); err == nil {
		t.Fatal("a failed flush went unnoticed")
	}
	if depth(t, client, "acme") != 4 {
		t.Fatal("unflushed events were removed")
	}
	sink.flushErr = nil
	if res, err := r.RunOnce(context.Background()); err != nil || res.Delivered != 4 || depth(t, client, "acme") != 0 {
		t.Fatalf("after recovery: %+v, %v", res, err)
	}
}

// TestRelaysShareTheWork: concurrent relays (replicas) deliver everything;
// the per-tenant lock keeps one tenant's outbox with one of them at a time.
func TestRelaysShareTheWork(t *testing.T) {
	client, s := setup(t)
	for i := 0; i < 6; i++ {
		store(t, s, fmt.Sprintf("t%d", i), 3, 10)
	}
	sink := &fakeSink{}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := New(client, sink, Config{Logger: quiet, BatchSize: 5, MaxBatchesPerTenant: 1})
			for j := 0; j < 100; j++ {
				if _, err := r.RunOnce(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	byTenant := map[string][]event.Event{}
	for _, e := range sink.events() {
		tn, _ := e.Extensions()[events.ExtTenant].(string)
		byTenant[tn] = append(byTenant[tn], e)
	}
	for i := 0; i < 6; i++ {
		tn := fmt.Sprintf("t%d", i)
		if depth(t, client, tn) != 0 {
			t.Fatalf("%s not drained", tn)
		}
		checkDelivered(t, byTenant[tn], tn, 3, 10)
	}
}

// TestRunWakesAndStops: Run delivers promptly on Wake, long before its
// poll interval, and returns when its context ends.
func TestRunWakesAndStops(t *testing.T) {
	client, s := setup(t)
	sink := &fakeSink{}
	r := New(client, sink, Config{Logger: quiet, Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	store(t, s, "acme", 1, 1)
	r.Wake("acme")
	testenv.Eventually(t, "a woken relay to deliver", 5*time.Second, func() bool { return len(sink.events()) > 0 })
	if n := len(sink.events()); n != 1 {
		t.Fatalf("a woken relay delivered %d events, want 1", n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run ignored its context")
	}
}

// TestRunDrainsABacklogWithoutWaitingForAFullPass: a tenant with more
// than its share of a pass (MaxBatchesPerTenant·BatchSize) gets its next
// share in the very next pass, not after Interval: an hour-long Interval
// still drains every tenant, in order per device.
func TestRunDrainsABacklogWithoutWaitingForAFullPass(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		tenants, devices, per int
		batch, share          int
	}{
		{name: "one tenant, one batch a pass", tenants: 1, devices: 3, per: 20, batch: 5, share: 1},
		{name: "three tenants, two batches a pass", tenants: 3, devices: 4, per: 10, batch: 7, share: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, s := setup(t)
			for i := 0; i < tc.tenants; i++ {
				store(t, s, fmt.Sprintf("t%d", i), tc.devices, tc.per)
			}
			sink := &fakeSink{}
			r := New(client, sink, Config{Logger: quiet, Interval: time.Hour, BatchSize: tc.batch, MaxBatchesPerTenant: tc.share})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); r.Run(ctx) }()
			defer func() { cancel(); <-done }()
			want := tc.tenants * tc.devices * tc.per
			testenv.Eventually(t, "every tenant drained within its first full pass's Interval", 10*time.Second, func() bool {
				return len(sink.events()) >= want
			})
			byTenant := map[string][]event.Event{}
			for _, e := range sink.events() {
				tn, _ := e.Extensions()[events.ExtTenant].(string)
				byTenant[tn] = append(byTenant[tn], e)
			}
			for i := 0; i < tc.tenants; i++ {
				tn := fmt.Sprintf("t%d", i)
				testenv.Eventually(t, tn+" acked", 5*time.Second, func() bool { return depth(t, client, tn) == 0 })
				checkDelivered(t, byTenant[tn], tn, tc.devices, tc.per)
			}
		})
	}
}

func TestQueueWritesWhatTheRelayReads(t *testing.T) {
	client, _ := setup(t)
	ctx := context.Background()
	if err := Register(ctx, client, "gt", "acme"); err != nil {
		t.Fatal(err)
	}
	e := Event{Type: "io.geotrack.geofence.entered", Source: "urn:geofence", Subject: "dev-1", ID: "gf-1",
		Time: base, Data: json.RawMessage(`{"zone":"depot"}`)}
	if _, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		Queue(ctx, p, "gt", "acme", e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{}
	if _, err := New(client, sink, Config{Logger: quiet}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := sink.events()
	if len(got) != 1 || got[0].ID() != "gf-1" || got[0].Type() != e.Type || !got[0].Time().Equal(base) ||
		string(got[0].Data()) != `{"zone":"depot"}` || got[0].Subject() != "dev-1" {
		t.Fatalf("delivered %v", got)
	}
}

// FuzzDecode: any stream entry decodes to a valid event or an error, never
// a panic.
func FuzzDecode(f *testing.F) {
	f.Add("io.geotrack.location.updated", "abc", "urn:x", "dev", "1700000000000", "", `[{"a":1}]`)
	f.Add("", "", "", "", "x", "", "")
	f.Fuzz(func(t *testing.T, typ, id, source, subject, ts, trace, data string) {
		m := redis.XMessage{ID: "1-0", Values: map[string]any{
			fieldType: typ, fieldID: id, fieldSource: source, fieldSubject: subject, fieldTime: ts, fieldTrace: trace, fieldData: data,
		}}
		e, err := decode("acme", m, nil)
		if err != nil {
			return
		}
		if e.Validate() != nil || e.ID() != id || !json.Valid(e.Data()) {
			t.Fatalf("decoded an invalid event %v", e)
		}
	})
}

// TestRelayOnCluster: outboxes of tenants on different shards of a real
// Redis Cluster are all delivered (depth reads, locks and dead letters are
// per slot).
func TestRelayOnCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	client, err := redisstore.Open(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s := redisstore.New(client, redisstore.Options{})
	tenants := []string{"acme", "beta", "gamma", "delta", "epsilon"}
	for _, tn := range tenants {
		store(t, s, tn, 2, 5)
	}
	sink := &fakeSink{}
	res, err := New(client, sink, Config{Logger: quiet}).RunOnce(context.Background())
	if err != nil || res.Delivered != 50 {
		t.Fatalf("RunOnce on a cluster = %+v, %v; want 50 delivered", res, err)
	}
	byTenant := map[string][]event.Event{}
	for _, e := range sink.events() {
		tn, _ := e.Extensions()[events.ExtTenant].(string)
		byTenant[tn] = append(byTenant[tn], e)
	}
	for _, tn := range tenants {
		checkDelivered(t, byTenant[tn], tn, 2, 5)
	}
}

// TestRelaySignsEvents: with a Signer every event sent, whichever emitter
// queued it (the hot store's save script, Queue), carries a signature that
// verifies for its tenant; without one, none does.
func TestRelaySignsEvents(t *testing.T) {
	client, s := setup(t)
	ctx := context.Background()
	store(t, s, "acme", 2, 3)
	if err := Register(ctx, client, "gt", "beta"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		Queue(ctx, p, "gt", "beta", Event{Type: "io.geotrack.trip.ended", Source: "urn:geotrack:movement", Subject: "van", ID: "t-1",
			Time: base, Data: json.RawMessage(`{}`)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	signer := auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	sink := &fakeSink{}
	if _, err := New(client, sink, Config{Logger: quiet, Signer: signer}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := sink.events()
	if len(got) != 7 {
		t.Fatalf("%d events delivered, want 7", len(got))
	}
	for _, e := range got {
		tenant, _ := e.Extensions()[events.ExtTenant].(string)
		sig, _ := e.Extensions()[events.ExtSignature].(string)
		if p, err := signer.VerifyEvent(tenant, e.ID(), e.Type(), e.Source(), sig); err != nil || p.Tenant != tenant {
			t.Fatalf("event %s of %s: %v", e.ID(), tenant, err)
		}
	}

	store(t, s, "gamma", 1, 1)
	unsigned := &fakeSink{}
	if _, err := New(client, unsigned, Config{Logger: quiet}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range unsigned.events() {
		if _, ok := e.Extensions()[events.ExtSignature]; ok {
			t.Fatalf("event %s signed without a signer", e.ID())
		}
	}
	if len(unsigned.events()) != 1 {
		t.Fatalf("%d events delivered, want 1", len(unsigned.events()))
	}
}
