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

// Budget simplifies a stored track down to at most N fixes, streaming: it
// starts at a tolerance and, whenever the kept fixes exceed N, doubles the
// tolerance and simplifies the kept fixes again with it, then goes on with
// the rest of the track at the new tolerance. Kept fixes are a subset of the
// raw ones, the first and last always among them. Each pass keeps every
// fix within its ε of the track it keeps, so the result is within the sum
// of the tolerances used, at most twice the final one (Finish reports it).
// Memory is at most 2N fixes plus a window.
type Budget struct {
	n    int
	eps  float64
	f    *Filter
	kept []fix.Fix
}

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

// Finish returns the kept fixes, at most N, and the final tolerance: every
// fix pushed lies within twice that of the kept track at its instant.
func (b *Budget) Finish() ([]fix.Fix, float64) {
	b.kept = append(b.kept, b.f.endSession()...)
	b.tighten()
	return b.kept, b.eps
}

// tighten doubles the tolerance until the kept fixes are at most N. More
// than two fixes always shrink once ε exceeds their largest deviation.
func (b *Budget) tighten() {
	for len(b.kept) > b.n {
		b.eps *= 2
		again := New(trackSettings(b.eps))
		out := make([]fix.Fix, 0, b.n)
		for _, x := range b.kept {
			fw, _ := again.Push(x, x.TS)
			out = append(out, fw...)
		}
		b.kept = append(out, again.endSession()...)
	}
}
