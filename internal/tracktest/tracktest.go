// Package tracktest holds test helpers shared by the track formats (GeoJSON,
// GPX): a sample track and a round-trip comparison of fixes. Import it only
// from _test.go files.
package tracktest

import (
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Track returns n fixes of device "d" at 400 m, one a second from
// 2026-03-01 08:00 UTC, each 1e-5 degrees north-east of the one before.
func Track(n int) []fix.Fix {
	fixes := make([]fix.Fix, n)
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range fixes {
		fixes[i] = fix.Fix{Device: "d", TS: base.Add(time.Duration(i) * time.Second), Lat: 47 + float64(i)*1e-5, Lon: 8 + float64(i)*1e-5, Alt: fix.Float(400)}
	}
	return fixes
}

// AssertSameFixes compares lat/lon to 1e-7 degrees, alt exactly and time to
// the millisecond, which is what the formats carry.
func AssertSameFixes(t testing.TB, in, out []fix.Fix) {
	t.Helper()
	if len(in) != len(out) {
		t.Fatalf("got %d fixes, want %d", len(out), len(in))
	}
	for i := range in {
		a, b := in[i], out[i]
		if math.Abs(a.Lat-b.Lat) > 1e-7 || math.Abs(a.Lon-b.Lon) > 1e-7 {
			t.Errorf("fix %d: position %v,%v, want %v,%v", i, b.Lat, b.Lon, a.Lat, a.Lon)
		}
		if !b.TS.Equal(a.TS.Truncate(time.Millisecond)) {
			t.Errorf("fix %d: time %v, want %v", i, b.TS, a.TS.Truncate(time.Millisecond))
		}
		if (a.Alt == nil) != (b.Alt == nil) || a.Alt != nil && *a.Alt != *b.Alt {
			t.Errorf("fix %d: alt %v, want %v", i, b.Alt, a.Alt)
		}
		if b.Device != a.Device {
			t.Errorf("fix %d: device %q, want %q", i, b.Device, a.Device)
		}
	}
}
