package fix

import (
	"fmt"
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
)

// MaxLat is the largest latitude Redis GEO can index (EPSG:900913 limits);
// fixes beyond it could never be stored, so they are rejected up front.
const MaxLat = 85.05112878

// MaxFuture is how far ahead of the receiver's clock a fix may be stamped.
const MaxFuture = 24 * time.Hour

// FieldError is a validation failure that names the offending field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ValidDevice reports whether id is an acceptable device id.
// It is ^[A-Za-z0-9._:-]{1,128}$, checked by hand: it runs for every fix.
func ValidDevice(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidateDevice returns a FieldError for field when id is not a device id.
func ValidateDevice(field, id string) error {
	if id == "" {
		return fieldErr(field, "required")
	}
	if !ValidDevice(id) {
		return fieldErr(field, "%q must match ^[A-Za-z0-9._:-]{1,128}$", clip.String(id, 40))
	}
	return nil
}

// Validate checks f against geotrack's rules, relative to now.
func Validate(f *Fix, now time.Time) error {
	if err := ValidateDevice("device", f.Device); err != nil {
		return err
	}
	if f.TS.IsZero() {
		return fieldErr("ts", "required (RFC 3339 time)")
	}
	if f.TS.After(now.Add(MaxFuture)) {
		return fieldErr("ts", "%s is more than 24h in the future", FormatTime(f.TS))
	}
	if f.TS.Year() < 1970 {
		return fieldErr("ts", "%s is before 1970", FormatTime(f.TS))
	}
	if err := finite("lat", f.Lat); err != nil {
		return err
	}
	if math.Abs(f.Lat) > MaxLat {
		return fieldErr("lat", "%g is outside ±%.8f (the latitude limit of Redis GEO)", f.Lat, MaxLat)
	}
	if err := finite("lon", f.Lon); err != nil {
		return err
	}
	if math.Abs(f.Lon) > 180 {
		return fieldErr("lon", "%g is outside ±180", f.Lon)
	}
	checks := []struct {
		name     string
		v        *float64
		min, max float64
		maxOpen  bool
	}{
		{"alt", f.Alt, -12000, 100000, false},
		{"acc", f.Acc, 0, math.MaxFloat64, false},
		{"speed", f.Speed, 0, 3e8, false},
		{"heading", f.Heading, 0, 360, true},
		{"battery", f.Battery, 0, 1, false},
	}
	for _, c := range checks {
		if c.v == nil {
			continue
		}
		if err := finite(c.name, *c.v); err != nil {
			return err
		}
		v := *c.v
		switch {
		case v < c.min && c.min == 0:
			return fieldErr(c.name, "%g must not be negative", v)
		case v < c.min, v > c.max, c.maxOpen && v >= c.max:
			if c.maxOpen {
				return fieldErr(c.name, "%g is outside [%g,%g)", v, c.min, c.max)
			}
			return fieldErr(c.name, "%g is outside [%g,%g]", v, c.min, c.max)
		}
	}
	for k, v := range f.Attrs {
		if len(k) > 64 || len(v) > 1024 {
			return fieldErr("attrs", "key %q: keys are at most 64 and values at most 1024 bytes", clip.String(k, 40))
		}
	}
	if len(f.Attrs) > 64 {
		return fieldErr("attrs", "at most 64 entries, got %d", len(f.Attrs))
	}
	return nil
}

func finite(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fieldErr(field, "must be a finite number, got %g", v)
	}
	return nil
}
