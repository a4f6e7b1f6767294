package main

import (
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/geofence"
)

// TestFenceFeaturesAreValid: every generated fence passes validation, with
// the advertised mix (8-200 vertices, circles and polygons).
func TestFenceFeaturesAreValid(t *testing.T) {
	var polygons, circles int
	for _, f := range fenceFeatures(2000) {
		fs, err := geofence.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch fs[0].Kind {
		case geofence.KindCircle:
			circles++
		default:
			polygons++
			if n := fs[0].Vertices(); n < 9 || n > 201 {
				t.Fatalf("polygon with %d positions", n)
			}
		}
	}
	if polygons < 1200 || circles < 400 {
		t.Fatalf("%d polygons, %d circles", polygons, circles)
	}
}

// BenchmarkEvaluate: the evaluator over 50,000 fences, per fix (for
// profiling: go test ./cmd/geotrack -run XXX -bench Evaluate -cpuprofile).
func BenchmarkEvaluate(b *testing.B) {
	var fences []*geofence.Fence
	for _, f := range fenceFeatures(50000) {
		fs, err := geofence.Decode(f)
		if err != nil {
			b.Fatal(err)
		}
		fences = append(fences, &fs[0])
	}
	idx := geofence.NewIndex(fences)
	t0 := time.Now().Add(-time.Hour)
	fl, _ := fleet.New(fleet.Config{Devices: 1000, Rate: 1, Seed: 7, Start: t0, RadiusM: benchCityRadiusM})
	track := fl.Advance(t0.Add(100 * time.Second))
	states := map[string]*geofence.DeviceState{}
	ev := geofence.Evaluator{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := track[i%len(track)]
		st := states[f.Device]
		if st == nil || i%len(track) == 0 && i > 0 {
			st = &geofence.DeviceState{}
			states[f.Device] = st
		}
		ev.Evaluate(idx, st, f.Device, f)
	}
}
