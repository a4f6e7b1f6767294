package geofence

import (
	"hash/maphash"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/tidwall/rtree"
)

// Index is an immutable spatial index of one tenant's fences: an R-tree
// over their bounding boxes, refined by each fence's exact test.
type Index struct {
	tree   rtree.RTreeGN[float64, int32]
	fences []*Fence
	byID   map[string]*Fence
	// cands holds, in the R-tree's order, what the per-fix tests of a
	// candidate read, in one array: most candidates are ruled out or
	// decided without touching their Fence (one cache line instead of a
	// chain of pointers).
	cands []candidate
}

// candidate is a fence as the evaluator's candidate tests read it.
type candidate struct {
	fence  *Fence
	grid   *cellGrid // polygons
	center orb.Point // circles
	radius float64   // circles, metres
	idHash uint64    // hashID(fence.ID): the evaluator matches the fences a device is inside by it
	circle bool
	every  bool // applies to every device
}

// idSeed seeds hashID for the process (the hashes are never stored).
var idSeed = maphash.MakeSeed()

func hashID(id string) uint64 { return maphash.String(idSeed, id) }

// contains is fence.Contains for p, with the fence's box given (the
// R-tree's copy of it).
func (c *candidate) contains(p orb.Point, bmin, bmax [2]float64) bool {
	if p[0] < bmin[0] || p[0] > bmax[0] || p[1] < bmin[1] || p[1] > bmax[1] {
		return false
	}
	if c.circle {
		return geo.DistanceHaversine(c.center, p) <= c.radius
	}
	if c.grid != nil {
		switch c.grid.at(p) {
		case cellInside:
			return true
		case cellOutside:
			return false
		}
	}
	return c.fence.preparedContains(p)
}

// crosses is fence.Crosses for the segment a to b, ruling out first what
// the box and the grid rule out.
func (c *candidate) crosses(a, b orb.Point, bmin, bmax [2]float64) bool {
	if max(a[0], b[0]) < bmin[0] || min(a[0], b[0]) > bmax[0] || max(a[1], b[1]) < bmin[1] || min(a[1], b[1]) > bmax[1] {
		return false
	}
	if c.grid != nil {
		box := orb.Bound{Min: orb.Point{bmin[0], bmin[1]}, Max: orb.Point{bmax[0], bmax[1]}}
		if c.grid.outsideAll(clampTo(a, box), clampTo(b, box)) {
			return false
		}
	}
	return c.fence.Crosses(a, b)
}

// NewIndex indexes fences (the slice is kept; do not modify it after).
func NewIndex(fences []*Fence) *Index {
	idx := &Index{fences: fences, byID: make(map[string]*Fence, len(fences)), cands: make([]candidate, len(fences))}
	for i, f := range fences {
		idx.cands[i] = candidate{fence: f, grid: f.grid, center: f.Center, radius: f.RadiusM, idHash: hashID(f.ID), circle: f.Kind == KindCircle, every: len(f.Devices) == 0}
		idx.byID[f.ID] = f
		idx.tree.Insert([2]float64{f.Bound.Min[0], f.Bound.Min[1]}, [2]float64{f.Bound.Max[0], f.Bound.Max[1]}, int32(i))
	}
	return idx
}

// Len is the number of fences.
func (idx *Index) Len() int {
	if idx == nil {
		return 0
	}
	return len(idx.fences)
}

// Fence returns the fence with id, or nil.
func (idx *Index) Fence(id string) *Fence {
	if idx == nil {
		return nil
	}
	return idx.byID[id]
}

// Fences returns every fence, sorted by id.
func (idx *Index) Fences() []*Fence {
	if idx == nil {
		return nil
	}
	out := append([]*Fence(nil), idx.fences...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// near calls fn with each candidate whose box meets the box of a and b,
// and that box, until fn returns false.
func (idx *Index) near(a, b orb.Point, fn func(c *candidate, bmin, bmax [2]float64) bool) {
	if idx == nil {
		return
	}
	idx.tree.Search([2]float64{min(a[0], b[0]), min(a[1], b[1])}, [2]float64{max(a[0], b[0]), max(a[1], b[1])},
		func(bmin, bmax [2]float64, i int32) bool { return fn(&idx.cands[i], bmin, bmax) })
}

// Near calls fn for each fence whose bounding box meets the box of a and b
// (pass a == b for a point), until fn returns false.
func (idx *Index) Near(a, b orb.Point, fn func(*Fence) bool) {
	if idx == nil {
		return
	}
	box := orb.Bound{Min: a, Max: a}.Extend(b)
	idx.tree.Search([2]float64{box.Min[0], box.Min[1]}, [2]float64{box.Max[0], box.Max[1]},
		func(_, _ [2]float64, i int32) bool { return fn(idx.fences[i]) })
}
