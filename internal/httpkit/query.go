// Package query parses and checks the query parameters of the read
// functions, so each bad parameter gets a 400 naming it.
package httpkit

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Float reads a required finite float within [min,max].
func Float(q url.Values, name string, min, max float64) (float64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, fmt.Errorf("%s: required", name)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: %q is not a finite number", name, s)
	}
	if v < min || v > max {
		return 0, fmt.Errorf("%s: %g is outside [%g,%g]", name, v, min, max)
	}
	return v, nil
}

// Int reads an optional integer within [min,max], def when absent.
func Int(q url.Values, name string, def, min, max int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, s)
	}
	if v < min || v > max {
		return 0, fmt.Errorf("%s: %d is outside [%d,%d]", name, v, min, max)
	}
	return v, nil
}

// Time reads an optional RFC 3339 time (or unix seconds); zero when absent.
func Time(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := fix.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %v", name, err)
	}
	return t, nil
}
