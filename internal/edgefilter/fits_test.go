package edgefilter

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// fitsBySyncedDistance is fits as it was before the window was prepared:
// geo.SyncedDistance for every buffered fix. fits must decide the same.
func fitsBySyncedDistance(f *Filter, x fix.Fix) bool {
	a, b := timed(*f.anchor), timed(x)
	for _, p := range f.buf {
		if geo.SyncedDistance(timed(p), a, b) > f.s.EpsilonM {
			return false
		}
	}
	return true
}

// driveAt is drive moved to start at lat/lon (degrees).
func driveAt(n int, seed int64, lat, lon float64) []fix.Fix {
	out := drive(n, seed)
	for i := range out {
		out[i].Lat += lat - origin.Lat
		out[i].Lon = geo.WrapLon(out[i].Lon + lon - origin.Lon)
	}
	return out
}

// fitsCases are tracks at latitudes from the equator to 80°, across the
// antimeridian, and with tolerances from centimetres to a kilometre.
var fitsCases = []struct {
	name     string
	lat, lon float64
	eps      float64
}{
	{"equator 1 m", 0, 10, 1},
	{"munich 5 m", 48.137, 11.575, 5},
	{"munich 1 cm", 48.137, 11.575, 0.01},
	{"south 20 m", -33.86, 151.21, 20},
	{"80° north 5 m", 80, 20, 5},
	{"antimeridian 10 m", 51.5, 179.99, 10},
	{"antimeridian 80° south 1 km", -80, -179.995, 1000},
}

func TestFitsDecidesAsSyncedDistance(t *testing.T) {
	for _, tc := range fitsCases {
		t.Run(tc.name, func(t *testing.T) {
			s := trackSettings(tc.eps)
			f := New(s)
			checked := 0
			for i, x := range driveAt(20000, 7, tc.lat, tc.lon) {
				if f.anchor != nil {
					if got, want := f.fits(x), fitsBySyncedDistance(f, x); got != want {
						t.Fatalf("fix %d: fits = %v, geo.SyncedDistance says %v", i, got, want)
					}
					checked++
				}
				f.Push(x, x.TS)
			}
			if checked < 19000 {
				t.Fatalf("only %d candidates checked", checked)
			}
		})
	}
}

// TestFitsAtExactlyEpsilon puts a buffered fix exactly ε (as
// geo.SyncedDistance measures it) off anchor→x: it fits, and does not at the
// next smaller ε — the margin's fallback decides these.
func TestFitsAtExactlyEpsilon(t *testing.T) {
	for _, lat := range []float64{0, 48, 80, -60} {
		for _, off := range []float64{0.5, 5, 300} {
			t.Run(fmt.Sprintf("lat %g off %g m", lat, off), func(t *testing.T) {
				a := fix.Fix{Device: "d", TS: t0, Lat: lat, Lon: 10}
				mid := geo.Destination(geo.Point{Lat: lat, Lon: 10}, 90, 500)
				side := geo.Destination(mid, 30, off)
				p := fix.Fix{Device: "d", TS: t0.Add(50 * time.Second), Lat: side.Lat, Lon: side.Lon}
				end := geo.Destination(geo.Point{Lat: lat, Lon: 10}, 90, 1000)
				x := fix.Fix{Device: "d", TS: t0.Add(100 * time.Second), Lat: end.Lat, Lon: end.Lon}
				sed := geo.SyncedDistance(timed(p), timed(a), timed(x))
				for _, tc := range []struct {
					eps  float64
					want bool
				}{{sed, true}, {math.Nextafter(sed, 0), false}, {sed * 1.01, true}, {sed * 0.99, false}} {
					f := New(trackSettings(tc.eps))
					f.Push(a, a.TS)
					f.Push(p, p.TS)
					if got := f.fits(x); got != tc.want {
						t.Errorf("ε %.17g (SED %.17g): fits = %v, want %v", tc.eps, sed, got, tc.want)
					}
				}
			})
		}
	}
}

// bruteForceMaxSED is the largest synchronised distance of a raw fix from
// the kept track, found without MaxDeviation's search: every kept segment
// spanning the raw fix's instant is tried, the position on it interpolated
// here, and the distance taken on a plane at the pair's mean latitude.
func bruteForceMaxSED(raw, kept []fix.Fix) float64 {
	worst := 0.0
	for _, r := range raw {
		best := math.Inf(1)
		if !r.TS.After(kept[0].TS) {
			best = geo.Haversine(point(r), point(kept[0]))
		}
		if !r.TS.Before(kept[len(kept)-1].TS) {
			best = math.Min(best, geo.Haversine(point(r), point(kept[len(kept)-1])))
		}
		for i := 1; i < len(kept); i++ {
			a, b := kept[i-1], kept[i]
			if r.TS.Before(a.TS) || r.TS.After(b.TS) {
				continue
			}
			share := r.TS.Sub(a.TS).Seconds() / b.TS.Sub(a.TS).Seconds()
			q := geo.Point{Lat: a.Lat + (b.Lat-a.Lat)*share, Lon: a.Lon + geo.WrapLon(b.Lon-a.Lon)*share}
			best = math.Min(best, geo.Haversine(point(r), q))
		}
		worst = math.Max(worst, best)
	}
	return worst
}

// TestSimplifiedTrackStaysWithinTolerance checks the simplifier's documented
// guarantee against bruteForceMaxSED. Haversine and the flat distance the
// simplifier uses agree to a millimetre at these scales (geo's tests), so the
// check allows 1 mm.
func TestSimplifiedTrackStaysWithinTolerance(t *testing.T) {
	for _, tc := range fitsCases {
		t.Run(tc.name, func(t *testing.T) {
			raw := driveAt(3000, 11, tc.lat, tc.lon)
			kept := simplifyAll(NewSimplifier(tc.eps), raw)
			if got := bruteForceMaxSED(raw, kept); got > tc.eps+1e-3 {
				t.Errorf("ε %g: a raw fix is %.4f m from the kept track", tc.eps, got)
			}
			// Below the drive's 3 m of noise nearly every fix is kept.
			if tc.eps >= 1 && len(kept) >= len(raw) {
				t.Errorf("kept %d of %d", len(kept), len(raw))
			}
		})
	}
}

func TestBudgetTrackStaysWithinItsBound(t *testing.T) {
	raw := driveAt(20000, 3, 48.137, 11.575)
	for _, n := range []int{50, 500, 5000} {
		b := NewBudget(n, 1)
		for _, x := range raw {
			b.Push(x)
		}
		kept, bound := b.Finish()
		if len(kept) > n {
			t.Fatalf("N %d: kept %d", n, len(kept))
		}
		if got := bruteForceMaxSED(raw, kept); got > bound+1e-3 {
			t.Errorf("N %d: a raw fix is %.4f m from the kept track, bound %.4f m", n, got, bound)
		}
	}
}
