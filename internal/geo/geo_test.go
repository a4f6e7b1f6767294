package geo

import (
	"math"
	"testing"
	"time"
)

var (
	london = Point{Lat: 51.5074, Lon: -0.1278}
	paris  = Point{Lat: 48.8566, Lon: 2.3522}
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f ± %g", name, got, want, tol)
	}
}

func TestHaversine(t *testing.T) {
	tests := []struct {
		name string
		a, b Point
		want float64
		tol  float64
	}{
		{"london-paris", london, paris, 343_556, 500}, // ≈ 343.5 km, the textbook figure
		{"same point", london, london, 0, 0},
		{"one degree of latitude", Point{0, 0}, Point{1, 0}, EarthRadiusM * math.Pi / 180, 1e-6},
		{"one degree of longitude at equator", Point{0, 10}, Point{0, 11}, EarthRadiusM * math.Pi / 180, 1e-6},
		{"across the antimeridian", Point{0, 179.5}, Point{0, -179.5}, EarthRadiusM * math.Pi / 180, 1e-6},
		{"antipodes", Point{0, 0}, Point{0, 180}, EarthRadiusM * math.Pi, 1e-6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			near(t, "Haversine", Haversine(tc.a, tc.b), tc.want, tc.tol)
			near(t, "Haversine reversed", Haversine(tc.b, tc.a), tc.want, tc.tol)
		})
	}
}

func TestInitialBearing(t *testing.T) {
	tests := []struct {
		name string
		a, b Point
		want float64
	}{
		{"north", Point{0, 0}, Point{1, 0}, 0},
		{"east", Point{0, 0}, Point{0, 1}, 90},
		{"south", Point{1, 0}, Point{0, 0}, 180},
		{"west", Point{0, 1}, Point{0, 0}, 270},
		{"london-paris", london, paris, 148.1}, // known initial bearing ≈ 148°07'
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			near(t, "bearing", InitialBearing(tc.a, tc.b), tc.want, 0.1)
		})
	}
}

func TestDestinationRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		start   Point
		bearing float64
		dist    float64
	}{
		{"london 100 km south-east", london, 135, 100_000},
		{"short hop north", Point{34.07, -118.5}, 0, 5},
		{"across the antimeridian", Point{10, 179.9999}, 90, 1000},
		{"southern hemisphere", Point{-33.86, 151.21}, 250, 12_345},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Destination(tc.start, tc.bearing, tc.dist)
			near(t, "distance back", Haversine(tc.start, d), tc.dist, 1e-6*tc.dist+1e-6)
			if tc.dist > 1 {
				diff := math.Mod(InitialBearing(tc.start, d)-tc.bearing+540, 360) - 180
				near(t, "bearing back (difference)", diff, 0, 1e-6)
			}
			if d.Lon < -180 || d.Lon >= 180 {
				t.Errorf("lon %v not wrapped", d.Lon)
			}
		})
	}
}

func TestFlatDistanceAgreesWithHaversine(t *testing.T) {
	for _, lat := range []float64{0, 34, 51.5, -60, 80} {
		a := Point{lat, 10}
		for _, brg := range []float64{0, 45, 90, 200} {
			for _, d := range []float64{1, 5, 100, 1000} {
				b := Destination(a, brg, d)
				// Under a millimetre up to 1 km: the local projection is exact enough.
				near(t, "FlatDistance", FlatDistance(a, b), Haversine(a, b), 1e-3)
			}
		}
	}
}

func TestSegmentDistance(t *testing.T) {
	a := Point{34.0, -118.5}
	b := Destination(a, 90, 1000) // 1 km due east
	// The segment is straight in lat/lon, not the great circle (which bows
	// 1.3 cm north of it here), so its middle is the lat/lon midpoint.
	mid := Point{(a.Lat + b.Lat) / 2, (a.Lon + b.Lon) / 2}
	tests := []struct {
		name string
		p    Point
		want float64
	}{
		{"on the segment", mid, 0},
		{"5 m north of middle", Destination(mid, 0, 5), 5},
		{"5 m south of middle", Destination(mid, 180, 5), 5},
		{"beyond b", Destination(b, 90, 30), 30},
		{"before a", Destination(a, 270, 12), 12},
		{"diagonal off a", Destination(a, 225, 10), 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			near(t, "SegmentDistance", SegmentDistance(tc.p, a, b), tc.want, 0.01) // cm-accurate
		})
	}
	near(t, "degenerate segment", SegmentDistance(Destination(a, 0, 7), a, a), 7, 0.01)
}

func TestCrossTrack(t *testing.T) {
	a := Point{51.0, 0.0}
	b := Destination(a, 0, 2000) // due north
	tests := []struct {
		name string
		p    Point
		want float64
	}{
		{"right of northbound line", Destination(Destination(a, 0, 800), 90, 4), 4},
		{"left of northbound line", Destination(Destination(a, 0, 800), 270, 4), -4},
		{"beyond the end still measures to the line", Destination(Destination(b, 0, 500), 90, 3), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			near(t, "CrossTrack", CrossTrack(tc.p, a, b), tc.want, 0.01)
		})
	}
	near(t, "degenerate", CrossTrack(b, a, a), 0, 0)
}

func TestInterpolate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := TimedPoint{Point{0, 179.9}, t0}
	b := TimedPoint{Point{0.1, -179.9}, t0.Add(10 * time.Second)}
	tests := []struct {
		name string
		at   time.Time
		want Point
	}{
		{"start", t0, a.Point},
		{"before start clamps", t0.Add(-time.Hour), a.Point},
		{"end", b.T, b.Point},
		{"after end clamps", b.T.Add(time.Hour), b.Point},
		{"middle crosses the antimeridian", t0.Add(5 * time.Second), Point{0.05, -180}},
		{"quarter", t0.Add(2500 * time.Millisecond), Point{0.025, 179.95}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Interpolate(a, b, tc.at)
			if d := Haversine(got, tc.want); d > 0.01 {
				t.Errorf("Interpolate = %+v, want %+v (%.3f m off)", got, tc.want, d)
			}
		})
	}
	same := TimedPoint{Point{1, 1}, t0}
	if got := Interpolate(same, TimedPoint{Point{2, 2}, t0}, t0); got != same.Point {
		t.Errorf("zero time span: got %+v, want a", got)
	}
}

func TestSyncedDistance(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := TimedPoint{Point{34, -118}, t0}
	b := TimedPoint{Destination(a.Point, 90, 100), t0.Add(10 * time.Second)}
	// A point sitting at the start of the segment at mid-time is on the line
	// (perpendicular distance 0) but 50 m from where the object should be.
	p := TimedPoint{a.Point, t0.Add(5 * time.Second)}
	near(t, "SED of a hidden stop", SyncedDistance(p, a, b), 50, 0.01)
	near(t, "perpendicular distance of the same point", SegmentDistance(p.Point, a.Point, b.Point), 0, 0.01)
	q := TimedPoint{Destination(Destination(a.Point, 90, 30), 0, 4), t0.Add(3 * time.Second)}
	near(t, "SED on time but off track", SyncedDistance(q, a, b), 4, 0.01)
}

func TestPlaneRoundTrip(t *testing.T) {
	pl := NewPlane(Point{45, 179.99})
	for _, p := range []Point{{45, 179.99}, {45.01, -179.98}, {44.99, 179.97}} {
		x, y := pl.Project(p)
		back := pl.Unproject(x, y)
		if d := Haversine(p, back); d > 1e-6 {
			t.Errorf("round trip of %+v gave %+v (%.9f m off)", p, back, d)
		}
	}
}

func BenchmarkSyncedDistance(b *testing.B) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := TimedPoint{Point{34, -118}, t0}
	c := TimedPoint{Point{34.001, -118.001}, t0.Add(10 * time.Second)}
	p := TimedPoint{Point{34.0004, -118.0006}, t0.Add(4 * time.Second)}
	for b.Loop() {
		SyncedDistance(p, a, c)
	}
}
