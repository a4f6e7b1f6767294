package eventoutbox

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/forward"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// queueDerived queues perDevice derived events (geofence transitions) for
// each of devices in tenant's outbox of derived events, as the geofence
// state commit does, and returns their ids per device in order.
func queueDerived(t *testing.T, c redis.UniversalClient, tenant string, devices, perDevice int) map[string][]string {
	t.Helper()
	ctx := context.Background()
	if err := Register(ctx, c, "gt", tenant); err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for i := 0; i < perDevice; i++ {
		for d := 0; d < devices; d++ {
			dev := "dev-" + strconv.Itoa(d)
			id := fmt.Sprintf("gf-%s-%d", dev, i)
			err := c.XAdd(ctx, &redis.XAddArgs{Stream: redisstore.DerivedOutboxKey("gt", tenant), Values: []any{
				fieldType, events.TypeGeofenceEntered, fieldID, id, fieldSource, "urn:geotrack:geofence", fieldSubject, dev,
				fieldTime, strconv.FormatInt(base.Add(time.Duration(i)*time.Second).UnixMilli(), 10), fieldTrace, "",
				fieldData, `{"device":"` + dev + `"}`,
			}}).Err()
			if err != nil {
				t.Fatal(err)
			}
			ids[dev] = append(ids[dev], id)
		}
	}
	return ids
}

// gatedSink holds every location event until release is closed (or its
// send's context ends); other events go through at once.
type gatedSink struct {
	fakeSink
	release chan struct{}
}

func (s *gatedSink) Send(ctx context.Context, e event.Event) error {
	if e.Type() == events.TypeLocationUpdated {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.fakeSink.Send(ctx, e)
}

// derivedInOrder reports whether got holds every id of want (per device, in
// order) exactly once.
func derivedInOrder(got []event.Event, want map[string][]string) error {
	next := map[string]int{}
	n := 0
	for _, e := range got {
		if e.Type() == events.TypeLocationUpdated {
			continue
		}
		dev := e.Subject()
		if i := next[dev]; i >= len(want[dev]) || want[dev][i] != e.ID() {
			return fmt.Errorf("device %s: got %s at position %d, want %v", dev, e.ID(), i, want[dev])
		}
		next[dev]++
		n++
	}
	for dev, ids := range want {
		if next[dev] != len(ids) {
			return fmt.Errorf("device %s: %d of %d derived events delivered", dev, next[dev], len(ids))
		}
	}
	return nil
}

// TestDerivedEventsDoNotWaitBehindLocationEvents: the outbox of derived
// events is drained on its own, so its events reach the sink while the
// location outbox is stuck (a receiver still evaluating a location event,
// or another replica holding that outbox's lock), each device's derived
// events in order; once the location outbox moves, everything arrives.
func TestDerivedEventsDoNotWaitBehindLocationEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stall makes the location outbox stuck and returns what unsticks it.
		stall func(t *testing.T, c redis.UniversalClient, sink *gatedSink) (unstall func())
	}{
		{name: "a location event still being received", stall: func(t *testing.T, _ redis.UniversalClient, sink *gatedSink) func() {
			return func() { close(sink.release) }
		}},
		{name: "the location outbox locked by another replica", stall: func(t *testing.T, c redis.UniversalClient, sink *gatedSink) func() {
			close(sink.release)
			lease, err := forward.NewLock(c, redisstore.EventOutboxKey("gt", "acme")+":lock", time.Minute).Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := lease.Release(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, s := setup(t)
			store(t, s, "acme", 3, 4)
			want := queueDerived(t, client, "acme", 5, 6)
			sink := &gatedSink{release: make(chan struct{})}
			unstall := tc.stall(t, client, sink)
			var once sync.Once
			defer once.Do(unstall)
			r := New(client, sink, Config{Logger: quiet, Interval: 50 * time.Millisecond, SendTimeout: time.Minute, BatchSize: 7})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); r.Run(ctx) }()
			defer func() { cancel(); <-done }()

			derivedKey := redisstore.DerivedOutboxKey("gt", "acme")
			testenv.Eventually(t, "the derived outbox drained while the location outbox is stuck", 10*time.Second, func() bool {
				n, _ := client.XLen(ctx, derivedKey).Result()
				return n == 0
			})
			if err := derivedInOrder(sink.events(), want); err != nil {
				t.Fatal(err)
			}
			if n := depth(t, client, "acme"); n != 12 {
				t.Fatalf("location outbox holds %d events while stuck, want 12", n)
			}
			once.Do(unstall)
			testenv.Eventually(t, "the location outbox drained", 10*time.Second, func() bool { return depth(t, client, "acme") == 0 })
			var location []event.Event
			for _, e := range sink.events() {
				if e.Type() == events.TypeLocationUpdated {
					location = append(location, e)
				}
			}
			checkDelivered(t, location, "acme", 3, 4)
			if err := derivedInOrder(sink.events(), want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRunOnceAndStatsCoverBothOutboxes: RunOnce drains the location and the
// derived outbox of every tenant, and the depth gauge counts both.
func TestRunOnceAndStatsCoverBothOutboxes(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		locDevices, locPer         int
		derivedDevices, derivedPer int
	}{
		{name: "both", locDevices: 2, locPer: 3, derivedDevices: 4, derivedPer: 2},
		{name: "derived only", derivedDevices: 3, derivedPer: 3},
		{name: "location only", locDevices: 2, locPer: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, s := setup(t)
			if tc.locDevices > 0 {
				store(t, s, "acme", tc.locDevices, tc.locPer)
			}
			want := map[string][]string{}
			if tc.derivedDevices > 0 {
				want = queueDerived(t, client, "acme", tc.derivedDevices, tc.derivedPer)
			}
			total := tc.locDevices*tc.locPer + tc.derivedDevices*tc.derivedPer
			sink := &fakeSink{}
			sink.setFail(func(event.Event) error { return fmt.Errorf("connection refused") })
			r := New(client, sink, Config{Logger: quiet})
			if _, err := r.RunOnce(context.Background()); err == nil {
				t.Fatal("RunOnce with a dead sink succeeded")
			}
			if st := r.Stats(); st.Depth != int64(total) {
				t.Errorf("depth gauge %d while the sink is down, want %d (both outboxes)", st.Depth, total)
			}
			sink.setFail(nil)
			res, err := r.RunOnce(context.Background())
			if err != nil || res.Delivered != total || res.Depth != int64(total) {
				t.Fatalf("RunOnce = %+v, %v; want %d delivered of a depth of %d", res, err, total, total)
			}
			if st := r.Stats(); st.Depth != 0 {
				t.Errorf("depth gauge %d after draining", st.Depth)
			}
			if err := derivedInOrder(sink.events(), want); err != nil {
				t.Fatal(err)
			}
			var location []event.Event
			for _, e := range sink.events() {
				if e.Type() == events.TypeLocationUpdated {
					location = append(location, e)
				}
			}
			if tc.locDevices > 0 {
				checkDelivered(t, location, "acme", tc.locDevices, tc.locPer)
			}
		})
	}
}

// TestDerivedOutboxReadSize: the outbox of derived events is read
// DerivedBatchSize entries at a time (default 1000), apart from the location
// outbox's BatchSize, so a pass of one read takes that many.
func TestDerivedOutboxReadSize(t *testing.T) {
	for _, tc := range []struct {
		name          string
		derivedRead   int
		queued        int
		wantDelivered int
		wantMore      bool
	}{
		{name: "default: 1000 a read", queued: 1200, wantDelivered: 1000, wantMore: true},
		{name: "default: a smaller outbox in one read", queued: 300, wantDelivered: 300},
		{name: "10 a read", derivedRead: 10, queued: 25, wantDelivered: 10, wantMore: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := setup(t)
			want := queueDerived(t, client, "acme", 5, tc.queued/5)
			sink := &fakeSink{}
			r := New(client, sink, Config{Logger: quiet, BatchSize: 3, DerivedBatchSize: tc.derivedRead, MaxBatchesPerTenant: 1})
			res, err := r.RunOnce(context.Background())
			if err != nil || res.Delivered != tc.wantDelivered || res.More != tc.wantMore {
				t.Fatalf("RunOnce = %+v, %v; want %d delivered, more %v", res, err, tc.wantDelivered, tc.wantMore)
			}
			for res.More {
				if res, err = r.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if err := derivedInOrder(sink.events(), want); err != nil {
				t.Fatal(err)
			}
		})
	}
}
