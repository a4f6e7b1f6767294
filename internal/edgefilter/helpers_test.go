package edgefilter

import (
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

var origin = geo.Point{Lat: 48.137, Lon: 11.575}

// at builds a fix dist metres along bearing brg from origin, sec seconds after t0.
func at(sec float64, brg, dist float64) fix.Fix {
	p := geo.Destination(origin, brg, dist)
	return fix.Fix{Device: "dev-1", TS: t0.Add(time.Duration(sec * float64(time.Second))), Lat: p.Lat, Lon: p.Lon}
}

// line is n fixes at 1 Hz moving east at speed m/s.
func line(n int, speed float64) []fix.Fix {
	out := make([]fix.Fix, n)
	for i := range out {
		out[i] = at(float64(i), 90, float64(i)*speed)
	}
	return out
}

// bigWindow lets the simplifier wait as long as it likes, to test the ε
// logic alone.
func bigWindow() Settings {
	s := DefaultSettings()
	s.WindowPoints, s.WindowS = 100000, 1e6
	return s
}

// replay pushes fixes, collecting forwarded fixes and the accepted ones
// (drop == "") plus stop ends that were held, i.e. every fix the ε bound
// covers.
func replay(t testing.TB, f *Filter, fixes []fix.Fix) (kept []fix.Fix) {
	t.Helper()
	for _, x := range fixes {
		out, _ := f.Push(x, x.TS)
		kept = append(kept, out...)
	}
	return kept
}

func checkOrdered(t testing.TB, kept []fix.Fix) {
	t.Helper()
	for i := 1; i < len(kept); i++ {
		if !kept[i].TS.After(kept[i-1].TS) {
			t.Fatalf("forwarded fix %d (%s) not after fix %d (%s)", i, fix.FormatTime(kept[i].TS), i-1, fix.FormatTime(kept[i-1].TS))
		}
	}
}
