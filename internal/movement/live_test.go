package movement_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/movement"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
	"github.com/geotrack/geotrack/internal/trips"
)

type world struct {
	client  redis.UniversalClient
	hot     *redisstore.Store
	states  *redisstore.MovementStore
	live    *movement.Live
	reports *movement.Reports
	queued  map[string]int // event id → times queued in the outbox
}

func newWorld(t *testing.T) *world {
	r := testenv.StartRedis(t)
	client, err := redisstore.Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	w := &world{client: client, hot: redisstore.New(client, redisstore.Options{HistoryRetention: 10 * 365 * 24 * time.Hour}), queued: map[string]int{}}
	w.states = redisstore.NewMovementStore(client, redisstore.MovementOptions{
		LogRetention: 10 * 365 * 24 * time.Hour,
		Queue: func(ctx context.Context, pipe redis.Pipeliner, tenant string, e movement.Event) {
			w.queued[e.ID]++ // runs inside the transaction, once per committed attempt
		},
	})
	w.live = movement.NewLive(w.states, movement.DefaultRules{})
	w.reports = movement.NewReports(locate.New(w.hot), movement.DefaultRules{})
	return w
}

// wire round-trips fixes through the JSON location.updated carries.
func wire(t *testing.T, fixes []fix.Fix) []fix.Fix {
	var data []byte
	data = append(data, '[')
	for i, f := range fixes {
		if i > 0 {
			data = append(data, ',')
		}
		data = f.AppendJSON(data)
	}
	data = append(data, ']')
	out, errs, err := fix.DecodeBatch(data, "")
	if err != nil || len(errs) > 0 && errs[0] != nil {
		t.Fatalf("decode: %v %v", err, errs)
	}
	return out
}

// play stores fixes in the hot store and feeds them to movement the way
// location.updated delivers them: in batches of 1..50, some delivered twice.
func (w *world) play(t *testing.T, tenant string, fixes []fix.Fix, seed uint64) movement.Result {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 1))
	var total movement.Result
	for i := 0; i < len(fixes); {
		n := min(1+rng.IntN(50), len(fixes)-i)
		batch := wire(t, fixes[i:i+n])
		if _, err := w.hot.Save(ctx, tenant, []redisstore.Group{{Fixes: batch}}, batch[n-1].TS.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		res, err := w.live.Observe(ctx, tenant, batch)
		if err != nil {
			t.Fatal(err)
		}
		total.Events += res.Events
		if rng.IntN(10) == 0 { // a redelivery
			again, err := w.live.Observe(ctx, tenant, batch)
			if err != nil {
				t.Fatal(err)
			}
			if again.Events != 0 || again.Repeats+again.Late != n {
				t.Fatalf("redelivery of %d fixes: %+v, want nothing new", n, again)
			}
			total.Repeats += again.Repeats
			total.Late += again.Late
		}
		i += n
	}
	return total
}

// logged reads tenant's event log: every event movement emitted, in order.
func (w *world) logged(t *testing.T, tenant string) []map[string]any {
	msgs, err := w.client.XRange(context.Background(), redisstore.EventLogKey("gt", tenant), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, m := range msgs {
		var ce map[string]any
		if err := json.Unmarshal([]byte(m.Values["ce"].(string)), &ce); err != nil {
			t.Fatal(err)
		}
		out = append(out, ce)
	}
	return out
}

// TestLiveEventsAgreeWithTheReport is the proof the issue asks for: on every
// simulated and recorded track, the trips and stops movement announced live
// (trip.ended, stop.ended in the event log) are exactly those the trips
// report computes from the stored history.
func TestLiveEventsAgreeWithTheReport(t *testing.T) {
	w := newWorld(t)
	tracks := map[string][]fix.Fix{}
	for i := range 6 {
		interval := []time.Duration{time.Second, 5 * time.Second, 2 * time.Second}[i%3]
		sim := fleet.Simulate(uint64(500+i), fleet.ScriptedDevice(i), interval, i%2 == 0, fleet.DayScript(uint64(500+i)))
		tracks[fleet.ScriptedDevice(i)] = sim.Fixes
	}
	for _, file := range []string{"run-with-laps.gpx", "strava-ride-los-angeles.gpx"} {
		f, err := os.Open(filepath.Join("../../testdata/tracks", file))
		if err != nil {
			t.Fatal(err)
		}
		fixes, err := gpx.Decode(f, file, 100000)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		tracks[file] = fixes
	}
	seed := uint64(0)
	for device, fixes := range tracks {
		seed++
		tenant := "t" + string(rune('a'+seed))
		w.play(t, tenant, fixes, seed)
		rep, err := w.reports.Build(context.Background(), tenant, device, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		// The hot store keeps one fix per device and time, as movement does.
		distinct := map[int64]bool{}
		for _, f := range fixes {
			distinct[f.TS.UnixMilli()] = true
		}
		if rep.Fixes != len(distinct) {
			t.Fatalf("%s: report read %d fixes, stored %d", device, rep.Fixes, len(distinct))
		}
		var liveTrips []movement.TripJSON
		var liveStops []movement.StopJSON
		started := 0
		for _, ce := range w.logged(t, tenant) {
			if ce["subject"] != device {
				t.Fatalf("%s: event subject %v", device, ce["subject"])
			}
			raw, _ := json.Marshal(ce["data"])
			switch ce["type"] {
			case eventtype.TripEnded:
				var tr movement.TripJSON
				json.Unmarshal(raw, &tr)
				liveTrips = append(liveTrips, tr)
			case eventtype.StopEnded:
				var st movement.StopJSON
				json.Unmarshal(raw, &st)
				liveStops = append(liveStops, st)
			case eventtype.TripStarted:
				started++
			}
		}
		if len(rep.Trips)+len(rep.Stops) == 0 && rep.OngoingTrip == nil {
			t.Fatalf("%s: the report found nothing", device)
		}
		if !reflect.DeepEqual(normalize(t, rep.Trips), normalize(t, liveTrips)) || !reflect.DeepEqual(normalize(t, rep.Stops), normalize(t, liveStops)) {
			t.Errorf("%s: report\n%+v\n%+v\nlive\n%+v\n%+v", device, rep.Trips, rep.Stops, liveTrips, liveStops)
		}
		if want := len(rep.Trips) + btoi(rep.OngoingTrip != nil); started != want {
			t.Errorf("%s: %d trip.started, want %d", device, started, want)
		}
		t.Logf("%s: %d fixes → %d trips, %d stops, summary %+v", device, len(fixes), len(rep.Trips), len(rep.Stops), rep.Summary)
	}
	for id, n := range w.queued {
		if n != 1 {
			t.Errorf("event %s queued %d times", id, n)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// normalize compares through JSON, as a client sees both.
func normalize(t *testing.T, v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) == "null" {
		return "[]"
	}
	return string(raw)
}

// TestTwoReplicasShareTheState: two movement processes (each with its own
// store and its cache of the states it wrote) take turns on one device's
// deliveries, some concurrently: the events are exactly those of one
// machine over the fixes, none lost, none twice.
func TestTwoReplicasShareTheState(t *testing.T) {
	w := newWorld(t)
	other := movement.NewLive(redisstore.NewMovementStore(w.client, redisstore.MovementOptions{LogRetention: 10 * 365 * 24 * time.Hour}), movement.DefaultRules{})
	sim := fleet.Simulate(31, "shared", time.Second, false, fleet.DayScript(31))
	ctx := context.Background()
	for i := 0; i < len(sim.Fixes); i += 20 {
		batch := sim.Fixes[i:min(i+20, len(sim.Fixes))]
		lives := []*movement.Live{w.live, other}
		if (i/20)%7 == 3 {
			// Both at once with the same batch: one applies it, the other
			// finds it already applied.
			done := make(chan error, 2)
			for _, l := range lives {
				go func() { _, err := l.Observe(ctx, "acme", batch); done <- err }()
			}
			for range 2 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		if _, err := lives[(i/20)%2].Observe(ctx, "acme", batch); err != nil {
			t.Fatal(err)
		}
	}
	want := trips.Build(trips.DefaultRules(), "shared", sim.Fixes)
	var ended int
	for _, ce := range w.logged(t, "acme") {
		if ce["type"] == eventtype.TripEnded {
			ended++
		}
	}
	if ended != len(want.Trips) || ended == 0 {
		t.Errorf("%d trip.ended in the log, want %d", ended, len(want.Trips))
	}
	ids := map[string]int{}
	msgs, _ := w.client.XRange(ctx, redisstore.EventLogKey("gt", "acme"), "-", "+").Result()
	for _, m := range msgs {
		var ce struct{ ID string }
		json.Unmarshal([]byte(m.Values["ce"].(string)), &ce)
		ids[ce.ID]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %s logged %d times", id, n)
		}
	}
}
