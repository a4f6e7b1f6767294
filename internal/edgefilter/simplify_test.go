package edgefilter

import (
	"math"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

// zigzag is n fixes at 1 Hz going east and swinging north and south by
// amp metres every period seconds: a track no tolerance below amp
// flattens.
func zigzag(n int, amp float64, period int) []fix.Fix {
	out := make([]fix.Fix, n)
	for i := range out {
		north := amp * math.Sin(2*math.Pi*float64(i)/float64(period))
		p := at(float64(i), 90, float64(i)*10)
		q := at(float64(i), 0, north)
		out[i] = fix.Fix{Device: "dev-1", TS: p.TS, Lat: p.Lat + (q.Lat - origin.Lat), Lon: p.Lon}
	}
	return out
}

func simplifyAll(s *Simplifier, fixes []fix.Fix) []fix.Fix {
	var kept []fix.Fix
	for _, x := range fixes {
		kept = append(kept, s.Push(x)...)
	}
	return append(kept, s.Flush()...)
}

func TestSimplifierKeepsTheBound(t *testing.T) {
	raw := zigzag(5000, 50, 120)
	for _, eps := range []float64{1, 5, 20, 100} {
		kept := simplifyAll(NewSimplifier(eps), raw)
		checkOrdered(t, kept)
		if kept[0].TS != raw[0].TS || kept[len(kept)-1].TS != raw[len(raw)-1].TS {
			t.Fatalf("ε %g: ends not kept", eps)
		}
		max, _ := MaxDeviation(raw, kept)
		if max > eps+1e-6 {
			t.Errorf("ε %g: deviation %.3f m", eps, max)
		}
		if len(kept) >= len(raw) {
			t.Errorf("ε %g: kept %d of %d", eps, len(kept), len(raw))
		}
		t.Logf("ε %g m: %d of %d kept", eps, len(kept), len(raw))
	}
}

func TestSimplifierOfAStraightRunKeepsOneInAWindow(t *testing.T) {
	kept := simplifyAll(NewSimplifier(5), line(1000, 10))
	if want := 1000/simplifyWindow + 2; len(kept) > want {
		t.Fatalf("kept %d, want at most %d", len(kept), want)
	}
}

func TestBudgetKeepsAtMostN(t *testing.T) {
	raw := zigzag(20000, 50, 120)
	for _, n := range []int{2, 3, 10, 100, 1000, 30000} {
		b := NewBudget(n, 1)
		for _, x := range raw {
			b.Push(x)
		}
		kept, bound := b.Finish()
		checkOrdered(t, kept)
		if len(kept) > n || len(kept) < min(n, 2) {
			t.Fatalf("N %d: kept %d", n, len(kept))
		}
		if kept[0].TS != raw[0].TS || kept[len(kept)-1].TS != raw[len(raw)-1].TS {
			t.Fatalf("N %d: ends not kept", n)
		}
		max, _ := MaxDeviation(raw, kept)
		if max > bound+1e-6 {
			t.Errorf("N %d: deviation %.3f m over the bound %.3f", n, max, bound)
		}
		t.Logf("N %d: %d kept, deviation %.1f m, bound %.1f m", n, len(kept), max, bound)
	}
}
