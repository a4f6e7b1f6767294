package geofence

import (
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
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
	rng := mrand.New(mrand.NewPCG(9, 9))
	fences := make([]*Fence, 0, n)
	for i := 0; i < n; i++ {
		r := radiusM * math.Sqrt(rng.Float64())
		a := rng.Float64() * 2 * math.Pi
		lat := fleet.London.Lat + r*math.Sin(a)/111195
		lon := fleet.London.Lon + r*math.Cos(a)/(111195*math.Cos(fleet.London.Lat*math.Pi/180))
		var body string
		if rng.IntN(10) < 3 {
			body = fmt.Sprintf(`{"type":"Feature","id":"f%05d","geometry":{"type":"Point","coordinates":[%.7f,%.7f]},"properties":{"name":"c","radius_m":%.1f,"dwell_s":300}}`,
				i, lon, lat, 20+rng.Float64()*280)
		} else {
			nv, size := 8+rng.IntN(193), 20+rng.Float64()*180
			var b strings.Builder
			fmt.Fprintf(&b, `{"type":"Feature","id":"f%05d","geometry":{"type":"Polygon","coordinates":[[`, i)
			var first string
			for k := 0; k < nv; k++ {
				ang := (float64(k) + rng.Float64()*0.9) * 2 * math.Pi / float64(nv)
				rad := size * (0.5 + rng.Float64()*0.5)
				p := fmt.Sprintf("[%.7f,%.7f]", lon+rad*math.Cos(ang)/(111195*math.Cos(lat*math.Pi/180)), lat+rad*math.Sin(ang)/111195)
				if k == 0 {
					first = p
				}
				b.WriteString(p + ",")
			}
			fmt.Fprintf(&b, `%s]]},"properties":{"name":"p","dwell_s":300}}`, first)
			body = b.String()
		}
		fs, err := Decode([]byte(body))
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
