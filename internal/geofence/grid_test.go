package geofence

import (
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// TestCellGridAgreesWithTheRings: on shapes with holes, concave parts and
// several polygons, every point gets the same answer from the grid path as
// from the library's ring test alone, points on cell borders and on edges
// included, and the grid decides most cells by itself.
func TestCellGridAgreesWithTheRings(t *testing.T) {
	shapes := map[string]string{
		"square with a hole": `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]],[[0.3,0.3],[0.3,0.6],[0.6,0.6],[0.6,0.3],[0.3,0.3]]]},"properties":{"name":"a"}}`,
		"L shape":            `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,0.5],[0.5,0.5],[0.5,2],[0,2],[0,0]]]},"properties":{"name":"b"}}`,
		"two polygons":       `{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,1],[0,0]]],[[[3,3],[4,3],[4,4],[3,4],[3,3]]]]},"properties":{"name":"c"}}`,
		"star":               `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,3],[1,1],[3,0],[1,-1],[0,-3],[-1,-1],[-3,0],[-1,1],[0,3]]]},"properties":{"name":"d"}}`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, body := range shapes {
		t.Run(name, func(t *testing.T) {
			fs, err := Decode([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			f := &fs[0]
			if f.grid == nil {
				t.Fatal("no grid")
			}
			decided := 0
			for i := 0; i < gridN*gridN; i++ {
				if c := f.grid.cell(i); c != cellEdge {
					decided++
				}
			}
			if decided < gridN*gridN/4 {
				t.Errorf("the grid decides %d of %d cells", decided, gridN*gridN)
			}
			b := f.Bound
			w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
			check := func(p orb.Point) {
				if got, want := f.Contains(p), f.preparedContains(p); got != want {
					t.Fatalf("Contains(%v) = %v, the rings say %v (cell class %d)", p, got, want, f.grid.at(p))
				}
			}
			for i := 0; i < 20000; i++ {
				check(orb.Point{b.Min[0] + rng.Float64()*w, b.Min[1] + rng.Float64()*h})
			}
			for i := 0; i <= gridN; i++ { // cell borders
				for j := 0; j <= 4*gridN; j++ {
					check(orb.Point{b.Min[0] + float64(i)*w/gridN, b.Min[1] + float64(j)*h/(4*gridN)})
					check(orb.Point{b.Min[0] + float64(j)*w/(4*gridN), b.Min[1] + float64(i)*h/gridN})
				}
			}
			for _, poly := range f.Shape { // vertices and edge midpoints
				for _, ring := range poly {
					for k := 0; k+1 < len(ring); k++ {
						check(ring[k])
						check(orb.Point{(ring[k][0] + ring[k+1][0]) / 2, (ring[k][1] + ring[k+1][1]) / 2})
					}
				}
			}
		})
	}
}

// TestCandidatesAgreeWithTheirFences: the index's candidate tests (what the
// evaluator runs) answer as Fence.Contains and Fence.Crosses do, for points
// and short segments over polygons, holes, several polygons and circles.
func TestCandidatesAgreeWithTheirFences(t *testing.T) {
	bodies := []string{
		`{"type":"Feature","id":"hole","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]],[[0.3,0.3],[0.3,0.6],[0.6,0.6],[0.6,0.3],[0.3,0.3]]]},"properties":{"name":"a"}}`,
		`{"type":"Feature","id":"l","geometry":{"type":"Polygon","coordinates":[[[0.5,0.5],[2,0.5],[2,1],[1,1],[1,2],[0.5,2],[0.5,0.5]]]},"properties":{"name":"b"}}`,
		`{"type":"Feature","id":"two","geometry":{"type":"MultiPolygon","coordinates":[[[[1.2,1.2],[1.5,1.2],[1.5,1.5],[1.2,1.5],[1.2,1.2]]],[[[0.1,1.5],[0.4,1.5],[0.4,1.9],[0.1,1.9],[0.1,1.5]]]]},"properties":{"name":"c"}}`,
		`{"type":"Feature","id":"circle","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"name":"d","radius_m":30000}}`,
	}
	var fences []*Fence
	for _, b := range bodies {
		fs, err := Decode([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		fs[0].ID = fs[0].Name
		fences = append(fences, &fs[0])
	}
	idx := NewIndex(fences)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		a := orb.Point{rng.Float64()*2.2 - 0.1, rng.Float64()*2.2 - 0.1}
		b := orb.Point{a[0] + rng.NormFloat64()*0.05, a[1] + rng.NormFloat64()*0.05}
		seen := map[*Fence]bool{}
		idx.near(a, b, func(c *candidate, bmin, bmax [2]float64) bool {
			seen[c.fence] = true
			if got, want := c.contains(b, bmin, bmax), c.fence.Contains(b); got != want {
				t.Fatalf("%s: candidate contains %v = %v, fence %v", c.fence.ID, b, got, want)
			}
			if got, want := c.crosses(a, b, bmin, bmax), c.fence.Crosses(a, b); got != want {
				t.Fatalf("%s: candidate crosses %v-%v = %v, fence %v", c.fence.ID, a, b, got, want)
			}
			return true
		})
		for _, f := range fences {
			if !seen[f] && (f.Contains(b) || f.Crosses(a, b)) {
				t.Fatalf("%s holds %v or meets %v-%v but was no candidate", f.ID, b, a, b)
			}
		}
	}
}
