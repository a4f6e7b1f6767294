package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestStep(t *testing.T) {
	speed := Rule{On: []string{"io.geotrack.location.updated"}, When: When{SpeedAbove: fix.Float(20), ForS: 10}}
	instant := Rule{On: speed.On, When: When{SpeedAbove: fix.Float(20)}}
	battery := Rule{On: speed.On, When: When{BatteryBelow: fix.Float(0.2)}}
	flag := Rule{On: speed.On, When: When{Flag: "alarm"}}
	type step struct {
		f    fix.Fix
		fire bool
	}
	sp := func(s int, v float64, fire bool) step {
		return step{fix.Fix{TS: at(s), Speed: fix.Float(v)}, fire}
	}
	cases := []struct {
		name  string
		rule  Rule
		steps []step
	}{
		{"speed must hold for_s", speed, []step{sp(0, 25, false), sp(5, 25, false), sp(10, 25, true), sp(15, 30, false)}},
		{"a dip restarts the timer", speed, []step{sp(0, 25, false), sp(5, 10, false), sp(10, 25, false), sp(19, 25, false), sp(20, 25, true)}},
		{"fires again after slowing down", instant, []step{sp(0, 25, true), sp(1, 25, false), sp(2, 5, false), sp(3, 25, true)}},
		{"late fix ignored", instant, []step{sp(10, 5, false), sp(5, 25, false), sp(11, 25, true)}},
		{"no speed changes nothing", speed, []step{sp(0, 25, false), {fix.Fix{TS: at(5)}, false}, sp(10, 25, true)}},
		{"battery crosses once", battery, []step{
			{fix.Fix{TS: at(0), Battery: fix.Float(0.5)}, false},
			{fix.Fix{TS: at(1), Battery: fix.Float(0.1)}, true},
			{fix.Fix{TS: at(2), Battery: fix.Float(0.05)}, false},
			{fix.Fix{TS: at(3), Battery: fix.Float(0.9)}, false},
			{fix.Fix{TS: at(4), Battery: fix.Float(0.1)}, true},
		}},
		{"flag raised once", flag, []step{
			{fix.Fix{TS: at(0)}, false},
			{fix.Fix{TS: at(1), Attrs: map[string]string{"alarm": "sos"}}, true},
			{fix.Fix{TS: at(2), Attrs: map[string]string{"alarm": "1"}}, false},
			{fix.Fix{TS: at(3), Attrs: map[string]string{"alarm": "false"}}, false},
			{fix.Fix{TS: at(4), Attrs: map[string]string{"alarm": "true"}}, true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var st State
			for i, s := range tc.steps {
				var fire bool
				st, fire = Step(tc.rule, st, s.f)
				if fire != s.fire {
					t.Fatalf("step %d (%v): fire %v, want %v", i, s.f.TS.Sub(t0), fire, s.fire)
				}
			}
		})
	}
}

func TestSilent(t *testing.T) {
	r := Rule{When: When{SilentS: 60}}
	for _, tc := range []struct {
		last, now time.Time
		want      bool
	}{{at(0), at(59), false}, {at(0), at(60), true}, {time.Time{}, at(60), false}} {
		if got := Silent(r, tc.last, tc.now); got != tc.want {
			t.Errorf("Silent(%v, %v) = %v", tc.last, tc.now, got)
		}
	}
}

// fakeStore keeps fired alerts by id and applies cooldown like the Redis store.
type fakeStore struct {
	rules    []Rule
	states   map[StateKey]State
	fired    map[string]Fired
	order    []string
	last     map[string]time.Time
	lastEdge map[string]string // device -> edge node of its latest fix
	cool     map[StateKey]time.Time
}

func newFake(rules ...Rule) *fakeStore {
	return &fakeStore{rules: rules, states: map[StateKey]State{}, fired: map[string]Fired{}, cool: map[StateKey]time.Time{}}
}

func (s *fakeStore) Rules(context.Context, string) ([]Rule, error) { return s.rules, nil }
func (s *fakeStore) States(_ context.Context, _ string, keys []StateKey) (map[StateKey]State, error) {
	out := map[StateKey]State{}
	for _, k := range keys {
		out[k] = s.states[k]
	}
	return out, nil
}
func (s *fakeStore) SaveStates(_ context.Context, _ string, st map[StateKey]State) error {
	for k, v := range st {
		s.states[k] = v
	}
	return nil
}
func (s *fakeStore) Fire(_ context.Context, f Fired, e Emitted) (Outcome, error) {
	ce := e.CloudEvent
	if _, ok := s.fired[f.ID]; ok {
		return Duplicate, nil
	}
	k := StateKey{f.Rule.ID, f.Device}
	if last, ok := s.cool[k]; ok && f.At.Sub(last) < f.Cooldown {
		return Suppressed, nil
	}
	if !json.Valid(ce) {
		return 0, errInvalidCE
	}
	s.cool[k] = f.At
	s.fired[f.ID] = f
	s.order = append(s.order, f.ID)
	return Queued, nil
}
func (s *fakeStore) LastFixes(context.Context, string) (map[string]LastFix, error) {
	out := map[string]LastFix{}
	for d, t := range s.last {
		out[d] = LastFix{At: t, Edge: s.lastEdge[d]}
	}
	return out, nil
}
func (s *fakeStore) Tenants(context.Context) ([]string, error) { return []string{"acme"}, nil }

var errInvalidCE = json.Unmarshal([]byte("{"), new(any))

func geofenceEvent(id, typ, device, fence string) Event {
	data, _ := json.Marshal(GeofenceData{Device: device, Fence: fence, TS: t0})
	return Event{ID: id, Source: "urn:geotrack:geofence-detect", Type: typ, Subject: device, Data: data,
		Structured: json.RawMessage(`{"id":"` + id + `"}`)}
}

func TestEngineGeofenceRules(t *testing.T) {
	enter := Rule{ID: "r1", Name: "depot", On: []string{TypeGeofenceEntered}, Fences: []string{"f1"}}
	anyDevice := Rule{ID: "r2", Name: "all", On: []string{TypeGeofenceEntered, TypeGeofenceExited}, Devices: []string{"d1"}, CooldownS: 3600}
	store := newFake(enter, anyDevice)
	e := NewEngine(store, "urn:geotrack:notify")
	e.now = func() time.Time { return t0 }
	ctx := context.Background()

	sum, err := e.Handle(ctx, "acme", geofenceEvent("e1", TypeGeofenceEntered, "d1", "f1"))
	if err != nil || sum.Fired != 2 {
		t.Fatalf("first event: %+v %v, want 2 fired", sum, err)
	}
	sum, _ = e.Handle(ctx, "acme", geofenceEvent("e1", TypeGeofenceEntered, "d1", "f1"))
	if sum.Duplicate != 2 || sum.Fired != 0 {
		t.Errorf("redelivered: %+v, want 2 duplicates", sum)
	}
	sum, _ = e.Handle(ctx, "acme", geofenceEvent("e2", TypeGeofenceExited, "d1", "f1"))
	if sum.Suppressed != 1 || sum.Fired != 0 {
		t.Errorf("exit within r2's cooldown: %+v, want 1 suppressed", sum)
	}
	sum, _ = e.Handle(ctx, "acme", geofenceEvent("e3", TypeGeofenceEntered, "d2", "f2"))
	if sum != (Summary{}) {
		t.Errorf("d2 at f2 matches no rule: %+v", sum)
	}
	f := store.fired[store.order[0]]
	emitted, err := f.Event("urn:geotrack:notify")
	if err != nil {
		t.Fatal(err)
	}
	body := emitted.CloudEvent
	var got struct {
		ID, Type, Subject string
		Data              FiredData
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != f.ID || got.Type != TypeAlertFired || got.Subject != "d1" || got.Data.Rule != "r1" || string(got.Data.Event) != `{"id":"e1"}` {
		t.Errorf("alert.fired event: %s", body)
	}
}

func TestEngineTripRule(t *testing.T) {
	r := Rule{ID: "r1", Name: "trips", On: []string{"io.geotrack.trip.started"}, Devices: []string{"d1"}}
	store := newFake(r)
	e := NewEngine(store, "urn:geotrack:notify")
	data := json.RawMessage(`{"device":"d1","trip":"t1","ts":"2026-11-29T12:00:00Z"}`)
	sum, err := e.Handle(context.Background(), "acme", Event{ID: "t1", Source: "urn:geotrack:movement", Type: "io.geotrack.trip.started", Subject: "d1", Data: data})
	if err != nil || sum.Fired != 1 {
		t.Fatalf("trip started: %+v %v", sum, err)
	}
}

func TestEngineThresholdsAcrossEvents(t *testing.T) {
	r := Rule{ID: "fast", On: []string{"io.geotrack.location.updated"}, When: When{SpeedAbove: fix.Float(20), ForS: 10}}
	store := newFake(r)
	e := NewEngine(store, "urn:geotrack:notify")
	ctx := context.Background()
	send := func(id string, body string) Summary {
		t.Helper()
		sum, err := e.Handle(ctx, "acme", Event{ID: id, Type: "io.geotrack.location.updated", Subject: "d1", Data: json.RawMessage(body)})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	// Out of order inside one event: sorted by ts before stepping.
	if s := send("a", `[{"ts":"2026-11-29T12:00:05Z","lat":1,"lon":1,"speed":25},{"ts":"2026-11-29T12:00:00Z","lat":1,"lon":1,"speed":25}]`); s.Fired != 0 {
		t.Fatalf("5 s above: %+v", s)
	}
	if s := send("b", `[{"ts":"2026-11-29T12:00:10Z","lat":1,"lon":1,"speed":26}]`); s.Fired != 1 {
		t.Fatalf("10 s above: %+v, want fired", s)
	}
	if s := send("b", `[{"ts":"2026-11-29T12:00:10Z","lat":1,"lon":1,"speed":26}]`); s.Fired != 0 {
		t.Fatalf("redelivered: %+v, want nothing", s)
	}
}

func TestEngineSweep(t *testing.T) {
	r := Rule{ID: "quiet", On: []string{"io.geotrack.location.updated"}, When: When{SilentS: 60}, Devices: []string{"d1", "d2"}}
	store := newFake(r)
	store.last = map[string]time.Time{"d1": at(0), "d2": at(50), "d3": at(0)}
	e := NewEngine(store, "urn:geotrack:notify")
	e.now = func() time.Time { return at(100) }
	sum, err := e.Sweep(context.Background())
	if err != nil || sum.Fired != 1 {
		t.Fatalf("sweep: %+v %v, want d1 only (d2 recent, d3 not selected)", sum, err)
	}
	if sum, _ := e.Sweep(context.Background()); sum.Fired != 0 || sum.Duplicate != 1 {
		t.Errorf("second sweep: %+v, want the same silence not fired again", sum)
	}
	store.last["d1"] = at(110)
	e.now = func() time.Time { return at(200) }
	if sum, _ := e.Sweep(context.Background()); sum.Fired != 2 {
		t.Errorf("new silences of d1 and d2: %+v", sum)
	}
}

// TestEngineSkipsWhatAnEdgeFired: a fix, a geofence event or a silent
// device an edge node marked fires nothing in the cloud (the edge fired it),
// and fires at that node's own engine.
func TestEngineSkipsWhatAnEdgeFired(t *testing.T) {
	speed := Rule{ID: "fast", On: []string{"io.geotrack.location.updated"}, When: When{SpeedAbove: fix.Float(20)}}
	enter := Rule{ID: "in", On: []string{"io.geotrack.geofence.entered"}}
	quiet := Rule{ID: "quiet", On: []string{"io.geotrack.location.updated"}, When: When{SilentS: 60}}
	fastFix := func(edge string) Event {
		attrs := ""
		if edge != "" {
			attrs = fmt.Sprintf(`,"attrs":{"edge_alerts":%q}`, edge)
		}
		return Event{ID: "l-" + edge, Type: "io.geotrack.location.updated", Subject: "d1",
			Data: json.RawMessage(fmt.Sprintf(`[{"ts":"2026-11-29T12:00:00Z","lat":1,"lon":1,"speed":30%s}]`, attrs))}
	}
	entered := func(edge string) Event {
		return Event{ID: "g-" + edge, Type: "io.geotrack.geofence.entered", Subject: "d1",
			Data: json.RawMessage(fmt.Sprintf(`{"device":"d1","fence":"f","edge":%q}`, edge))}
	}
	cases := []struct {
		name      string
		node      string // "" the cloud's engine
		ev        Event
		fired, by int
	}{
		{"cloud, unmarked fix", "", fastFix(""), 1, 0},
		{"cloud, fix an edge evaluated", "", fastFix("site-1"), 0, 1},
		{"that edge, its own fix", "site-1", fastFix("site-1"), 1, 0},
		{"another edge, the fix of site-1", "site-2", fastFix("site-1"), 0, 1},
		{"cloud, unmarked geofence event", "", entered(""), 1, 0},
		{"cloud, geofence event an edge caused", "", entered("site-1"), 0, 1},
		{"that edge, its own geofence event", "site-1", entered("site-1"), 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEngine(newFake(speed, enter), "urn:test").AtEdge(c.node)
			sum, err := e.Handle(context.Background(), "acme", c.ev)
			if err != nil || sum.Fired != c.fired || sum.Edge != c.by {
				t.Fatalf("%+v %v, want fired %d, skipped for an edge %d", sum, err, c.fired, c.by)
			}
		})
	}
	t.Run("sweep", func(t *testing.T) {
		store := newFake(quiet)
		store.last = map[string]time.Time{"d1": at(0), "d2": at(0)}
		store.lastEdge = map[string]string{"d2": "site-1"}
		cloud := NewEngine(store, "urn:test")
		cloud.now = func() time.Time { return at(100) }
		if sum, err := cloud.Sweep(context.Background()); err != nil || sum.Fired != 1 || sum.Edge != 1 {
			t.Fatalf("cloud sweep: %+v %v, want d1 fired and d2 left to site-1", sum, err)
		}
		edge := NewEngine(newFake(quiet), "urn:test").AtEdge("site-1")
		edge.store.(*fakeStore).last, edge.store.(*fakeStore).lastEdge = store.last, store.lastEdge
		edge.now = cloud.now
		if sum, err := edge.Sweep(context.Background()); err != nil || sum.Fired != 2 {
			t.Fatalf("edge sweep: %+v %v, want both (site-1 sweeps its own and unmarked devices)", sum, err)
		}
	})
}
