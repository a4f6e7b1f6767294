package fleet

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

func TestTrackIsReproducibleAndPlausible(t *testing.T) {
	a, b := Track(7, 20*time.Minute), Track(7, 20*time.Minute)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("same seed gave different tracks")
	}
	if c := Track(8, 20*time.Minute); c[0].Lat == a[0].Lat && c[0].Lon == a[0].Lon {
		t.Error("different seeds start at the same place")
	}
	if len(a) != 1200 {
		t.Fatalf("%d fixes for 20 min at 1 Hz, want 1200", len(a))
	}
	var stopped, fast int
	var maxStep float64
	for i, f := range a {
		if err := fix.Validate(&f, f.TS); err != nil {
			t.Fatalf("fix %d invalid: %v", i, err)
		}
		if i == 0 {
			continue
		}
		if dt := f.TS.Sub(a[i-1].TS); dt != time.Second {
			t.Fatalf("fix %d: step %v, want 1 s", i, dt)
		}
		maxStep = math.Max(maxStep, geo.Haversine(trackPoint(a[i-1]), trackPoint(f)))
		switch s := *f.Speed; {
		case s < 0.5:
			stopped++
		case s > 8:
			fast++
		}
	}
	// Urban driving: some standing at lights, mostly moving at 30–70 km/h,
	// no step beyond 70 km/h plus GPS noise.
	if stopped < 30 || fast < 300 {
		t.Errorf("implausible speed mix: %d stopped, %d fast fixes of %d", stopped, fast, len(a))
	}
	if maxStep > 19.5+15 {
		t.Errorf("largest step %.1f m: faster than the simulated vehicle plus noise", maxStep)
	}
}

func TestSimulatedNoiseHasAboutThreeMetresSigma(t *testing.T) {
	// Stopped fixes scatter around the stopped position: their spread per
	// axis estimates the noise σ (loosely: few, correlated samples).
	var sum, n float64
	for seed := uint64(1); seed <= 10; seed++ {
		tr := Track(seed, time.Hour)
		for i := 30; i < len(tr); i++ {
			if *tr[i].Speed == 0 && *tr[i-30].Speed == 0 {
				d := geo.Haversine(trackPoint(tr[i]), trackPoint(tr[i-1]))
				sum += d * d
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %v stopped fix pairs", n)
	}
	// Consecutive differences see mostly the white part (0.8 m) plus the
	// slow part's small step: rms well under the 3 m total σ, yet not zero.
	rms := math.Sqrt(sum / n)
	t.Logf("rms 1-s jitter at standstill: %.2f m over %v pairs", rms, n)
	if rms < 0.5 || rms > 3 {
		t.Errorf("rms 1-s jitter at standstill %.2f m, want 0.5–3 m", rms)
	}
}

func trackPoint(f fix.Fix) geo.Point { return geo.Point{Lat: f.Lat, Lon: f.Lon} }
