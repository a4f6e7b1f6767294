package geofence_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// metre is about one metre of latitude in degrees.
const metre = 1.0 / 111195

func mustIndex(t *testing.T, bodies ...string) *geofence.Index {
	t.Helper()
	var fences []*geofence.Fence
	for _, b := range bodies {
		fs, err := geofence.Decode([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		for i := range fs {
			fences = append(fences, &fs[i])
		}
	}
	return geofence.NewIndex(fences)
}

// square: 0..0.002° (about 222 m) at the equator, dwell 60 s.
const square = `{"type":"Feature","id":"sq","geometry":{"type":"Polygon","coordinates":[[[0,0],[0.002,0],[0.002,0.002],[0,0.002],[0,0]]]},"properties":{"name":"Square","dwell_s":60}}`
const circle = `{"type":"Feature","id":"ci","geometry":{"type":"Point","coordinates":[0.01,0]},"properties":{"name":"Circle","radius_m":50}}`
const onlyD2 = `{"type":"Feature","id":"d2only","geometry":{"type":"Point","coordinates":[0.001,0.001]},"properties":{"name":"D2","radius_m":30,"devices":["d2"]}}`

type step struct {
	sec      int
	lon, lat float64
	acc      float64
	want     []string // "kind fence" (+" crossed")
}

func TestEvaluatorTracks(t *testing.T) {
	idx := mustIndex(t, square, circle, onlyD2)
	cases := []struct {
		name  string
		steps []step
	}{
		{"enter, dwell once, exit", []step{
			{0, -0.001, 0.001, 0, nil},
			{10, 0.0005, 0.001, 0, []string{"entered sq"}},
			{40, 0.0006, 0.001, 0, nil},
			{70, 0.0007, 0.001, 0, []string{"dwelled sq"}},
			{100, 0.0008, 0.001, 0, nil},
			{110, 0.0025, 0.001, 0, []string{"exited sq"}},
		}},
		{"outside within the margin stays inside", []step{
			{0, 0.001, 0.001, 0, []string{"entered sq"}},
			{1, 0.002 + 8*metre, 0.001, 0, nil},
			{2, 0.002 + 12*metre, 0.001, 0, nil},
			{3, 0.002 + 5*metre, 0.001, 0, nil},
			{4, 0.002 + 12*metre, 0.001, 0, nil},
			{5, 0.002 + 13*metre, 0.001, 0, []string{"exited sq"}},
			{6, 0.001, 0.001, 0, []string{"entered sq"}},
			{7, 0.002 + 31*metre, 0.001, 0, []string{"exited sq"}},
		}},
		{"a poor accuracy widens the margin", []step{
			{0, 0.001, 0.001, 0, []string{"entered sq"}},
			{1, 0.002 + 30*metre, 0.001, 50, nil},
			{2, 0.002 + 60*metre, 0.001, 50, nil},
			{3, 0.002 + 160*metre, 0.001, 50, []string{"exited sq"}},
		}},
		{"crossing between sparse fixes", []step{
			{0, -0.001, 0.001, 0, nil},
			{60, 0.003, 0.001, 0, []string{"entered sq crossed", "exited sq crossed"}},
			{120, 0.0095, 0.003, 0, nil}, // passes north of the circle
			{180, 0.0105, -0.003, 0, []string{"entered ci crossed", "exited ci crossed"}},
		}},
		{"late and repeated fixes change nothing", []step{
			{10, 0.001, 0.001, 0, []string{"entered sq"}},
			{5, 0.005, 0.005, 0, nil},
			{10, 0.001, 0.001, 0, nil},
			{11, 0.005, 0.005, 0, []string{"exited sq"}},
		}},
		{"a fence for other devices is ignored", []step{
			{0, 0.001, 0.001, 0, []string{"entered sq"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var st geofence.DeviceState
			ev := geofence.Evaluator{MarginM: 10}
			for i, s := range c.steps {
				f := fix.Fix{Device: "d1", TS: t0.Add(time.Duration(s.sec) * time.Second), Lon: s.lon, Lat: s.lat}
				if s.acc > 0 {
					f.Acc = fix.Float(s.acc)
				}
				_, got := ev.Evaluate(idx, &st, "d1", f)
				var names []string
				for _, tr := range got {
					n := tr.Kind + " " + tr.FenceID
					if tr.Crossed {
						n += " crossed"
					}
					names = append(names, n)
					if !tr.TS.Equal(f.TS) || tr.Lat != s.lat || tr.Lon != s.lon {
						t.Errorf("step %d: transition %+v does not carry the fix", i, tr)
					}
				}
				if len(names) != len(s.want) {
					t.Fatalf("step %d: got %v, want %v", i, names, s.want)
				}
				for j := range names {
					if names[j] != s.want[j] {
						t.Fatalf("step %d: got %v, want %v", i, names, s.want)
					}
				}
			}
		})
	}
}

// TestNoisyParkedTrackDoesNotFlap parks a device on the square's east edge
// for an hour of 1 Hz fixes with 3 m of Gaussian noise on each axis: one entry, no exit.
func TestNoisyParkedTrackDoesNotFlap(t *testing.T) {
	idx := mustIndex(t, square)
	rng := rand.New(rand.NewPCG(1, 2))
	var st geofence.DeviceState
	ev := geofence.Evaluator{MarginM: 10}
	counts := map[string]int{}
	for s := 0; s < 3600; s++ {
		f := fix.Fix{Device: "d1", TS: t0.Add(time.Duration(s) * time.Second),
			Lon: 0.002 + rng.NormFloat64()*3*metre, Lat: 0.001 + rng.NormFloat64()*3*metre, Acc: fix.Float(5)}
		_, got := ev.Evaluate(idx, &st, "d1", f)
		for _, tr := range got {
			counts[tr.Kind]++
		}
	}
	if counts["entered"] != 1 || counts["exited"] != 0 || counts["dwelled"] != 1 {
		t.Fatalf("transitions %v, want one entered, one dwelled, no exit", counts)
	}
}

func TestRemovedFenceIsForgottenWithoutExit(t *testing.T) {
	idx := mustIndex(t, square)
	var st geofence.DeviceState
	ev := geofence.Evaluator{}
	ev.Evaluate(idx, &st, "d1", fix.Fix{TS: t0, Lon: 0.001, Lat: 0.001})
	_, got := ev.Evaluate(geofence.NewIndex(nil), &st, "d1", fix.Fix{TS: t0.Add(time.Second), Lon: 0.001, Lat: 0.001})
	if len(got) != 0 || len(st.Inside) != 0 {
		t.Fatalf("got %v, inside %v", got, st.Inside)
	}
}

var _ = math.Pi
