package eventoutbox

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// sharedSink records, per event, when it was sent, holding each send a
// moment so that overlapping sends overlap in time, and counts the most
// sends in flight at once.
type sharedSink struct {
	fakeSink
	hold     time.Duration
	mu       sync.Mutex
	inFlight int
	most     int
	gate     map[string]chan struct{} // event id -> closed when it may finish
}

func (s *sharedSink) Send(ctx context.Context, e event.Event) error {
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	gate := s.gate[e.ID()]
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(s.hold)
	return s.fakeSink.Send(ctx, e)
}

// queueShared queues one location event per device group (no subject: it
// covers several devices) and returns their ids in outbox order.
func queueShared(t *testing.T, s *redisstore.Store, groups [][]string) []string {
	t.Helper()
	ctx := context.Background()
	for i, devs := range groups {
		var fixes []fix.Fix
		for _, d := range devs {
			fixes = append(fixes, fix.Fix{Device: d, TS: base.Add(time.Duration(i) * time.Second), Lat: 1, Lon: 1})
		}
		ann := &redisstore.Announce{Type: events.TypeLocationUpdated, Source: "urn:test"}
		if _, err := s.Save(ctx, "acme", []redisstore.Group{{Fixes: fixes, Announce: ann}}, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := s.Client().XRange(ctx, redisstore.EventOutboxKey("gt", "acme"), "-", "+").Result()
	if err != nil || len(entries) != len(groups) {
		t.Fatalf("outbox: %d entries, %v", len(entries), err)
	}
	ids := make([]string, len(entries))
	for i, m := range entries {
		ids[i], _ = m.Values["id"].(string)
		if sub, _ := m.Values["subject"].(string); sub != "" {
			t.Fatalf("event of several devices has subject %q", sub)
		}
	}
	return ids
}

// TestRelaySendsSharedEventsOfDisjointDevicesAtOnce: location events of
// several devices are not barriers: events of disjoint devices go at once
// (the first is held until the second was sent), one sharing a device with
// an earlier event waits for it.
func TestRelaySendsSharedEventsOfDisjointDevicesAtOnce(t *testing.T) {
	client, s := setup(t)
	ids := queueShared(t, s, [][]string{{"a", "b"}, {"c", "d"}, {"a", "c"}})
	second := make(chan struct{})
	sink := &sharedSink{gate: map[string]chan struct{}{ids[0]: second}}
	sink.fail = func(e event.Event) error {
		if e.ID() == ids[1] {
			close(second)
		}
		return nil
	}
	res, err := New(client, sink, Config{Logger: quiet, SendTimeout: 5 * time.Second}).RunOnce(context.Background())
	if err != nil || res.Delivered != 3 {
		t.Fatalf("RunOnce = %+v, %v; want 3 delivered", res, err)
	}
	got := sink.events()
	if len(got) != 3 || got[0].ID() != ids[1] || got[1].ID() != ids[0] || got[2].ID() != ids[2] {
		t.Fatalf("delivered %v; want %s, %s, then %s (it shares devices with both)", got, ids[1], ids[0], ids[2])
	}
}

// TestRelayBoundsSharedEventsInFlight: however many location events of
// disjoint devices are queued, at most ParallelShared are sent at once, each
// on its own (never batched together), in batch mode too; ParallelShared 1
// keeps them one at a time, in outbox order.
func TestRelayBoundsSharedEventsInFlight(t *testing.T) {
	for _, c := range []struct {
		name     string
		parallel int
		batch    bool
	}{{"default", 0, false}, {"three", 3, false}, {"one at a time", 1, false}, {"batch mode", 0, true}} {
		t.Run(c.name, func(t *testing.T) {
			client, s := setup(t)
			var groups [][]string
			for i := 0; i < 8; i++ {
				groups = append(groups, []string{string(rune('a'+2*i)) + "1", string(rune('a'+2*i)) + "2"})
			}
			ids := queueShared(t, s, groups)
			sink := &sharedSink{hold: 30 * time.Millisecond}
			var relaySink events.Sink = sink
			if c.batch {
				relaySink = &batchingSink{sharedSink: sink, max: 10}
			}
			res, err := New(client, relaySink, Config{Logger: quiet, ParallelShared: c.parallel}).RunOnce(context.Background())
			if err != nil || res.Delivered != len(ids) {
				t.Fatalf("RunOnce = %+v, %v", res, err)
			}
			want := c.parallel
			if want == 0 {
				want = DefaultParallelShared
			}
			if sink.most != want {
				t.Errorf("%d sent at once, want %d", sink.most, want)
			}
			if b, ok := relaySink.(*batchingSink); ok && b.batches != 0 {
				t.Errorf("%d batch requests, want each shared event on its own", b.batches)
			}
			if c.parallel == 1 {
				for i, e := range sink.events() {
					if e.ID() != ids[i] {
						t.Fatalf("one at a time: %d-th sent %s, want %s", i, e.ID(), ids[i])
					}
				}
			}
		})
	}
}

// batchingSink is a sink in batch mode over a sharedSink; it counts the
// batch requests it was asked for.
type batchingSink struct {
	*sharedSink
	max     int
	batches int
}

func (b *batchingSink) MaxBatch() int { return b.max }

func (b *batchingSink) SendBatch(ctx context.Context, es []event.Event) error {
	b.batches++
	for _, e := range es {
		if err := b.sharedSink.Send(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
