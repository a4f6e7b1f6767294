// Package trips is the trip and stop state machine: it turns a device's
// fixes, one at a time and in time order, into trips (the device moved far
// or long enough) and stops (it stayed put at least the minimal parking
// time). The live `movement` function and the `trips` report both run this
// one machine, so a report over a history says exactly what the live events
// said while the same fixes arrived. Pure domain code: no I/O.
//
// How a fix is classified:
//   - Parked (or not yet known), the device leaves its parking place when it
//     is farther than StopRadiusM (or its accuracy) from the parking anchor,
//     or reports a speed of at least StartSpeed and is beyond MinMoveM of
//     the anchor. GPS noise of a parked device stays inside the radius, so
//     it never starts anything. The trip's start is backdated to the last
//     fix that had not moved from the one before (the departure).
//   - Moving, a fix is a move when it is beyond MinMoveM (or its accuracy)
//     from the last move, and from the first fix since that was not one,
//     at a speed (reported or derived from the displacement, whichever is
//     higher) of at least StopSpeed, or when it reports a speed of at least
//     StopSpeed (Doppler speed does not drift with the position; 10 m/s at
//     1 Hz is about MinMoveM). After a fix that was not a move, a
//     displacement without such a reported speed counts only when the next
//     fix is displaced too: GPS error is correlated over tens of seconds,
//     and one drifted fix would move a trip's end seconds past the arrival.
//     StopSpeed < StartSpeed and MinMoveM < StopRadiusM are the
//     hysteresis. Distance adds up over moves in chords of at least 25 m,
//     so jitter while waiting adds nothing and GPS noise does not lengthen
//     the path.
//   - A movement becomes a trip (trip.started) once it covered
//     MinTripDistanceM or lasted MinTripDuration (Traccar's rule); it ends
//     (trip.ended, stop.started) when no move happened for MinParking, at
//     the last move. Shorter movements are part of the surrounding stop.
//   - A gap of NoDataGap or more between two fixes ends a trip at the last
//     fix before the gap (a tunnel, a dead battery); the distance across
//     the gap is not counted.
//   - A fix not newer than the last one is ignored and counted (Late or
//     Duplicate): live events never go back in time.
package trips

import (
	"fmt"
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// Rules are the trip rules, configurable per tenant and device.
type Rules struct {
	MinTripDistanceM float64       // a movement this long is a trip (Traccar: 500 m)
	MinTripDuration  time.Duration // or one lasting this long (Traccar: 300 s)
	MinParking       time.Duration // no move for this long ends a trip (Traccar: 300 s)
	NoDataGap        time.Duration // no fix for this long ends a trip (Traccar: 3600 s)
	StopRadiusM      float64       // a parked device must leave this radius to start moving
	MinMoveM         float64       // a moving device's displacement below this is jitter
	StartSpeed       float64       // m/s, reported speed that starts a movement from parked
	StopSpeed        float64       // m/s, speed below which a moving device is not moving
}

// DefaultRules are Traccar's defaults plus the motion thresholds.
func DefaultRules() Rules {
	return Rules{
		MinTripDistanceM: 500,
		MinTripDuration:  300 * time.Second,
		MinParking:       300 * time.Second,
		NoDataGap:        3600 * time.Second,
		StopRadiusM:      50,
		MinMoveM:         10,
		StartSpeed:       2,
		StopSpeed:        1.5,
	}
}

// Validate reports the first rule out of range as a *fix.FieldError named
// after its preferences key.
func (r Rules) Validate() error {
	checks := []struct {
		field  string
		value  float64
		lo, hi float64
	}{
		{"min_distance_m", r.MinTripDistanceM, 0, 1e6},
		{"min_duration_s", r.MinTripDuration.Seconds(), 0, 86400},
		{"min_parking_s", r.MinParking.Seconds(), 1, 86400},
		{"no_data_gap_s", r.NoDataGap.Seconds(), 1, 7 * 86400},
		{"stop_radius_m", r.StopRadiusM, 1, 10000},
		{"min_move_m", r.MinMoveM, 0, 10000},
		{"start_speed", r.StartSpeed, 0, 100},
		{"stop_speed", r.StopSpeed, 0, 100},
	}
	for _, c := range checks {
		if math.IsNaN(c.value) || c.value < c.lo || c.value > c.hi {
			return &fix.FieldError{Field: "trips." + c.field, Msg: fmt.Sprintf("must be between %g and %g", c.lo, c.hi)}
		}
	}
	if r.MinMoveM > r.StopRadiusM {
		return &fix.FieldError{Field: "trips.min_move_m", Msg: "must not exceed stop_radius_m"}
	}
	if r.StopSpeed > r.StartSpeed {
		return &fix.FieldError{Field: "trips.stop_speed", Msg: "must not exceed start_speed"}
	}
	return nil
}

// Phase is where a device is in the machine.
type Phase uint8

const (
	Unknown Phase = iota // no stop or trip yet (a new device, or a report's first fixes)
	Parked               // a stop is open
	Moving               // a movement is under way: a trip once Confirmed
)

// Mark is a position at a time.
type Mark struct {
	TS  int64   `json:"t"` // Unix milliseconds
	Lat float64 `json:"la"`
	Lon float64 `json:"lo"`
}

func (m Mark) point() geo.Point { return geo.Point{Lat: m.Lat, Lon: m.Lon} }
func (m Mark) time() time.Time  { return time.UnixMilli(m.TS).UTC() }

// State is one device's machine state. It round-trips through JSON exactly
// (float64 and integers only), which is how movement keeps it in Redis.
type State struct {
	Phase  Phase   `json:"p"`
	Last   Mark    `json:"l"`           // newest accepted fix
	Anchor Mark    `json:"a"`           // Parked/Unknown: where the device stays
	Still  Mark    `json:"s"`           // Parked/Unknown: last fix within MinMoveM of Anchor
	Move   Mark    `json:"m"`           // Moving: the last move
	Pend   Mark    `json:"w,omitempty"` // Moving: the first fix after the last move that was not one
	Cand   Mark    `json:"q,omitempty"` // Moving, after Pend: a displaced fix awaiting the next to count as a move
	Stop   Mark    `json:"o,omitempty"` // the open stop (Parked), or the one a movement left (TS 0: none)
	Trip   Mark    `json:"t,omitempty"` // Moving: where and when the movement started
	DistM  float64 `json:"d,omitempty"` // Moving: distance up to Chord
	Chord  Mark    `json:"k,omitempty"` // Moving: where DistM was last added to
	MaxSpd float64 `json:"v,omitempty"` // Moving: highest speed so far
	Conf   bool    `json:"c,omitempty"` // Moving: the movement is a trip (trip.started emitted)
	Late   int64   `json:"late,omitempty"`
	Dup    int64   `json:"dup,omitempty"`
}

// Kind of a machine event.
type Kind uint8

const (
	TripStarted Kind = iota + 1
	TripEnded
	StopStarted
	StopEnded
)

// Trip is a trip; End is zero and the totals partial in TripStarted.
type Trip struct {
	Device    string
	Start     time.Time
	End       time.Time
	DistanceM float64
	MaxSpeed  float64
	StartLat  float64
	StartLon  float64
	EndLat    float64
	EndLon    float64
}

// ID is the trip's id: the device and the start time, so replaying the
// same fixes always names it the same.
func (t Trip) ID() string { return fmt.Sprintf("%s-%d", t.Device, t.Start.UnixMilli()) }

// Duration of the trip (0 while under way).
func (t Trip) Duration() time.Duration {
	if t.End.IsZero() {
		return 0
	}
	return t.End.Sub(t.Start)
}

// AvgSpeed is distance over duration, m/s.
func (t Trip) AvgSpeed() float64 {
	if d := t.Duration().Seconds(); d > 0 {
		return t.DistanceM / d
	}
	return 0
}

// Stop is a stop; End is zero in StopStarted.
type Stop struct {
	Device string
	Start  time.Time
	End    time.Time
	Lat    float64
	Lon    float64
}

// Duration of the stop (0 while open).
func (s Stop) Duration() time.Duration {
	if s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Event is one transition of the machine.
type Event struct {
	Kind Kind
	Trip Trip // TripStarted, TripEnded
	Stop Stop // StopStarted, StopEnded
}

// Outcome says what Step did with a fix.
type Outcome uint8

const (
	Accepted  Outcome = iota
	Late              // older than the newest accepted fix: ignored
	Duplicate         // same time as the newest accepted fix: ignored
)

// Step feeds one fix of device to the machine, appending the events it
// causes to events and returning them.
func Step(r Rules, s *State, device string, f fix.Fix, events []Event) ([]Event, Outcome) {
	ts := f.TS.UnixMilli()
	here := Mark{TS: ts, Lat: f.Lat, Lon: f.Lon}
	if s.Last == (Mark{}) {
		// The device's first fix.
		s.Last, s.Anchor, s.Still = here, here, here
		return events, Accepted
	}
	switch {
	case ts == s.Last.TS:
		s.Dup++
		return events, Duplicate
	case ts < s.Last.TS:
		s.Late++
		return events, Late
	}
	if time.Duration(ts-s.Last.TS)*time.Millisecond >= r.NoDataGap {
		events = s.gap(device, events)
		s.Last, s.Anchor, s.Still = here, here, here
		return events, Accepted
	}
	acc := 0.0
	if f.Acc != nil && *f.Acc > 0 {
		acc = *f.Acc
	}
	if s.Phase == Moving {
		events = s.moving(r, device, f, here, acc, events)
	} else {
		events = s.parked(r, device, f, here, acc, events)
	}
	s.Last = here
	return events, Accepted
}

func (s *State) parked(r Rules, device string, f fix.Fix, here Mark, acc float64, events []Event) []Event {
	d := geo.Haversine(s.Anchor.point(), here.point())
	minMove := math.Max(r.MinMoveM, acc)
	left := d > math.Max(r.StopRadiusM, acc) || f.Speed != nil && *f.Speed >= r.StartSpeed && d > minMove
	if !left {
		// Not (yet) under way: a step within the noise of a fix.
		// Half the move threshold per second, at most all of it.
		step := geo.Haversine(s.Last.point(), here.point())
		if step <= math.Min(minMove, math.Max(minMove/2, minMove/2*float64(here.TS-s.Last.TS)/1000)) {
			s.Still = here
		}
		if s.Phase == Unknown && time.Duration(here.TS-s.Anchor.TS)*time.Millisecond >= r.MinParking {
			s.Phase, s.Stop = Parked, s.Anchor
			events = append(events, Event{Kind: StopStarted, Stop: s.stop(device)})
		}
		return events
	}
	// Departure: the movement starts at the parking place, when the device
	// was last seen there.
	s.Phase = Moving
	s.Trip = Mark{TS: s.Still.TS, Lat: s.Anchor.Lat, Lon: s.Anchor.Lon}
	s.DistM, s.MaxSpd, s.Conf = 0, speedOf(f, d, here.TS-s.Still.TS), false
	s.Chord = s.Trip
	s.Move, s.Pend = here, Mark{}
	return s.confirm(r, device, events)
}

// chordM is the shortest stretch distance is summed over: GPS noise
// lengthens a path by about σ²/length per stretch, so summing 1 Hz fixes
// 10 m apart would add ~1 %; 25 m chords cut that while losing next to
// nothing on street corners.
const chordM = 25

// distance is the movement's length up to its last move.
func (s *State) distance() float64 {
	return s.DistM + geo.Haversine(s.Chord.point(), s.Move.point())
}

func (s *State) clearMovement() {
	s.Trip, s.Move, s.Pend, s.Cand, s.Chord = Mark{}, Mark{}, Mark{}, Mark{}, Mark{}
	s.DistM, s.MaxSpd, s.Conf = 0, 0, false
}

func (s *State) moving(r Rules, device string, f fix.Fix, here Mark, acc float64, events []Event) []Event {
	d := geo.Haversine(s.Move.point(), here.point())
	// The displacement's own speed counts too: the first fix at a stop is
	// still a move (reported 0 km/h, but it got there).
	speed := math.Max(speedOf(f, d, here.TS-s.Move.TS), derived(d, here.TS-s.Move.TS))
	minMove := math.Max(r.MinMoveM, acc)
	// After a fix that was not a move, the next move must also leave that
	// fix: GPS drift around a stop that crept past MinMoveM of the last
	// move is not movement.
	displaced := d > minMove && speed >= r.StopSpeed && (s.Pend.TS == 0 || geo.Haversine(s.Pend.point(), here.point()) > minMove)
	// A reported (Doppler) speed does not drift with the position: at least
	// StopSpeed is a move even when the step is short (10 m/s at 1 Hz is
	// about MinMoveM).
	reported := f.Speed != nil && *f.Speed >= r.StopSpeed
	move := displaced || reported
	switch {
	case !move:
		s.Cand = Mark{}
	case !reported && s.Pend.TS != 0 && s.Cand.TS == 0:
		// Once the device stood still, GPS error (correlated over tens of
		// seconds) drifts a fix past the threshold now and then: without a
		// reported speed, a displacement counts when the next fix is
		// displaced too.
		s.Cand, move = here, false
	}
	if move {
		if c := geo.Haversine(s.Chord.point(), here.point()); c >= chordM {
			s.DistM += c
			s.Chord = here
		}
		s.MaxSpd = math.Max(s.MaxSpd, speed)
		s.Move, s.Pend, s.Cand = here, Mark{}, Mark{}
		return s.confirm(r, device, events)
	}
	if s.Pend.TS == 0 {
		s.Pend = here
	}
	if time.Duration(here.TS-s.Move.TS)*time.Millisecond < r.MinParking {
		return events
	}
	// No move for the minimal parking time: the device stopped at its last move.
	arrived := s.Move
	if s.Conf {
		events = append(events, Event{Kind: TripEnded, Trip: s.trip(device, arrived)})
		s.Stop = Mark{}
	}
	// A movement too short to be a trip belongs to the stop it left, which
	// goes on; without one, a stop starts here.
	s.Phase = Parked
	if s.Stop.TS == 0 {
		s.Stop = arrived
		events = append(events, Event{Kind: StopStarted, Stop: s.stop(device)})
	}
	s.Anchor, s.Still = s.Move, here
	s.clearMovement()
	return events
}

// confirm makes the movement a trip once it is long or far enough.
func (s *State) confirm(r Rules, device string, events []Event) []Event {
	if s.Conf || s.distance() < r.MinTripDistanceM && time.Duration(s.Move.TS-s.Trip.TS)*time.Millisecond < r.MinTripDuration {
		return events
	}
	s.Conf = true
	if s.Stop.TS != 0 {
		st := s.stop(device)
		st.End = s.Trip.time()
		events = append(events, Event{Kind: StopEnded, Stop: st})
		s.Stop = Mark{}
	}
	t := s.trip(device, Mark{})
	return append(events, Event{Kind: TripStarted, Trip: t})
}

// gap handles NoDataGap without fixes: a trip ends at the last fix.
func (s *State) gap(device string, events []Event) []Event {
	if s.Phase == Moving {
		if s.Conf {
			events = append(events, Event{Kind: TripEnded, Trip: s.trip(device, s.Last)})
			s.Stop = s.Last
			events = append(events, Event{Kind: StopStarted, Stop: s.stop(device)})
		}
		s.clearMovement()
		if s.Stop.TS != 0 {
			s.Phase = Parked
		} else {
			s.Phase = Unknown
		}
	}
	return events
}

func (s *State) trip(device string, end Mark) Trip {
	t := Trip{Device: device, Start: s.Trip.time(), DistanceM: s.distance(), MaxSpeed: s.MaxSpd,
		StartLat: s.Trip.Lat, StartLon: s.Trip.Lon}
	if end.TS != 0 {
		t.End, t.EndLat, t.EndLon = end.time(), end.Lat, end.Lon
	}
	return t
}

func (s *State) stop(device string) Stop {
	return Stop{Device: device, Start: s.Stop.time(), Lat: s.Stop.Lat, Lon: s.Stop.Lon}
}

// speedOf is the fix's reported speed, else the displacement over the time.
func speedOf(f fix.Fix, distM float64, dtMillis int64) float64 {
	if f.Speed != nil {
		return *f.Speed
	}
	return derived(distM, dtMillis)
}

func derived(distM float64, dtMillis int64) float64 {
	if dtMillis <= 0 {
		return 0
	}
	return distM / (float64(dtMillis) / 1000)
}
