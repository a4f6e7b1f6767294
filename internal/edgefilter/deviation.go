package edgefilter

import (
	"math"
	"sort"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// MaxDeviation measures how far the forwarded track strays from the raw one:
// for each raw fix, the synchronised distance (geo.SyncedDistance) to the
// forwarded track interpolated at the raw fix's timestamp — the same measure
// the simplifier bounds, used for every filter in the benchmark. Raw fixes
// before the first or after the last forwarded one are measured to that
// fix (the track does not extend beyond them). kept must be time-ordered.
// Returns (+Inf, +Inf) when raw is not empty but kept is, and (0, 0) for
// no raw fixes.
func MaxDeviation(raw, kept []fix.Fix) (max, mean float64) {
	if len(raw) == 0 {
		return 0, 0
	}
	if len(kept) == 0 {
		return math.Inf(1), math.Inf(1)
	}
	var sum float64
	for _, r := range raw {
		i := sort.Search(len(kept), func(i int) bool { return !kept[i].TS.Before(r.TS) })
		var d float64
		switch i {
		case 0:
			d = geo.FlatDistance(point(r), point(kept[0]))
		case len(kept):
			d = geo.FlatDistance(point(r), point(kept[len(kept)-1]))
		default:
			d = geo.SyncedDistance(timed(r), timed(kept[i-1]), timed(kept[i]))
		}
		sum += d
		max = math.Max(max, d)
	}
	return max, sum / float64(len(raw))
}
