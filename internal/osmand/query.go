// Package osmand decodes the OsmAnd protocol as spoken by Traccar Client and
// the OsmAnd app (https://www.traccar.org/osmand/): query or form parameters,
// and the JSON body Traccar Client sends from version 9.
// It is pure domain code: the HTTP function hands over the values or body.
package osmand

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// knot is one nautical mile per hour in m/s; OsmAnd speeds are in knots.
const knot = 1852.0 / 3600.0

// known lists the parameters DecodeQuery maps itself; every other parameter
// becomes an attr, except token which is the auth parameter.
var known = map[string]bool{
	"id": true, "deviceid": true, "timestamp": true, "lat": true, "lon": true, "location": true,
	"speed": true, "bearing": true, "heading": true, "altitude": true, "accuracy": true,
	"batt": true, "token": true,
}

// DecodeQuery converts OsmAnd query or form parameters to a fix. now stamps
// reports without a timestamp, as Traccar uses server time then.
// When a parameter repeats, the first value counts.
//
// Mapping: id|deviceid → device; lat+lon, or location="lat,lon"; timestamp
// (see parseTimestamp); speed knots → m/s; bearing|heading → heading (360 is
// folded to 0); altitude → alt; accuracy → acc; batt percent → 0..1.
// Negative speed, heading, accuracy and batt mean "unknown" and are omitted.
// hdop is kept as attr "hdop" only: turning a dilution factor into metres
// needs a guessed receiver error, so it is never used as an accuracy fallback.
// driverUniqueId → attr "driver"; charge, valid, cell, wifi and any other
// parameter → attrs under their own names. valid=false is kept as attr
// "valid", not rejected: Traccar stores such fixes too, and policy belongs to
// the caller.
func DecodeQuery(values url.Values, now time.Time) (fix.Fix, error) {
	var f fix.Fix
	device := first(values, "id")
	field := "id"
	if device == "" {
		device, field = first(values, "deviceid"), "deviceid"
	}
	if device == "" {
		return fix.Fix{}, &fix.FieldError{Field: "id", Msg: "required (id or deviceid)"}
	}
	if err := fix.ValidateDevice(field, device); err != nil {
		return fix.Fix{}, err
	}
	f.Device = device

	ts, err := timestampParam(values, now)
	if err != nil {
		return fix.Fix{}, err
	}
	f.TS = ts

	if err := position(values, &f); err != nil {
		return fix.Fix{}, err
	}
	if err := measurements(values, &f); err != nil {
		return fix.Fix{}, err
	}
	f.Attrs = extraAttrs(values)
	return f, nil
}

func timestampParam(values url.Values, now time.Time) (time.Time, error) {
	if _, ok := values["timestamp"]; !ok {
		return now.UTC(), nil
	}
	ts, err := parseTimestamp(first(values, "timestamp"))
	if err != nil {
		return time.Time{}, &fix.FieldError{Field: "timestamp", Msg: err.Error()}
	}
	return ts, nil
}

func position(values url.Values, f *fix.Fix) error {
	if loc, ok := values["location"]; ok && len(loc) > 0 && !has(values, "lat") {
		parts := strings.Split(loc[0], ",")
		if len(parts) != 2 {
			return &fix.FieldError{Field: "location", Msg: fmt.Sprintf("%q must be \"lat,lon\"", clip.String(loc[0], 40))}
		}
		lat, err := parseFinite(strings.TrimSpace(parts[0]))
		if err != nil {
			return &fix.FieldError{Field: "location", Msg: "latitude " + err.Error()}
		}
		lon, err := parseFinite(strings.TrimSpace(parts[1]))
		if err != nil {
			return &fix.FieldError{Field: "location", Msg: "longitude " + err.Error()}
		}
		f.Lat, f.Lon = lat, lon
		return nil
	}
	lat, ok, err := param(values, "lat")
	if err != nil {
		return err
	}
	if !ok {
		return &fix.FieldError{Field: "lat", Msg: "required (lat and lon, or location=lat,lon)"}
	}
	lon, ok, err := param(values, "lon")
	if err != nil {
		return err
	}
	if !ok {
		return &fix.FieldError{Field: "lon", Msg: "required"}
	}
	f.Lat, f.Lon = lat, lon
	return nil
}

func measurements(values url.Values, f *fix.Fix) error {
	if v, ok, err := param(values, "speed"); err != nil {
		return err
	} else if ok && v >= 0 {
		f.Speed = fix.Float(v * knot)
	}
	headingKey := "bearing"
	if !has(values, headingKey) {
		headingKey = "heading"
	}
	if v, ok, err := param(values, headingKey); err != nil {
		return err
	} else if ok && v >= 0 {
		f.Heading = fix.Float(math.Mod(v, 360))
	}
	if v, ok, err := param(values, "altitude"); err != nil {
		return err
	} else if ok {
		f.Alt = fix.Float(v)
	}
	if v, ok, err := param(values, "accuracy"); err != nil {
		return err
	} else if ok && v >= 0 {
		f.Acc = fix.Float(v)
	}
	if v, ok, err := param(values, "batt"); err != nil {
		return err
	} else if ok && v >= 0 {
		if v > 100 {
			return &fix.FieldError{Field: "batt", Msg: fmt.Sprintf("%g is not a percentage (0..100)", v)}
		}
		f.Battery = fix.Float(v / 100)
	}
	return nil
}

// extraAttrs keeps every unmapped parameter as a string attr, in a stable
// order so that fix.Validate's 64-entry limit drops nothing at random: the
// caller sees a clear attrs error instead.
func extraAttrs(values url.Values) map[string]string {
	keys := make([]string, 0, len(values))
	for k := range values {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		name := k
		if k == "driverUniqueId" {
			name = "driver"
		}
		out[name] = first(values, k)
	}
	return out
}

// param reads a numeric parameter; ok is false when it is absent or empty
// (OsmAnd leaves placeholders it cannot fill empty).
func param(values url.Values, key string) (v float64, ok bool, err error) {
	s := strings.TrimSpace(first(values, key))
	if s == "" {
		return 0, false, nil
	}
	v, err = parseFinite(s)
	if err != nil {
		return 0, false, &fix.FieldError{Field: key, Msg: err.Error()}
	}
	return v, true, nil
}

// parseFinite rejects NaN and ±Inf, which strconv.ParseFloat accepts.
func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", clip.String(s, 40))
	}
	return v, nil
}

func first(values url.Values, key string) string {
	if v := values[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func has(values url.Values, key string) bool { return len(values[key]) > 0 }
