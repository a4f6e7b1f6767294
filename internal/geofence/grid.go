package geofence

import (
	"math"

	"github.com/paulmach/orb"
)

// gridN is the side of a polygon fence's cell grid: gridN² cells of two
// bits each over the fence's box (576 bytes).
const gridN = 48

// Cell classes of a cellGrid.
const (
	cellEdge         uint8 = iota // an edge's box touches the cell: ask the library
	cellOutside                   // wholly outside the fence
	cellInside                    // wholly inside the fence
	cellUnclassified              // while the grid is built
)

// cellGrid answers most containment tests of a polygon fence without
// reading its rings: the fence's box is cut into gridN×gridN cells; a cell
// that no edge's bounding box touches (holes included) holds no boundary,
// so every point of it is on the same side, and so is every point of a
// connected region of such cells. Each region is decided once, when the
// fence is prepared, by the containment test of the library (the prepared
// rings); a fix in an edge cell is tested by the library as before. So the
// grid changes no answer, it only skips the ring search for the cells it
// has decided.
type cellGrid struct {
	minX, minY float64
	invW, invH float64                  // cells per degree
	cells      [gridN * gridN / 4]uint8 // four cells a byte
}

// cell is the class of cell i (row-major).
func (g *cellGrid) cell(i int) uint8 { return g.cells[i>>2] >> (uint(i&3) * 2) & 3 }

func (g *cellGrid) setCell(i int, class uint8) {
	shift := uint(i&3) * 2
	g.cells[i>>2] = g.cells[i>>2]&^(3<<shift) | class<<shift
}

// newCellGrid builds the grid of a polygon fence whose rings are prepared
// (f.prepared); nil for a degenerate box.
func newCellGrid(f *Fence) *cellGrid {
	w, h := f.Bound.Max[0]-f.Bound.Min[0], f.Bound.Max[1]-f.Bound.Min[1]
	if !(w > 0 && h > 0) {
		return nil
	}
	g := &cellGrid{minX: f.Bound.Min[0], minY: f.Bound.Min[1], invW: gridN / w, invH: gridN / h}
	for i := range g.cells {
		g.cells[i] = 0xff // every cell cellUnclassified
	}
	// Mark every cell an edge passes through, row by row: the part of the
	// edge within the row, widened by a sliver, spans a range of columns
	// (so an edge on a cell's border marks both cells it separates). A
	// slanted edge marks a line of cells, not its whole box, which leaves
	// far more cells for the grid to decide. The sliver is far above the
	// rounding of the arithmetic, so a touching edge is never missed.
	epsX, epsY := w*1e-7, h*1e-7
	for _, poly := range f.Shape {
		for _, ring := range poly {
			for k := 0; k+1 < len(ring); k++ {
				a, b := ring[k], ring[k+1]
				y0, y1 := g.row(math.Min(a[1], b[1])-epsY), g.row(math.Max(a[1], b[1])+epsY)
				for y := y0; y <= y1; y++ {
					xa, xb := a[0], b[0]
					if a[1] != b[1] {
						lo, hi := g.minY+float64(y)/g.invH-epsY, g.minY+float64(y+1)/g.invH+epsY
						t0, t1 := (lo-a[1])/(b[1]-a[1]), (hi-a[1])/(b[1]-a[1])
						t0, t1 = max(0, min(t0, t1)), min(1, max(t0, t1))
						if t0 > t1 {
							continue
						}
						xa, xb = a[0]+t0*(b[0]-a[0]), a[0]+t1*(b[0]-a[0])
					}
					for x := g.col(math.Min(xa, xb) - epsX); x <= g.col(math.Max(xa, xb)+epsX); x++ {
						g.setCell(y*gridN+x, cellEdge)
					}
				}
			}
		}
	}
	// Decide each region of unmarked cells by one library test at the
	// centre of its first cell (flood fill, 4-neighbours).
	stack := make([]int, 0, gridN*gridN)
	for start := 0; start < gridN*gridN; start++ {
		if g.cell(start) != cellUnclassified {
			continue
		}
		x, y := start%gridN, start/gridN
		centre := orb.Point{g.minX + (float64(x)+0.5)/g.invW, g.minY + (float64(y)+0.5)/g.invH}
		class := cellOutside
		if f.preparedContains(centre) {
			class = cellInside
		}
		g.setCell(start, class)
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var near [4]int // the 4-neighbours within the grid
			n := 0
			if c%gridN > 0 {
				near[n], n = c-1, n+1
			}
			if c%gridN < gridN-1 {
				near[n], n = c+1, n+1
			}
			if c >= gridN {
				near[n], n = c-gridN, n+1
			}
			if c < gridN*(gridN-1) {
				near[n], n = c+gridN, n+1
			}
			for _, i := range near[:n] {
				if g.cell(i) == cellUnclassified {
					g.setCell(i, class)
					stack = append(stack, i)
				}
			}
		}
	}
	return g
}

func (g *cellGrid) col(x float64) int {
	return min(gridN-1, max(0, int((x-g.minX)*g.invW)))
}

func (g *cellGrid) row(y float64) int {
	return min(gridN-1, max(0, int((y-g.minY)*g.invH)))
}

// at is the class of the cell holding p (p within the fence's box).
func (g *cellGrid) at(p orb.Point) uint8 {
	return g.cell(g.row(p[1])*gridN + g.col(p[0]))
}

// maxOutsideScan bounds the cells outsideAll reads.
const maxOutsideScan = 64

// outsideAll reports that the box a–b lies in cells wholly outside the
// fence (so no segment within it touches the fence); false when it cannot
// tell: a cell that holds an edge or is inside, or a box over many cells.
func (g *cellGrid) outsideAll(a, b orb.Point) bool {
	x0, x1 := g.col(math.Min(a[0], b[0])), g.col(math.Max(a[0], b[0]))
	y0, y1 := g.row(math.Min(a[1], b[1])), g.row(math.Max(a[1], b[1]))
	if (x1-x0+1)*(y1-y0+1) > maxOutsideScan {
		return false
	}
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			if g.cell(y*gridN+x) != cellOutside {
				return false
			}
		}
	}
	return true
}
