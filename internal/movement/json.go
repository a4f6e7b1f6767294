package movement

import (
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/trips"
)

// TripJSON is a trip as events and the report carry it (public contract).
type TripJSON struct {
	Device    string    `json:"device"`
	Trip      string    `json:"trip"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitzero"`
	DistanceM float64   `json:"distance_m"`
	DurationS float64   `json:"duration_s"`
	MaxSpeed  float64   `json:"max_speed"`
	AvgSpeed  float64   `json:"avg_speed"`
	StartLat  float64   `json:"start_lat"`
	StartLon  float64   `json:"start_lon"`
	EndLat    float64   `json:"end_lat,omitempty"`
	EndLon    float64   `json:"end_lon,omitempty"`
}

// StopJSON is a stop as events and the report carry it (public contract):
// ts is when it started; end is set once it ended.
type StopJSON struct {
	Device    string    `json:"device"`
	TS        time.Time `json:"ts"`
	End       time.Time `json:"end,omitzero"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	DurationS float64   `json:"duration_s"`
}

// round2 keeps the JSON short: centimetres, centimetres per second.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// TripOf is the JSON of t.
func TripOf(t trips.Trip) TripJSON {
	return TripJSON{
		Device: t.Device, Trip: t.ID(), Start: t.Start, End: t.End,
		DistanceM: round2(t.DistanceM), DurationS: t.Duration().Seconds(),
		MaxSpeed: round2(t.MaxSpeed), AvgSpeed: round2(t.AvgSpeed()),
		StartLat: t.StartLat, StartLon: t.StartLon, EndLat: t.EndLat, EndLon: t.EndLon,
	}
}

// StopOf is the JSON of s.
func StopOf(s trips.Stop) StopJSON {
	return StopJSON{Device: s.Device, TS: s.Start, End: s.End, Lat: s.Lat, Lon: s.Lon, DurationS: s.Duration().Seconds()}
}
