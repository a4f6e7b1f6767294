package movement

import (
	"context"
	"fmt"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/trips"
)

// HistoryReader reads a device's history as one stream over both tiers
// (locate.Service): a report over weeks of archived history opens each
// archive object once, rather than once per page.
type HistoryReader interface {
	OpenHistory(ctx context.Context, tenant, device string, from, to time.Time, cursor string) (*locate.HistoryStream, error)
}

// Reports builds trips reports from history.
type Reports struct {
	history HistoryReader
	rules   RulesSource
}

// NewReports returns the report service.
func NewReports(history HistoryReader, rules RulesSource) *Reports {
	return &Reports{history: history, rules: rules}
}

// Report is the trips report of device between from and to (zero:
// unbounded), from the same machine movement runs live.
type Report struct {
	Device  string      `json:"device"`
	Trips   []TripJSON  `json:"trips"`
	Stops   []StopJSON  `json:"stops"`
	Summary SummaryJSON `json:"summary"`
	// Ongoing is the trip or stop still under way at the last fix, not
	// counted in the summary (movement has not emitted its end yet).
	OngoingTrip *TripJSON `json:"ongoing_trip,omitempty"`
	OngoingStop *StopJSON `json:"ongoing_stop,omitempty"`
	Fixes       int       `json:"fixes"`
}

// SummaryJSON totals a report (public contract).
type SummaryJSON struct {
	DistanceM      float64 `json:"distance_m"`
	MovingS        float64 `json:"moving_s"`
	StoppedS       float64 `json:"stopped_s"`
	MaxSpeed       float64 `json:"max_speed"`
	AvgMovingSpeed float64 `json:"avg_moving_speed"`
	Trips          int     `json:"trips"`
	Stops          int     `json:"stops"`
}

// Build reads device's history and runs the machine over it.
func (r *Reports) Build(ctx context.Context, tenant, device string, from, to time.Time) (Report, error) {
	if err := fix.ValidateDevice("device", device); err != nil {
		return Report{}, err
	}
	rules, err := r.rules.TripRules(ctx, tenant, device)
	if err != nil {
		return Report{}, err
	}
	rep := &trips.Report{}
	n := 0
	stream, err := r.history.OpenHistory(ctx, tenant, device, from, to, "")
	if err != nil {
		return Report{}, err
	}
	defer stream.Close()
	for f, ok := stream.Next(); ok; f, ok = stream.Next() {
		rep.Add(rules, device, f)
		n++
	}
	if err := stream.Err(); err != nil {
		return Report{}, fmt.Errorf("read history: %w", err)
	}
	return ReportOf(device, rep, n), nil
}

// ReportOf is the JSON of a machine's report over n fixes.
func ReportOf(device string, rep *trips.Report, n int) Report {
	out := Report{Device: device, Trips: []TripJSON{}, Stops: []StopJSON{}, Fixes: n}
	for _, t := range rep.Trips {
		out.Trips = append(out.Trips, TripOf(t))
	}
	for _, s := range rep.Stops {
		out.Stops = append(out.Stops, StopOf(s))
	}
	s := rep.Summary()
	out.Summary = SummaryJSON{
		DistanceM: round2(s.DistanceM), MovingS: s.Moving.Seconds(), StoppedS: s.Stopped.Seconds(),
		MaxSpeed: round2(s.MaxSpeed), AvgMovingSpeed: round2(s.AvgMovingSpeed),
		Trips: s.Trips, Stops: s.Stops,
	}
	if t, ok := rep.Ongoing(); ok {
		j := TripOf(t)
		out.OngoingTrip = &j
	}
	if st, ok := rep.OpenStop(); ok {
		j := StopOf(st)
		out.OngoingStop = &j
	}
	return out
}
