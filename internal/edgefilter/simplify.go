package edgefilter

import "github.com/geotrack/geotrack/internal/fix"

// simplifyWindow bounds the undecided fixes of a stored track's simplifier:
// each new fix is checked against all of them, so it bounds the work per
// fix; a straight run keeps at least one fix in this many.
const simplifyWindow = 32

// forever is a window or gap that never closes on a stored track.
const forever = 1e9 // seconds, ~31 years

// Simplifier runs the edge's bounded-error simplifier (Filter, SED within
// EpsilonM) over a stored, time-ordered track, with every pre-filter off:
// what it drops lies within ε of the track it keeps, at the same instant.
// Memory is the window of undecided fixes.
type Simplifier struct {
	f *Filter
}

// NewSimplifier returns a simplifier with tolerance epsilonM (> 0).
func NewSimplifier(epsilonM float64) *Simplifier {
	return &Simplifier{f: New(trackSettings(epsilonM))}
}

func trackSettings(epsilonM float64) Settings {
	return Settings{Simplify: true, EpsilonM: epsilonM, WindowPoints: simplifyWindow, WindowS: forever, GapS: forever}
}

// Push offers the next fix (later than the previous one) and returns the
// fixes decided to be kept, oldest first.
func (s *Simplifier) Push(x fix.Fix) []fix.Fix {
	out, _ := s.f.Push(x, x.TS)
	return out
}

// Flush returns the last fix when it is still undecided: the end of the
// track is always kept.
func (s *Simplifier) Flush() []fix.Fix {
	return s.f.endSession()
}

// Budget simplifies a stored track down to at most N fixes, streaming.
// The track goes through the simplifier at a tolerance ε; whenever the
// kept fixes exceed 2N, they are simplified again (a pass, with a wider
// window: a straight run is window-bound, not ε-bound) at ε, doubling ε
// after each pass that leaves more than N, until at most N remain; then
// the track goes on at that ε. Kept fixes are a subset of the raw ones,
// the first and last always among them.
//
// Bound: a pass at e keeps each fix it drops within e of what it keeps,
// and errors add along passes (a pass's track is interpolated between
// fixes of the previous one), so every fix pushed lies within the final ε
// plus the sum of the passes' tolerances of the kept track (Finish returns
// it). Memory is at most 2N fixes plus a window.
type Budget struct {
	n      int
	eps    float64
	passes float64 // sum of the tolerances of the passes over kept fixes
	f      *Filter
	kept   []fix.Fix
}

// resimplifyWindow is the window of the passes over kept fixes: at most 2N
// of them, so a wide window costs little and lets a straight run shrink.
const resimplifyWindow = 256

// NewBudget keeps at most n (≥ 2) fixes, starting at tolerance epsilonM (> 0).
func NewBudget(n int, epsilonM float64) *Budget {
	return &Budget{n: n, eps: epsilonM, f: New(trackSettings(epsilonM))}
}

// Push offers the next fix (later than the previous one).
func (b *Budget) Push(x fix.Fix) {
	out, _ := b.f.Push(x, x.TS)
	b.kept = append(b.kept, out...)
	if len(b.kept) > 2*b.n {
		b.tighten()
		b.f.s.EpsilonM = b.eps
	}
}

// Finish returns the kept fixes, at most N, and the bound in metres: every
// fix pushed lies within it of the kept track at its instant.
func (b *Budget) Finish() ([]fix.Fix, float64) {
	b.kept = append(b.kept, b.f.endSession()...)
	if len(b.kept) > b.n {
		b.tighten()
	}
	return b.kept, b.eps + b.passes
}

// tighten passes over the kept fixes until at most N remain, doubling ε
// after each pass that leaves more.
func (b *Budget) tighten() {
	for {
		b.kept = resimplify(b.kept, b.eps)
		b.passes += b.eps
		if len(b.kept) <= b.n {
			return
		}
		b.eps *= 2
	}
}

// resimplify is fixes simplified at epsilonM, first and last kept.
func resimplify(fixes []fix.Fix, epsilonM float64) []fix.Fix {
	s := trackSettings(epsilonM)
	s.WindowPoints = resimplifyWindow
	f := New(s)
	out := make([]fix.Fix, 0, len(fixes)/2+2)
	for _, x := range fixes {
		fw, _ := f.Push(x, x.TS)
		out = append(out, fw...)
	}
	return append(out, f.endSession()...)
}
