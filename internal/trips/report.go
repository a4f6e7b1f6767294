package trips

import (
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Report is what the trips function answers: the trips and stops that
// ended within the fixes it was given, in order, and their totals.
type Report struct {
	Trips   []Trip
	Stops   []Stop
	Late    int64 // fixes ignored as older than the one before
	Dup     int64 // fixes ignored as repeating the one before's time
	device  string
	machine State
	events  []Event
}

// Summary totals a report.
type Summary struct {
	DistanceM      float64
	Moving         time.Duration
	Stopped        time.Duration
	MaxSpeed       float64
	AvgMovingSpeed float64
	Trips          int
	Stops          int
}

// Add feeds the next fix (in time order) to the report's machine.
func (rep *Report) Add(r Rules, device string, f fix.Fix) {
	rep.device = device
	var out Outcome
	rep.events, out = Step(r, &rep.machine, device, f, rep.events[:0])
	switch out {
	case Late:
		rep.Late++
	case Duplicate:
		rep.Dup++
	}
	for _, e := range rep.events {
		switch e.Kind {
		case TripEnded:
			rep.Trips = append(rep.Trips, e.Trip)
		case StopEnded:
			rep.Stops = append(rep.Stops, e.Stop)
		}
	}
}

// Build runs the machine over fixes from a fresh state and returns the
// completed trips and stops: exactly the trip.ended and stop.ended events
// movement emitted for the same fixes.
func Build(r Rules, device string, fixes []fix.Fix) *Report {
	rep := &Report{}
	for i := range fixes {
		rep.Add(r, device, fixes[i])
	}
	return rep
}

// Summary totals the completed trips and stops.
func (rep *Report) Summary() Summary {
	var s Summary
	for _, t := range rep.Trips {
		s.DistanceM += t.DistanceM
		s.Moving += t.Duration()
		s.MaxSpeed = math.Max(s.MaxSpeed, t.MaxSpeed)
	}
	for _, st := range rep.Stops {
		s.Stopped += st.Duration()
	}
	if s.Moving > 0 {
		s.AvgMovingSpeed = s.DistanceM / s.Moving.Seconds()
	}
	s.Trips, s.Stops = len(rep.Trips), len(rep.Stops)
	return s
}

// Ongoing returns the trip under way at the last fix, ended at its last
// move so far (movement has emitted trip.started for it, not trip.ended).
func (rep *Report) Ongoing() (Trip, bool) {
	s := &rep.machine
	if s.Phase != Moving || !s.Conf {
		return Trip{}, false
	}
	return s.trip(rep.device, s.Move), true
}

// OpenStop returns the stop still open at the last fix, ended there.
func (rep *Report) OpenStop() (Stop, bool) {
	s := &rep.machine
	if s.Phase != Parked || s.Stop.TS == 0 {
		return Stop{}, false
	}
	st := s.stop(rep.device)
	st.End = s.Last.time()
	return st, true
}
