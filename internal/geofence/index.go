package geofence

import (
	"sort"

	"github.com/paulmach/orb"
	"github.com/tidwall/rtree"
)

// Index is an immutable spatial index of one tenant's fences: an R-tree
// over their bounding boxes, refined by each fence's exact test.
type Index struct {
	tree   rtree.RTreeGN[float64, int32]
	fences []*Fence
	byID   map[string]*Fence
}

// NewIndex indexes fences (the slice is kept; do not modify it after).
func NewIndex(fences []*Fence) *Index {
	idx := &Index{fences: fences, byID: make(map[string]*Fence, len(fences))}
	for i, f := range fences {
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
