package edgefilter

import (
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// The comparison filters below work on one device's time-ordered fixes and
// return the forwarded ones. They exist for the benchmark.

// DistanceBased forwards the first fix, then a fix only when it is more than
// minM metres from the last forwarded one: AWS Location's DistanceBased
// position filtering (minM = 30) and Traccar's filter.distance.
func DistanceBased(fixes []fix.Fix, minM float64) []fix.Fix {
	var out []fix.Fix
	for _, x := range fixes {
		if len(out) == 0 || geo.Haversine(point(out[len(out)-1]), point(x)) > minM {
			out = append(out, x)
		}
	}
	return out
}

// TimeBased forwards the first fix, then a fix only when at least every has
// passed since the last forwarded one: AWS Location's TimeBased position
// filtering (every = 30 s) and Traccar's filter.minPeriod.
func TimeBased(fixes []fix.Fix, every time.Duration) []fix.Fix {
	var out []fix.Fix
	for _, x := range fixes {
		if len(out) == 0 || x.TS.Sub(out[len(out)-1].TS) >= every {
			out = append(out, x)
		}
	}
	return out
}

// Replay pushes one device's fixes through a fresh Filter, using each fix's own
// timestamp as the receive time (a replay), and returns the forwarded fixes
// including the final Flush.
func Replay(s Settings, fixes []fix.Fix) []fix.Fix {
	f := New(s)
	var out []fix.Fix
	for _, x := range fixes {
		fw, _ := f.Push(x, x.TS)
		out = append(out, fw...)
	}
	return append(out, f.Flush()...)
}
