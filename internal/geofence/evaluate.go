package geofence

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/geotrack/geotrack/internal/fix"
)

// Transition kinds.
const (
	Entered = "entered"
	Exited  = "exited"
	Dwelled = "dwelled"
)

// Presence is a device's stay in one fence.
type Presence struct {
	Since   time.Time // ts of the fix that entered
	Dwelled bool      // the dwelled transition was emitted
	Leaving bool      // the last fix was outside by more than the margin
}

// DeviceState is what the evaluator remembers of one device: its last
// evaluated fix and the fences it is inside.
type DeviceState struct {
	LastTS time.Time // zero: no fix evaluated yet
	Last   orb.Point
	Inside map[string]Presence
}

// Clone copies the state (Inside included).
func (s DeviceState) Clone() DeviceState {
	c := s
	c.Inside = make(map[string]Presence, len(s.Inside))
	for k, v := range s.Inside {
		c.Inside[k] = v
	}
	return c
}

// Transition is one event-worthy change.
type Transition struct {
	Kind    string // Entered, Exited, Dwelled
	FenceID string
	Name    string
	TS      time.Time
	Lat     float64
	Lon     float64
	Crossed bool // entered and left between two consecutive fixes
}

// Evaluator turns fixes into transitions.
//
// The rules (documented in README.md):
//   - Entering: a fix inside a fence (that applies to the device) enters it.
//   - Hysteresis: a device inside leaves only when a fix is outside and
//     farther than m = max(fix accuracy, MarginM) from the fence's boundary;
//     closer fixes outside keep it inside. One such fix is enough when it is
//     farther than 3·m; otherwise the exit needs two consecutive fixes
//     beyond m (the exit then carries the second). So a parked device whose
//     GPS noise now and then throws one fix past the margin does not flap.
//   - Dwell: after dwell_s seconds inside continuously (measured between fix
//     timestamps) the next fix emits dwelled, once per stay.
//   - Crossing: when neither of two consecutive fixes is inside a fence but
//     the segment between them touches it, entered and exited are emitted
//     with crossed=true and the second fix's ts and position.
//   - Order: a fix not newer than the last evaluated one of the device
//     (late, or a redelivery) produces no transitions and changes nothing.
//   - A deleted fence is forgotten without an exit.
type Evaluator struct {
	MarginM float64 // hysteresis margin in metres (DefaultMarginM when 0)
}

func (e Evaluator) margin(f fix.Fix) float64 {
	m := e.MarginM
	if m <= 0 {
		m = DefaultMarginM
	}
	if f.Acc != nil && *f.Acc > m && !math.IsInf(*f.Acc, 0) {
		m = *f.Acc
	}
	return m
}

// Evaluate applies one fix of device to st (updated in place) and returns
// its transitions in a stable order (by fence id; entered before dwelled
// before exited). It reports false when the fix was ignored as not newer.
func (e Evaluator) Evaluate(idx *Index, st *DeviceState, device string, f fix.Fix) (bool, []Transition) {
	if !st.LastTS.IsZero() && !f.TS.After(st.LastTS) {
		return false, nil
	}
	if st.Inside == nil {
		st.Inside = map[string]Presence{}
	}
	p := orb.Point{f.Lon, f.Lat}
	var out []Transition
	add := func(kind string, fence *Fence, crossed bool) {
		out = append(out, Transition{Kind: kind, FenceID: fence.ID, Name: fence.Name, TS: f.TS, Lat: f.Lat, Lon: f.Lon, Crossed: crossed})
	}

	// Fences the device was inside: stay (inside, or outside within the
	// margin), dwell, or exit. Most of them are among the R-tree's
	// candidates below, which carry what the tests read; they are matched
	// there by a hash of the id (no lookup among the tenant's fences, no
	// read of the Fence for the box and the grid). The rest are looked up
	// after.
	var wasBuf [16]wasInside
	was := wasBuf[:0]
	if len(st.Inside) > len(wasBuf) {
		was = make([]wasInside, 0, len(st.Inside))
	}
	for id, pres := range st.Inside {
		was = append(was, wasInside{id: id, hash: hashID(id), pres: pres})
	}
	stayOrLeave := func(w *wasInside, fence *Fence, inside bool) {
		pres, beyond := w.pres, false
		if !inside {
			m := e.margin(f)
			d := fence.DistanceToBoundaryWithin(p, 3*m) // +Inf beyond 3·m: all the rule needs
			if d > 3*m || d > m && pres.Leaving {
				delete(st.Inside, w.id)
				add(Exited, fence, false)
				return
			}
			beyond = d > m
		}
		pres.Leaving = beyond
		if fence.DwellS > 0 && !pres.Dwelled && f.TS.Sub(pres.Since) >= time.Duration(fence.DwellS)*time.Second {
			pres.Dwelled = true
			add(Dwelled, fence, false)
		}
		st.Inside[w.id] = pres
	}

	// Fences near the fix or the segment from the last one: those it was
	// inside as above; the others: enter, or cross.
	prev, hasPrev := st.Last, !st.LastTS.IsZero()
	from := p
	if hasPrev {
		from = prev
	}
	idx.near(from, p, func(c *candidate, bmin, bmax [2]float64) bool {
		fence := c.fence
		if w := matchInside(was, c); w != nil {
			w.seen = true
			if !c.every && !fence.AppliesTo(device) {
				delete(st.Inside, w.id) // no longer watches the device: forgotten, no exit
				return true
			}
			stayOrLeave(w, fence, c.contains(p, bmin, bmax))
			return true
		}
		if !c.every && !fence.AppliesTo(device) {
			return true
		}
		if c.contains(p, bmin, bmax) {
			st.Inside[fence.ID] = Presence{Since: f.TS}
			add(Entered, fence, false)
			return true
		}
		if hasPrev && prev != p && c.crosses(prev, p, bmin, bmax) {
			add(Entered, fence, true)
			add(Exited, fence, true)
		}
		return true
	})
	for i := range was {
		w := &was[i]
		if w.seen {
			continue
		}
		fence := idx.Fence(w.id)
		if fence == nil || !fence.AppliesTo(device) {
			delete(st.Inside, w.id) // deleted, or no longer watches the device: forgotten, no exit
			continue
		}
		stayOrLeave(w, fence, fence.Contains(p))
	}
	st.LastTS, st.Last = f.TS, p
	sortTransitions(out)
	return true, out
}

// wasInside is a fence the device was inside before the fix.
type wasInside struct {
	id   string
	hash uint64 // hashID(id)
	pres Presence
	seen bool // among the R-tree's candidates
}

// matchInside returns the fence of was that c is, or nil.
func matchInside(was []wasInside, c *candidate) *wasInside {
	for i := range was {
		if was[i].hash == c.idHash && was[i].id == c.fence.ID {
			return &was[i]
		}
	}
	return nil
}

// kindOrder: entered before dwelled before exited.
func kindOrder(kind string) int {
	switch kind {
	case Entered:
		return 0
	case Dwelled:
		return 1
	}
	return 2
}

func sortTransitions(ts []Transition) {
	if len(ts) < 2 {
		return
	}
	slices.SortStableFunc(ts, func(a, b Transition) int {
		if c := strings.Compare(a.FenceID, b.FenceID); c != 0 {
			return c
		}
		return kindOrder(a.Kind) - kindOrder(b.Kind)
	})
}
