// Package edgefilter decides, per device and as fixes stream in, which GPS
// fixes the edge tier forwards to the cloud. It first drops fixes that carry
// no usable information (the pre-filters, mirroring Traccar's filter.* options
// and AWS Location's position filtering), then runs a bounded-error streaming
// simplifier: a fix is forwarded only when leaving it out would let the
// forwarded track deviate from the raw one by more than EpsilonM metres.
//
// Pure domain code: standard library, internal/fix and internal/geo only.
package edgefilter

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Settings configures a Filter. Decode JSON over DefaultSettings() so that
// omitted fields keep their defaults. Thresholds of 0 switch a filter off
// where noted; the booleans switch the others.
type Settings struct {
	// Accuracy drops fixes whose reported accuracy radius exceeds
	// MaxAccuracyM. Default 100 m: worse than that is a cell/Wi-Fi guess, not
	// a GPS fix, and would drag the track by more than a street block.
	Accuracy     bool    `json:"accuracy"`
	MaxAccuracyM float64 `json:"max_accuracy_m"`

	// MinIntervalS drops fixes arriving sooner than this after the last
	// accepted one (Traccar filter.minPeriod). Default 0 = off: the
	// simplifier already removes redundant fixes without a fixed rate limit.
	MinIntervalS float64 `json:"min_interval_s"`

	// MinDistanceM drops fixes closer than this to the last accepted one
	// (Traccar filter.distance). Default 0 = off for the same reason; it
	// hides slow real movement, which the error-bounded simplifier keeps.
	MinDistanceM float64 `json:"min_distance_m"`

	// SpeedOutlier drops fixes that imply a speed above MaxSpeedMS from the
	// last accepted fix: GPS jumps (Traccar filter.maxSpeed). Default 70 m/s
	// (≈ 250 km/h), above any road vehicle, below the typical multipath jump.
	SpeedOutlier bool    `json:"speed_outlier"`
	MaxSpeedMS   float64 `json:"max_speed_ms"`

	// MaxAgeS drops fixes older than this relative to the receive time.
	// Default 0 = off: a device that buffered offline must still be able to
	// upload its history.
	MaxAgeS float64 `json:"max_age_s"`

	// Duplicate drops a fix that repeats the last accepted position (within
	// DuplicateM, about the resolution of 6-decimal coordinates) with no
	// reported movement: a re-sent report. Fixes with the same or an earlier
	// timestamp than the last accepted one are always dropped (as duplicate
	// or out_of_order), because the simplifier needs increasing time.
	Duplicate bool `json:"duplicate"`

	// StationaryJitter drops a fix that reports a speed below
	// StationarySpeedMS and lies within the accuracy radius (sum of both
	// fixes' acc, as AWS AccuracyBased does) of the last accepted fix: a
	// parked device drifting. Only applies when speed and acc are reported.
	// The forwarded track then sits still at the last accepted position, so
	// these fixes may deviate from it by up to that radius (by design: the
	// drift is noise, not movement).
	StationaryJitter  bool    `json:"stationary_jitter"`
	StationarySpeedMS float64 `json:"stationary_speed_ms"`

	// Simplify runs the bounded-error simplifier; when off every fix that
	// passes the pre-filters is forwarded.
	Simplify bool `json:"simplify"`
	// EpsilonM bounds the synchronised distance between any accepted fix and
	// the forwarded track at the same instant. Default 5 m: about the
	// accuracy of a consumer GPS fix, so the forwarded track is as good as
	// the raw one for display, geofencing and mileage.
	EpsilonM float64 `json:"epsilon_m"`
	// WindowPoints and WindowS bound how long a decision may wait: once the
	// undecided fixes reach WindowPoints, or the oldest of them is WindowS
	// older than the newest, the newest is forwarded. Defaults 60 points /
	// 120 s: memory per device stays small, and the cloud never lags a
	// moving device by more than two minutes even on a dead-straight road.
	WindowPoints int     `json:"window_points"`
	WindowS      float64 `json:"window_s"`

	// GapS: a silence longer than this ends the session; the fix before the
	// gap and the one after are both forwarded, and movement filters are not
	// applied across the gap. Default 300 s: a tunnel or a parking garage.
	GapS float64 `json:"gap_s"`
}

// DuplicateM is how close two positions must be to count as the same report.
const DuplicateM = 0.15

// DefaultSettings returns the documented defaults.
func DefaultSettings() Settings {
	return Settings{
		Accuracy:          true,
		MaxAccuracyM:      100,
		SpeedOutlier:      true,
		MaxSpeedMS:        70,
		Duplicate:         true,
		StationaryJitter:  true,
		StationarySpeedMS: 0.5,
		Simplify:          true,
		EpsilonM:          5,
		WindowPoints:      60,
		WindowS:           120,
		GapS:              300,
	}
}

// Validate reports the first unusable setting, naming its JSON field.
func (s Settings) Validate() error {
	nonNeg := []struct {
		name string
		v    float64
	}{
		{"max_accuracy_m", s.MaxAccuracyM}, {"min_interval_s", s.MinIntervalS},
		{"min_distance_m", s.MinDistanceM}, {"max_speed_ms", s.MaxSpeedMS},
		{"max_age_s", s.MaxAgeS}, {"stationary_speed_ms", s.StationarySpeedMS},
		{"epsilon_m", s.EpsilonM}, {"window_s", s.WindowS}, {"gap_s", s.GapS},
	}
	for _, c := range nonNeg {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v < 0 {
			return fmt.Errorf("edgefilter settings: %s = %v: must be a finite number ≥ 0", c.name, c.v)
		}
	}
	var errs []error
	positive := func(on bool, name string, v float64) {
		if on && v <= 0 {
			errs = append(errs, fmt.Errorf("edgefilter settings: %s must be > 0 when its filter is on", name))
		}
	}
	positive(s.Accuracy, "max_accuracy_m", s.MaxAccuracyM)
	positive(s.SpeedOutlier, "max_speed_ms", s.MaxSpeedMS)
	positive(s.Simplify, "epsilon_m", s.EpsilonM)
	positive(s.Simplify, "window_s", s.WindowS)
	positive(true, "gap_s", s.GapS)
	if s.Simplify && s.WindowPoints < 2 {
		errs = append(errs, fmt.Errorf("edgefilter settings: window_points = %d: must be ≥ 2", s.WindowPoints))
	}
	if s.WindowPoints > 100000 {
		errs = append(errs, fmt.Errorf("edgefilter settings: window_points = %d: at most 100000 (memory per device)", s.WindowPoints))
	}
	return errors.Join(errs...)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
