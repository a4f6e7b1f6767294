package eventoutbox

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// batchReceiver is a geotrack function's front door: it takes binary and
// batch-mode deliveries through events.AuthenticateDelivery (so each event
// of a batch must carry its own valid signature) and records what it took
// with a 2xx; refuse decides a request's status from its events (0: take).
type batchReceiver struct {
	signer   *auth.EventSigner
	mu       sync.Mutex
	got      []event.Event
	requests map[events.Mode]int
	refuse   func(envs []events.Envelope) int
	subjects [][]string // of each request taken, in order
}

func (b *batchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, envs, err := events.AuthenticateDelivery(r.Context(), nil, b.signer, handler.Request{Header: r.Header, Body: body}, r.URL.Query(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuse != nil {
		if status := b.refuse(envs); status != 0 {
			http.Error(w, "refused", status)
			return
		}
	}
	b.requests[envs[0].Mode]++
	subjects := make([]string, len(envs))
	for i, env := range envs {
		subjects[i] = env.Subject
	}
	b.subjects = append(b.subjects, subjects)
	for _, env := range envs {
		e := event.New()
		e.SetID(env.ID)
		e.SetType(env.Type)
		e.SetSource(env.Source)
		e.SetSubject(env.Subject)
		e.SetExtension(events.ExtTenant, env.Tenant)
		_ = e.SetData(env.ContentType, env.Data)
		e.DataEncoded = env.Data
		b.got = append(b.got, e)
	}
	w.WriteHeader(http.StatusAccepted)
}

func (b *batchReceiver) events() []event.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]event.Event(nil), b.got...)
}

func newBatchSink(t *testing.T, recv *batchReceiver, batch int) events.Sink {
	t.Helper()
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	sink, err := events.NewSink(events.SinkConfig{EventSink: srv.URL, EventSinkBatch: batch})
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

func hasID(envs []events.Envelope, id string) bool {
	for _, env := range envs {
		if env.ID == id {
			return true
		}
	}
	return false
}

func TestRelayDeliversSignedBatchesInOrder(t *testing.T) {
	signer := auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	tests := []struct {
		name             string
		batch            int
		wantBatchMode    bool
		devices, perDev  int
		relayParallelism int
	}{
		{name: "batch of 10, many devices", batch: 10, wantBatchMode: true, devices: 7, perDev: 20, relayParallelism: 3},
		{name: "batch of 1000, one lane", batch: 1000, wantBatchMode: true, devices: 3, perDev: 10, relayParallelism: 1},
		{name: "off: one event per request", batch: 0, devices: 3, perDev: 4, relayParallelism: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, s := setup(t)
			store(t, s, "acme", tc.devices, tc.perDev)
			recv := &batchReceiver{signer: signer, requests: map[events.Mode]int{}}
			r := New(client, newBatchSink(t, recv, tc.batch), Config{Logger: quiet, Signer: signer, BatchSize: 50,
				MaxBatchesPerTenant: 100, Parallel: tc.relayParallelism})
			res, err := r.RunOnce(context.Background())
			want := tc.devices * tc.perDev
			if err != nil || res.Delivered != want {
				t.Fatalf("RunOnce = %+v, %v; want %d delivered", res, err, want)
			}
			if depth(t, client, "acme") != 0 {
				t.Fatal("delivered entries were not removed")
			}
			checkDelivered(t, recv.events(), "acme", tc.devices, tc.perDev)
			if tc.wantBatchMode {
				if recv.requests[events.ModeBatch] == 0 || recv.requests[events.ModeBatch] >= want {
					t.Errorf("requests by mode %v for %d events: want batches", recv.requests, want)
				}
			} else if recv.requests[events.ModeBatch] != 0 || recv.requests[events.ModeBinary] != want {
				t.Errorf("requests by mode %v; want %d binary, no batch", recv.requests, want)
			}
		})
	}
}

// TestRelayBatchesSeveralDevicesPerRequest: in batch mode a read of
// per-device events goes out as one request per EVENT_SINK_BATCH events
// (each holding many devices' events), not one request per lane of
// devices; each device's events still arrive in order.
func TestRelayBatchesSeveralDevicesPerRequest(t *testing.T) {
	signer := auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	tests := []struct {
		name                       string
		devices, perDev            int
		read, batch                int
		minRequests, maxRequests   int
		wantSeveralDevicesPerBatch bool
	}{
		{name: "a read within one batch: one request per read", devices: 50, perDev: 4, read: 100, batch: 100,
			minRequests: 2, maxRequests: 2, wantSeveralDevicesPerBatch: true},
		{name: "batch larger than the read", devices: 30, perDev: 3, read: 45, batch: 1000,
			minRequests: 2, maxRequests: 2, wantSeveralDevicesPerBatch: true},
		{name: "a read of four batches: four lanes, a request or two each", devices: 50, perDev: 2, read: 100, batch: 25,
			minRequests: 4, maxRequests: 8, wantSeveralDevicesPerBatch: true},
		{name: "one device: its events in order, batch by batch", devices: 1, perDev: 30, read: 100, batch: 7,
			minRequests: 5, maxRequests: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, s := setup(t)
			store(t, s, "acme", tc.devices, tc.perDev)
			recv := &batchReceiver{signer: signer, requests: map[events.Mode]int{}}
			r := New(client, newBatchSink(t, recv, tc.batch), Config{Logger: quiet, Signer: signer, BatchSize: tc.read,
				MaxBatchesPerTenant: 100})
			res, err := r.RunOnce(context.Background())
			want := tc.devices * tc.perDev
			if err != nil || res.Delivered != want {
				t.Fatalf("RunOnce = %+v, %v; want %d delivered", res, err, want)
			}
			checkDelivered(t, recv.events(), "acme", tc.devices, tc.perDev)
			if n := len(recv.subjects); n < tc.minRequests || n > tc.maxRequests {
				t.Errorf("%d requests for %d events read %d at a time in batches of %d; want %d to %d",
					n, want, tc.read, tc.batch, tc.minRequests, tc.maxRequests)
			}
			several := false
			for i, subjects := range recv.subjects {
				if len(subjects) > tc.batch {
					t.Errorf("request %d holds %d events; EVENT_SINK_BATCH is %d", i, len(subjects), tc.batch)
				}
				distinct := map[string]bool{}
				for _, s := range subjects {
					distinct[s] = true
				}
				several = several || len(distinct) > 1
			}
			if several != tc.wantSeveralDevicesPerBatch {
				t.Errorf("a request holding several devices' events: %v, want %v", several, tc.wantSeveralDevicesPerBatch)
			}
		})
	}
}

// TestRelayBatchFailureAcksNothingBeyondIt: a batch the sink fails (503)
// leaves its events, and the same devices' later events, queued; once the
// sink heals everything arrives once, in order per device.
func TestRelayBatchFailureAcksNothingBeyondIt(t *testing.T) {
	client, s := setup(t)
	store(t, s, "acme", 4, 10)
	signer := auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	recv := &batchReceiver{signer: signer, requests: map[events.Mode]int{}}
	sink := newBatchSink(t, recv, 5)
	r := New(client, sink, Config{Logger: quiet, Signer: signer, BatchSize: 40, Parallel: 2})
	entries, err := client.XRange(context.Background(), redisstore.EventOutboxKey("gt", "acme"), "-", "+").Result()
	if err != nil || len(entries) != 40 {
		t.Fatalf("outbox: %d entries, %v", len(entries), err)
	}
	failing, ok := entries[13].Values["id"].(string)
	if !ok {
		t.Fatalf("entry without id: %v", entries[13].Values)
	}
	recv.refuse = func(envs []events.Envelope) int {
		if hasID(envs, failing) {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	if _, err := r.RunOnce(context.Background()); err == nil {
		t.Fatal("RunOnce succeeded with a failing batch")
	}
	for _, e := range recv.events() {
		if e.ID() == failing {
			t.Fatal("the failing event was recorded")
		}
	}
	left := depth(t, client, "acme")
	if left == 0 || left > 40-int64(len(recv.events())) {
		t.Fatalf("%d entries left after %d received: want the failed ones and only unreceived ones", left, len(recv.events()))
	}
	still, err := client.XRange(context.Background(), redisstore.EventOutboxKey("gt", "acme"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !queued(still, failing) {
		t.Fatal("the failed event was acked")
	}
	recv.mu.Lock()
	recv.refuse = nil
	recv.mu.Unlock()
	if _, err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if depth(t, client, "acme") != 0 {
		t.Fatal("entries left after the sink healed")
	}
	checkDelivered(t, recv.events(), "acme", 4, 10)
}

// TestRelayBatchRefusedDeadLettersOnlyTheBadEvent: a batch refused (400) is
// resent one event at a time, so only the event the sink refuses is
// dead-lettered.
func TestRelayBatchRefusedDeadLettersOnlyTheBadEvent(t *testing.T) {
	client, s := setup(t)
	store(t, s, "acme", 3, 4)
	signer := auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	recv := &batchReceiver{signer: signer, requests: map[events.Mode]int{}}
	entries, err := client.XRange(context.Background(), redisstore.EventOutboxKey("gt", "acme"), "-", "+").Result()
	if err != nil || len(entries) != 12 {
		t.Fatalf("outbox: %d entries, %v", len(entries), err)
	}
	bad, _ := entries[5].Values["id"].(string)
	recv.refuse = func(envs []events.Envelope) int {
		if hasID(envs, bad) {
			return http.StatusBadRequest
		}
		return 0
	}
	r := New(client, newBatchSink(t, recv, 4), Config{Logger: quiet, Signer: signer})
	res, err := r.RunOnce(context.Background())
	if err != nil || res.Delivered != 11 || res.DeadLettered != 1 {
		t.Fatalf("RunOnce = %+v, %v; want 11 delivered, 1 dead-lettered", res, err)
	}
	dead, err := client.XRange(context.Background(), redisstore.EventOutboxKey("gt", "acme")+":dead", "-", "+").Result()
	if err != nil || len(dead) != 1 || dead[0].Values["id"] != bad || dead[0].Values["dl_status"] != "400" {
		t.Fatalf("dead letters %v, %v; want %s with status 400", dead, err, bad)
	}
	if depth(t, client, "acme") != 0 {
		t.Fatal("entries left")
	}
}

func queued(entries []redis.XMessage, id string) bool {
	for _, m := range entries {
		if m.Values["id"] == id {
			return true
		}
	}
	return false
}
