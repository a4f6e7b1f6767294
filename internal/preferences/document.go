// Package preferences is tracking preferences: a tenant's defaults and each
// device's overrides (tracking on or paused, the edge filter settings, the
// trip rules, privacy zones, report hints for apps, hot retention), their
// strict decoding and validation, and the effective settings of a device.
// Pure domain code; storage is a Store the redisstore adapter implements.
package preferences

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
	"github.com/geotrack/geotrack/internal/trips"
)

// Tracking values.
const (
	TrackingOn     = "on"
	TrackingPaused = "paused"
)

// Limits of a document.
const (
	MaxDocumentBytes = 64 << 10
	MaxZones         = 100
	MaxZoneNameLen   = 64
	MaxZoneRadiusM   = 100_000
	MaxRetention     = 366 * 24 * time.Hour
)

// Document is one preferences document, the tenant's or a device's. An
// absent key inherits (device from tenant, tenant from the built-in
// defaults).
type Document struct {
	Tracking     string          `json:"tracking,omitempty"`
	Filter       json.RawMessage `json:"filter,omitempty"` // edge filter settings, EDGE_DEVICE_SETTINGS keys
	Trips        *TripRules      `json:"trips,omitempty"`
	PrivacyZones []Zone          `json:"privacy_zones,omitempty"`
	Report       *Report         `json:"report,omitempty"`
	Retention    string          `json:"retention,omitempty"` // Go duration, e.g. "72h"
}

// TripRules are the trip rules as preferences spell them; absent fields
// keep the inherited value.
type TripRules struct {
	MinDistanceM *float64 `json:"min_distance_m,omitempty"`
	MinDurationS *float64 `json:"min_duration_s,omitempty"`
	MinParkingS  *float64 `json:"min_parking_s,omitempty"`
	NoDataGapS   *float64 `json:"no_data_gap_s,omitempty"`
	StopRadiusM  *float64 `json:"stop_radius_m,omitempty"`
	MinMoveM     *float64 `json:"min_move_m,omitempty"`
	StartSpeed   *float64 `json:"start_speed,omitempty"`
	StopSpeed    *float64 `json:"stop_speed,omitempty"`
}

// Zone is a privacy zone: no fix inside it is stored anywhere.
type Zone struct {
	Name    string  `json:"name"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	RadiusM float64 `json:"radius_m"`
}

// Report holds the reporting hints sent to apps (OwnTracks).
type Report struct {
	IntervalS     *float64 `json:"interval_s,omitempty"`
	DisplacementM *float64 `json:"displacement_m,omitempty"`
}

func fieldErr(field, format string, args ...any) error {
	return &fix.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Decode reads one document strictly: one JSON object, no unknown keys,
// every value valid. Errors are *fix.FieldError naming the field.
func Decode(data []byte) (Document, error) {
	if len(data) > MaxDocumentBytes {
		return Document{}, fieldErr("body", "larger than %d bytes", MaxDocumentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return Document{}, jsonFieldErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Document{}, fieldErr("body", "one JSON object expected, found more after it")
	}
	if bytes.TrimSpace(data)[0] != '{' {
		return Document{}, fieldErr("body", "must be a JSON object")
	}
	return d, d.Validate()
}

// jsonFieldErr names the field of a decoding error.
func jsonFieldErr(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		field := ute.Field
		if field == "" {
			field = "body"
		}
		return fieldErr(field, "must be %s, not %s", jsonKind(ute.Type.Kind().String()), ute.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fieldErr("body", "invalid JSON at byte %d: %v", se.Offset, se)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		if name == "" {
			return fieldErr("body", "unknown key \"\"")
		}
		return fieldErr(name, "unknown key")
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fieldErr("body", "empty or truncated JSON")
	}
	return fieldErr("body", "%v", err)
}

func jsonKind(k string) string {
	switch k {
	case "float64", "int", "int64":
		return "a number"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return k
}

// Validate checks every value of d.
func (d Document) Validate() error {
	switch d.Tracking {
	case "", TrackingOn, TrackingPaused:
	default:
		return fieldErr("tracking", "%q is not one of on, paused", d.Tracking)
	}
	if len(d.Filter) > 0 {
		if _, err := FilterSettings(edgefilter.DefaultSettings(), d.Filter); err != nil {
			return err
		}
	}
	if d.Trips != nil {
		if _, err := d.Trips.apply(trips.DefaultRules()); err != nil {
			return err
		}
	}
	if len(d.PrivacyZones) > MaxZones {
		return fieldErr("privacy_zones", "at most %d zones", MaxZones)
	}
	for i, z := range d.PrivacyZones {
		f := func(name string) string { return fmt.Sprintf("privacy_zones[%d].%s", i, name) }
		switch {
		case strings.TrimSpace(z.Name) == "" || len(z.Name) > MaxZoneNameLen:
			return fieldErr(f("name"), "required, at most %d bytes", MaxZoneNameLen)
		case !finite(z.Lat) || math.Abs(z.Lat) > 90:
			return fieldErr(f("lat"), "must be within ±90")
		case !finite(z.Lon) || math.Abs(z.Lon) > 180:
			return fieldErr(f("lon"), "must be within ±180")
		case !finite(z.RadiusM) || z.RadiusM <= 0 || z.RadiusM > MaxZoneRadiusM:
			return fieldErr(f("radius_m"), "must be more than 0 and at most %d", MaxZoneRadiusM)
		}
	}
	if r := d.Report; r != nil {
		if r.IntervalS != nil && (!finite(*r.IntervalS) || *r.IntervalS < 1 || *r.IntervalS > 86400) {
			return fieldErr("report.interval_s", "must be between 1 and 86400")
		}
		if r.DisplacementM != nil && (!finite(*r.DisplacementM) || *r.DisplacementM < 0 || *r.DisplacementM > 100000) {
			return fieldErr("report.displacement_m", "must be between 0 and 100000")
		}
	}
	if d.Retention != "" {
		r, err := time.ParseDuration(d.Retention)
		if err != nil || r < time.Hour || r > MaxRetention {
			return fieldErr("retention", "%q: must be a duration from 1h to %s", d.Retention, MaxRetention)
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// FilterSettings applies a filter object over base, strictly.
func FilterSettings(base edgefilter.Settings, raw json.RawMessage) (edgefilter.Settings, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	s := base
	if err := dec.Decode(&s); err != nil {
		err := jsonFieldErr(err).(*fix.FieldError)
		if err.Field == "body" {
			err.Field = "filter"
		} else {
			err.Field = "filter." + err.Field
		}
		return base, err
	}
	if err := s.Validate(); err != nil {
		return base, fieldErr("filter", "%v", err)
	}
	return s, nil
}

func (t *TripRules) apply(r trips.Rules) (trips.Rules, error) {
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	dur := func(dst *time.Duration, v *float64) {
		if v != nil && finite(*v) && math.Abs(*v) < 1e9 {
			*dst = time.Duration(*v * float64(time.Second))
		} else if v != nil {
			*dst = -1 // out of range: Validate names it
		}
	}
	set(&r.MinTripDistanceM, t.MinDistanceM)
	dur(&r.MinTripDuration, t.MinDurationS)
	dur(&r.MinParking, t.MinParkingS)
	dur(&r.NoDataGap, t.NoDataGapS)
	set(&r.StopRadiusM, t.StopRadiusM)
	set(&r.MinMoveM, t.MinMoveM)
	set(&r.StartSpeed, t.StartSpeed)
	set(&r.StopSpeed, t.StopSpeed)
	if err := r.Validate(); err != nil {
		return trips.DefaultRules(), err
	}
	return r, nil
}

// InZone returns the first privacy zone containing p.
func InZone(zones []Zone, p geo.Point) (Zone, bool) {
	for _, z := range zones {
		if geo.Haversine(geo.Point{Lat: z.Lat, Lon: z.Lon}, p) <= z.RadiusM {
			return z, true
		}
	}
	return Zone{}, false
}
