package geofence

import (
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/geojson/geometry"
)

// preparedShape is a polygon fence's rings prepared once for the
// per-fix tests: tidwall/geojson's geometry (tile38's) keeps each ring's
// bounding box and, for rings of 64 positions or more, a segment index, so
// a containment or crossing test reads only the edges near the fix. orb's
// planar containment recomputes each ring's box over every vertex per call.
type preparedShape []*geometry.Poly

func prepareShape(shape orb.MultiPolygon) preparedShape {
	out := make(preparedShape, 0, len(shape))
	for _, poly := range shape {
		var holes [][]geometry.Point
		for _, hole := range poly[1:] {
			holes = append(holes, toGeometryPoints(hole))
		}
		out = append(out, geometry.NewPoly(toGeometryPoints(poly[0]), holes, geometry.DefaultIndexOptions))
	}
	return out
}

func toGeometryPoints(ring orb.Ring) []geometry.Point {
	pts := make([]geometry.Point, len(ring))
	for i, p := range ring {
		pts[i] = geometry.Point{X: p[0], Y: p[1]}
	}
	return pts
}

// Contains reports whether p (lon/lat) is inside the fence: haversine
// distance to the centre for a circle, planar containment (holes excluded;
// tidwall/geojson's indexed rings) for polygons.
func (f *Fence) Contains(p orb.Point) bool {
	if !f.Bound.Contains(p) {
		return false
	}
	if f.Kind == KindCircle {
		return geo.DistanceHaversine(f.Center, p) <= f.RadiusM
	}
	if f.grid != nil {
		switch f.grid.at(p) {
		case cellInside:
			return true
		case cellOutside:
			return false
		}
	}
	return f.preparedContains(p)
}

// preparedContains is the library's containment test on the prepared
// rings (holes excluded).
func (f *Fence) preparedContains(p orb.Point) bool {
	gp := geometry.Point{X: p[0], Y: p[1]}
	for _, poly := range f.prepared {
		if poly.ContainsPoint(gp) {
			return true
		}
	}
	return false
}

// DistanceToBoundaryWithin is the distance in metres from p to the fence's
// boundary (for polygons every ring, holes included) when it is at most
// limitM, and +Inf when it is more: only the edges near p are read (the
// prepared rings' segment index). Measured in a local equirectangular
// projection around p: exact enough at fence scale.
func (f *Fence) DistanceToBoundaryWithin(p orb.Point, limitM float64) float64 {
	if f.Kind == KindCircle {
		if d := math.Abs(geo.DistanceHaversine(f.Center, p) - f.RadiusM); d <= limitM {
			return d
		}
		return math.Inf(1)
	}
	proj := newLocal(p)
	// The box of degrees that the projection maps onto the square of
	// ±limitM around p: an edge closer than limitM meets it.
	dLat := limitM / proj.ky
	dLon := 180.0
	if proj.kx > 1e-9 {
		dLon = limitM / proj.kx
	}
	near := geometry.Rect{Min: geometry.Point{X: p[0] - dLon, Y: p[1] - dLat}, Max: geometry.Point{X: p[0] + dLon, Y: p[1] + dLat}}
	best := math.Inf(1)
	closer := func(edge geometry.Segment, _ int) bool {
		d := planar.DistanceFromSegmentSquared(proj.to(orb.Point{edge.A.X, edge.A.Y}), proj.to(orb.Point{edge.B.X, edge.B.Y}), orb.Point{})
		best = math.Min(best, d)
		return true
	}
	for _, poly := range f.prepared {
		poly.Exterior.Search(near, closer)
		for _, hole := range poly.Holes {
			hole.Search(near, closer)
		}
	}
	if d := math.Sqrt(best); d <= limitM {
		return d
	}
	return math.Inf(1)
}

// Crosses reports whether the segment a→b (two consecutive fixes) touches
// the fence: for a circle, the centre lies within the radius of the segment;
// for polygons, the segment intersects a ring. A segment whose ends are both
// outside and which touches the fence passed through it.
func (f *Fence) Crosses(a, b orb.Point) bool {
	seg := orb.Bound{Min: a, Max: a}.Extend(b)
	if !seg.Intersects(f.Bound) {
		return false
	}
	if f.Kind == KindCircle {
		proj := newLocal(f.Center)
		return planar.DistanceFromSegment(proj.to(a), proj.to(b), orb.Point{}) <= f.RadiusM
	}
	// Clipped to the fence's box, the segment's box lies in cells the grid
	// knows to be outside: no boundary there to touch.
	// (The box of the clamped ends is the part of the segment's box within
	// the fence's, which holds the part of the segment that could touch it.)
	if f.grid != nil && f.grid.outsideAll(clampTo(a, f.Bound), clampTo(b, f.Bound)) {
		return false
	}
	s := geometry.Segment{A: geometry.Point{X: a[0], Y: a[1]}, B: geometry.Point{X: b[0], Y: b[1]}}
	rect := s.Rect()
	hit := false
	touches := func(edge geometry.Segment, _ int) bool {
		hit = edge.IntersectsSegment(s)
		return !hit
	}
	for _, poly := range f.prepared {
		poly.Exterior.Search(rect, touches)
		for _, hole := range poly.Holes {
			if hit {
				break
			}
			hole.Search(rect, touches)
		}
		if hit {
			return true
		}
	}
	return false
}

func clampTo(p orb.Point, b orb.Bound) orb.Point {
	return orb.Point{min(max(p[0], b.Min[0]), b.Max[0]), min(max(p[1], b.Min[1]), b.Max[1])}
}

// local is an equirectangular projection to metres around a reference point.
type local struct {
	ref    orb.Point
	kx, ky float64
}

func newLocal(ref orb.Point) local {
	k := earthRadiusM * math.Pi / 180
	return local{ref: ref, kx: k * math.Cos(ref.Lat()*math.Pi/180), ky: k}
}

func (l local) to(p orb.Point) orb.Point {
	return orb.Point{(p.Lon() - l.ref.Lon()) * l.kx, (p.Lat() - l.ref.Lat()) * l.ky}
}

// orientation is the sign of the cross product (b-a)×(c-a).
func orientation(a, b, c orb.Point) int {
	v := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func onSegment(a, b, p orb.Point) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

// segmentsIntersect reports whether segments ab and cd share a point
// (touching and collinear overlap included).
func segmentsIntersect(a, b, c, d orb.Point) bool {
	o1, o2 := orientation(a, b, c), orientation(a, b, d)
	o3, o4 := orientation(c, d, a), orientation(c, d, b)
	if o1 != o2 && o3 != o4 {
		return true
	}
	return o1 == 0 && onSegment(a, b, c) || o2 == 0 && onSegment(a, b, d) ||
		o3 == 0 && onSegment(c, d, a) || o4 == 0 && onSegment(c, d, b)
}

type edge struct {
	a, b       orb.Point
	minX, maxX float64
	ring, idx  int
	ringEdges  int
}

// firstSelfIntersection finds two edges of the polygon's rings that meet
// other than at the vertex two consecutive edges of a ring share; it
// returns their rings. A sweep over edges sorted by their left end keeps it
// far from quadratic on real shapes.
func firstSelfIntersection(poly orb.Polygon) (ringA, ringB int, found bool) {
	var edges []edge
	for r, ring := range poly {
		n := len(ring) - 1
		for k := 0; k < n; k++ {
			a, b := ring[k], ring[k+1]
			edges = append(edges, edge{a: a, b: b, minX: math.Min(a[0], b[0]), maxX: math.Max(a[0], b[0]), ring: r, idx: k, ringEdges: n})
		}
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].minX < edges[j].minX })
	for i := range edges {
		e := &edges[i]
		for j := i + 1; j < len(edges) && edges[j].minX <= e.maxX; j++ {
			g := &edges[j]
			if e.ring == g.ring && adjacent(e.idx, g.idx, e.ringEdges) {
				// They share a vertex; they intersect elsewhere only when
				// collinear and folding back over each other.
				if foldsBack(e, g) {
					return e.ring, g.ring, true
				}
				continue
			}
			if segmentsIntersect(e.a, e.b, g.a, g.b) {
				return min(e.ring, g.ring), max(e.ring, g.ring), true
			}
		}
	}
	return 0, 0, false
}

func adjacent(i, j, n int) bool {
	d := i - j
	return d == 1 || d == -1 || d == n-1 || d == -(n-1)
}

// foldsBack reports whether two consecutive edges are collinear and overlap
// (a spike: A→B→A').
func foldsBack(e, g *edge) bool {
	if orientation(e.a, e.b, g.a) != 0 || orientation(e.a, e.b, g.b) != 0 {
		return false
	}
	// Collinear: they overlap beyond the shared vertex when the far end of
	// one lies on the other.
	shared := e.b
	if e.a == g.a || e.a == g.b {
		shared = e.a
	}
	for _, p := range []orb.Point{e.a, e.b, g.a, g.b} {
		if p == shared {
			continue
		}
		if (onSegment(e.a, e.b, p) && p != e.a && p != e.b) || (onSegment(g.a, g.b, p) && p != g.a && p != g.b) {
			return true
		}
	}
	return false
}
