package edgefilter

import (
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// prefilter returns why x must not enter the simplifier, or "".
// last is the last accepted fix (nil at the very start), latest the newest
// fix seen (last, or a later held one) for ordering; gap says x comes
// after a silence longer than GapS, across which movement filters make no
// sense (the device may have been carried anywhere).
func prefilter(s *Settings, x, last, latest *fix.Fix, gap bool, now time.Time) Reason {
	// Future first: fix.Validate rejects it too, but it deserves its own label
	// (it usually means a device clock problem, not a broken payload).
	if x.TS.After(now.Add(fix.MaxFuture)) {
		return ReasonFuture
	}
	if err := fix.Validate(x, now); err != nil || (x.Lat == 0 && x.Lon == 0) {
		return ReasonInvalid
	}
	if s.MaxAgeS > 0 && now.Sub(x.TS) > seconds(s.MaxAgeS) {
		return ReasonTooOld
	}
	if s.Accuracy && x.Acc != nil && *x.Acc > s.MaxAccuracyM {
		return ReasonInaccurate
	}
	if last == nil {
		return ""
	}
	switch {
	case x.TS.Equal(latest.TS):
		return ReasonDuplicate
	case x.TS.Before(latest.TS):
		return ReasonOutOfOrder
	}
	if gap || !s.movementFilters() {
		return ""
	}
	p, q := point(*last), point(*x)
	dist := geo.Haversine(p, q)
	dt := x.TS.Sub(last.TS)
	if s.Duplicate && dist <= DuplicateM && (x.Speed == nil || *x.Speed < s.StationarySpeedMS) {
		return ReasonDuplicate
	}
	if s.MinIntervalS > 0 && dt < seconds(s.MinIntervalS) {
		return ReasonTooSoon
	}
	if s.MinDistanceM > 0 && dist < s.MinDistanceM {
		return ReasonTooClose
	}
	// A wrong last fix heals itself: dt grows with every dropped fix, so the
	// implied speed soon falls below the limit and the track re-anchors.
	if s.SpeedOutlier && dist/dt.Seconds() > s.MaxSpeedMS {
		return ReasonSpeedOutlier
	}
	if s.StationaryJitter && x.Speed != nil && *x.Speed < s.StationarySpeedMS {
		if r, ok := accuracyRadius(x, last); ok && dist < r {
			return ReasonStationary
		}
	}
	return ""
}

// movementFilters reports whether any filter that compares x with the last
// fix is on; a stored track's simplifier has none, and skips the distance.
func (s *Settings) movementFilters() bool {
	return s.Duplicate || s.MinIntervalS > 0 || s.MinDistanceM > 0 || s.SpeedOutlier || s.StationaryJitter
}

// accuracyRadius is the sum of the reported accuracies (AWS AccuracyBased:
// 5 m and 10 m mean movement under 15 m is not movement), or the one that
// is reported.
func accuracyRadius(a, b *fix.Fix) (float64, bool) {
	switch {
	case a.Acc != nil && b.Acc != nil:
		return *a.Acc + *b.Acc, true
	case a.Acc != nil:
		return *a.Acc, true
	case b.Acc != nil:
		return *b.Acc, true
	}
	return 0, false
}

func point(f fix.Fix) geo.Point { return geo.Point{Lat: f.Lat, Lon: f.Lon} }

func timed(f fix.Fix) geo.TimedPoint { return geo.TimedPoint{Point: point(f), T: f.TS} }
