package edgefilter

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// drive is n fixes at 1 Hz of a vehicle wandering around origin: the
// heading drifts, the speed varies between 0 and 25 m/s with stops, and each
// fix has up to 3 m of GPS noise. Deterministic (seeded) so runs compare.
func drive(n int, seed int64) []fix.Fix {
	rng := rand.New(rand.NewSource(seed))
	out := make([]fix.Fix, n)
	pos, heading, speed := origin, 0.0, 10.0
	for i := range out {
		heading = math.Mod(heading+rng.NormFloat64()*4+360, 360)
		speed = math.Max(0, math.Min(25, speed+rng.NormFloat64()))
		if rng.Intn(600) == 0 {
			speed = 0 // a stop
		}
		pos = geo.Destination(pos, heading, speed)
		noisy := geo.Destination(pos, rng.Float64()*360, rng.Float64()*3)
		out[i] = fix.Fix{Device: "dev-1", TS: t0.Add(time.Duration(i) * time.Second), Lat: noisy.Lat, Lon: noisy.Lon}
	}
	return out
}

var (
	drivesMu sync.Mutex
	drives   = map[int][]fix.Fix{}
)

// cachedDrive builds drive(n, 1) once per test binary.
func cachedDrive(n int) []fix.Fix {
	drivesMu.Lock()
	defer drivesMu.Unlock()
	if d, ok := drives[n]; ok {
		return d
	}
	d := drive(n, 1)
	drives[n] = d
	return d
}

// BenchmarkBudget is the track function's max_points path: a 1 Hz history
// down to 1,760 points (the device view's budget in a 1280-pixel window)
// from the track function's start tolerance of 1 m.
func BenchmarkBudget(b *testing.B) {
	for _, n := range []int{250_000, 1_000_000} {
		raw := cachedDrive(n)
		b.Run(fmt.Sprintf("points=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var kept int
			for i := 0; i < b.N; i++ {
				bud := NewBudget(1760, 1)
				for _, x := range raw {
					bud.Push(x)
				}
				out, _ := bud.Finish()
				kept = len(out)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "fixes/s")
			b.ReportMetric(float64(kept), "kept")
		})
	}
}

// BenchmarkSimplifier is the track function's simplify=ε path.
func BenchmarkSimplifier(b *testing.B) {
	raw := cachedDrive(250_000)
	for _, eps := range []float64{5, 20} {
		b.Run(fmt.Sprintf("eps=%g", eps), func(b *testing.B) {
			b.ReportAllocs()
			var kept int
			for i := 0; i < b.N; i++ {
				kept = len(simplifyAll(NewSimplifier(eps), raw))
			}
			b.ReportMetric(float64(len(raw))*float64(b.N)/b.Elapsed().Seconds(), "fixes/s")
			b.ReportMetric(float64(kept), "kept")
		})
	}
}
