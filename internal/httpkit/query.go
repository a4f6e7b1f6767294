package httpkit

// Query parameters of the read functions: each bad one is a 400 naming it.

import (
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// QueryFloat reads a required finite float within [min,max].
func QueryFloat(q url.Values, name string, min, max float64) (float64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, Invalid(name, "required")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, Invalid(name, "%q is not a finite number", s)
	}
	if v < min || v > max {
		return 0, Invalid(name, "%g is outside [%g,%g]", v, min, max)
	}
	return v, nil
}

// QueryInt reads an optional integer within [min,max], def when absent.
func QueryInt(q url.Values, name string, def, min, max int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, Invalid(name, "%q is not an integer", s)
	}
	if v < min || v > max {
		return 0, Invalid(name, "%d is outside [%d,%d]", v, min, max)
	}
	return v, nil
}

// QueryTime reads an optional RFC 3339 time (or unix seconds); zero when absent.
func QueryTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := fix.ParseTime(s)
	if err != nil {
		return time.Time{}, Invalid(name, "%q is neither an RFC 3339 time (e.g. 2024-05-01T12:00:00Z) nor unix seconds", s)
	}
	return t, nil
}
