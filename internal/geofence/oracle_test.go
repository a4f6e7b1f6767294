package geofence_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/paulmach/orb"

	"github.com/geotrack/geotrack/internal/geofence"
)

// The oracle: independent of orb and of this package's geometry code.
// Containment by winding number (orb uses ray crossing), circles by the
// spherical law of cosines (the package uses haversine), segment crossing
// by dense sampling along the segment.

func windingNumber(ring [][2]float64, x, y float64) int {
	wn := 0
	for i := 0; i+1 < len(ring); i++ {
		a, b := ring[i], ring[i+1]
		cross := (b[0]-a[0])*(y-a[1]) - (x-a[0])*(b[1]-a[1])
		if a[1] <= y {
			if b[1] > y && cross > 0 {
				wn++
			}
		} else if b[1] <= y && cross < 0 {
			wn--
		}
	}
	return wn
}

func oraclePolygon(rings [][][2]float64, x, y float64) bool {
	if windingNumber(rings[0], x, y) == 0 {
		return false
	}
	for _, h := range rings[1:] {
		if windingNumber(h, x, y) != 0 {
			return false
		}
	}
	return true
}

func lawOfCosinesM(lon1, lat1, lon2, lat2 float64) float64 {
	r := math.Pi / 180
	c := math.Sin(lat1*r)*math.Sin(lat2*r) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Cos((lon2-lon1)*r)
	// orb.EarthRadius: the model is shared, the formula is not.
	return 6378137 * math.Acos(math.Max(-1, math.Min(1, c)))
}

// distToRings is the oracle's planar distance (in degrees) from a point to
// the rings, used only to skip points too close to call.
func distToRings(rings [][][2]float64, x, y float64) float64 {
	best := math.Inf(1)
	for _, r := range rings {
		for i := 0; i+1 < len(r); i++ {
			ax, ay, bx, by := r[i][0], r[i][1], r[i+1][0], r[i+1][1]
			dx, dy := bx-ax, by-ay
			t := ((x-ax)*dx + (y-ay)*dy) / (dx*dx + dy*dy)
			t = math.Max(0, math.Min(1, t))
			best = math.Min(best, math.Hypot(x-ax-t*dx, y-ay-t*dy))
		}
	}
	return best
}

// segmentToRings is the smallest distance between segment ab and a ring
// vertex, or between a or b and a ring edge (the distance of two segments
// that do not intersect).
func segmentToRings(rings [][][2]float64, a, b [2]float64) float64 {
	best := math.Min(distToRings(rings, a[0], a[1]), distToRings(rings, b[0], b[1]))
	seg := [][][2]float64{{a, b}}
	for _, r := range rings {
		for _, v := range r {
			best = math.Min(best, distToRings(seg, v[0], v[1]))
		}
	}
	return best
}

// starRing is a simple polygon: vertices at sorted random angles and random
// radii around a centre, closed, counterclockwise unless cw.
func starRing(rng *rand.Rand, cx, cy, rmin, rmax float64, n int, cw bool) [][2]float64 {
	// Jittered even angles keep the centre in the kernel: star-shaped, so simple.
	angles := make([]float64, n)
	for i := range angles {
		angles[i] = (float64(i) + rng.Float64()*0.9) * 2 * math.Pi / float64(n)
	}
	sort.Float64s(angles)
	ring := make([][2]float64, 0, n+1)
	for _, a := range angles {
		r := rmin + rng.Float64()*(rmax-rmin)
		ring = append(ring, [2]float64{cx + r*math.Cos(a), cy + r*math.Sin(a)})
	}
	if cw {
		for i, j := 0, len(ring)-1; i < j; i, j = i+1, j-1 {
			ring[i], ring[j] = ring[j], ring[i]
		}
	}
	return append(ring, ring[0])
}

func TestAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const eps = 1e-9
	checkedIn, checkedCross := 0, 0
	for trial := 0; trial < 200; trial++ {
		cx, cy := 13+rng.Float64()*0.5, 52+rng.Float64()*0.5
		size := 0.001 + rng.Float64()*0.02
		rings := [][][2]float64{starRing(rng, cx, cy, size*0.5, size, 8+rng.IntN(193), rng.IntN(2) == 0)}
		if rng.IntN(2) == 0 { // a hole inside the exterior's minimum radius
			rings = append(rings, starRing(rng, cx, cy, size*0.1, size*0.4, 3+rng.IntN(30), rng.IntN(2) == 0))
		}
		body, _ := json.Marshal(map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Polygon", "coordinates": rings},
			"properties": map[string]any{"name": "random"}})
		fs, err := geofence.Decode(body)
		if err != nil {
			t.Fatalf("trial %d: random simple polygon refused: %v\n%s", trial, err, body)
		}
		fence := &fs[0]
		for k := 0; k < 300; k++ {
			x, y := cx+(rng.Float64()*2-1)*size*1.2, cy+(rng.Float64()*2-1)*size*1.2
			if distToRings(rings, x, y) < eps {
				continue
			}
			checkedIn++
			if got, want := fence.Contains(orb.Point{x, y}), oraclePolygon(rings, x, y); got != want {
				t.Fatalf("trial %d: Contains(%v,%v) = %v, oracle %v", trial, x, y, got, want)
			}
		}
		for k := 0; k < 50; k++ {
			a := [2]float64{cx + (rng.Float64()*2-1)*size*1.5, cy + (rng.Float64()*2-1)*size*1.5}
			b := [2]float64{cx + (rng.Float64()*2-1)*size*1.5, cy + (rng.Float64()*2-1)*size*1.5}
			if oraclePolygon(rings, a[0], a[1]) || oraclePolygon(rings, b[0], b[1]) {
				continue // Crosses is asked only when neither end is inside
			}
			const samples = 2000
			inside := false
			for s := 0; s <= samples && !inside; s++ {
				f := float64(s) / samples
				inside = oraclePolygon(rings, a[0]+f*(b[0]-a[0]), a[1]+f*(b[1]-a[1]))
			}
			step := math.Hypot(b[0]-a[0], b[1]-a[1]) / samples
			if !inside && segmentToRings(rings, a, b) < 2*step {
				continue // grazes the boundary closer than the sampling resolves
			}
			checkedCross++
			got := fence.Crosses(orb.Point{a[0], a[1]}, orb.Point{b[0], b[1]})
			if got && !inside {
				// A passage narrower than the sampling step: look closer.
				const fine = 400000
				for s := 0; s <= fine && !inside; s++ {
					f := float64(s) / fine
					inside = oraclePolygon(rings, a[0]+f*(b[0]-a[0]), a[1]+f*(b[1]-a[1]))
				}
			}
			if got != inside {
				t.Fatalf("trial %d: Crosses(%v,%v) = %v, oracle %v", trial, a, b, got, inside)
			}
		}
	}
	for trial := 0; trial < 200; trial++ {
		cx, cy := -180+rng.Float64()*360, -80+rng.Float64()*160
		r := 1 + rng.Float64()*99999
		body, _ := json.Marshal(map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Point", "coordinates": []float64{cx, cy}},
			"properties": map[string]any{"name": "circle", "radius_m": r}})
		fs, err := geofence.Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		deg := r / 111195 * 1.5
		for k := 0; k < 200; k++ {
			x := cx + (rng.Float64()*2-1)*deg/math.Max(0.05, math.Cos(cy*math.Pi/180))
			y := math.Max(-90, math.Min(90, cy+(rng.Float64()*2-1)*deg))
			if x < -180 || x > 180 {
				continue
			}
			d := lawOfCosinesM(cx, cy, x, y)
			if math.Abs(d-r) < 0.01 {
				continue
			}
			checkedIn++
			if got := fs[0].Contains(orb.Point{x, y}); got != (d <= r) {
				t.Fatalf("circle %v r=%v: Contains(%v,%v) = %v, distance %v", []float64{cx, cy}, r, x, y, got, d)
			}
		}
	}
	t.Logf("checked %d points and %d segments against the oracle", checkedIn, checkedCross)
	if checkedIn < 50000 || checkedCross < 1000 {
		t.Fatalf("too few checks: %d points, %d segments", checkedIn, checkedCross)
	}
}

// TestDistanceToBoundaryWithinAgainstOracle: the indexed, bounded distance
// against every edge measured by the oracle in the same local projection.
func TestDistanceToBoundaryWithinAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	const k = 6378137 * math.Pi / 180 // metres per degree of latitude (orb.EarthRadius)
	near, far := 0, 0
	for trial := 0; trial < 100; trial++ {
		cx, cy := 13+rng.Float64()*0.5, 52+rng.Float64()*0.5
		size := 0.0005 + rng.Float64()*0.005
		rings := [][][2]float64{starRing(rng, cx, cy, size*0.5, size, 8+rng.IntN(193), false)}
		if rng.IntN(2) == 0 {
			rings = append(rings, starRing(rng, cx, cy, size*0.1, size*0.4, 3+rng.IntN(100), true))
		}
		body, _ := json.Marshal(map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Polygon", "coordinates": rings},
			"properties": map[string]any{"name": "random"}})
		fs, err := geofence.Decode(body)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		for i := 0; i < 100; i++ {
			x, y := cx+(rng.Float64()*2-1)*size*1.5, cy+(rng.Float64()*2-1)*size*1.5
			kx := k * math.Cos(y*math.Pi/180)
			projected := make([][][2]float64, len(rings))
			for r, ring := range rings {
				for _, v := range ring {
					projected[r] = append(projected[r], [2]float64{(v[0] - x) * kx, (v[1] - y) * k})
				}
			}
			want := distToRings(projected, 0, 0)
			limit := 1 + rng.Float64()*200
			got := fs[0].DistanceToBoundaryWithin(orb.Point{x, y}, limit)
			switch {
			case want <= limit-1e-6:
				near++
				if math.Abs(got-want) > 1e-6 {
					t.Fatalf("trial %d: DistanceToBoundaryWithin(%v,%v, %v) = %v, oracle %v", trial, x, y, limit, got, want)
				}
			case want > limit+1e-6:
				far++
				if !math.IsInf(got, 1) {
					t.Fatalf("trial %d: DistanceToBoundaryWithin(%v,%v, %v) = %v, oracle %v (beyond the limit: +Inf)", trial, x, y, limit, got, want)
				}
			}
		}
	}
	if near < 1000 || far < 1000 {
		t.Fatalf("too few checks: %d within the limit, %d beyond", near, far)
	}
}
