package geofence

import (
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
)

// benchCity is the setting of `geotrack bench geofence`: 50,000 fences
// (70 % star polygons of 8-200 vertices, 30 % circles) over 10 km around
// London, and a fleet of 10,000 devices roaming there.
var benchCity = sync.OnceValues(func() (*Index, []fix.Fix) {
	const radiusM, n = 10000, 50000
	fences := make([]*Fence, 0, n)
	for _, body := range fleet.CityFences(n, radiusM) {
		fs, err := Decode(body)
		if err != nil {
			panic(err)
		}
		fences = append(fences, &fs[0])
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fl, err := fleet.New(fleet.Config{Devices: 10000, Rate: 1, Seed: 7, Start: t0, Prefix: "dev-", RadiusM: radiusM})
	if err != nil {
		panic(err)
	}
	return NewIndex(fences), fl.Advance(t0.Add(20 * time.Second))
})

// BenchmarkEvaluate is the evaluator on one goroutine over the bench's city:
// ns/op is per fix.
func BenchmarkEvaluate(b *testing.B) {
	idx, track := benchCity()
	ev := Evaluator{}
	states := map[string]*DeviceState{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(track) == 0 && i > 0 {
			clear(states) // the track again, from fresh states
		}
		f := track[i%len(track)]
		st := states[f.Device]
		if st == nil {
			st = &DeviceState{}
			states[f.Device] = st
		}
		ev.Evaluate(idx, st, f.Device, f)
	}
}
