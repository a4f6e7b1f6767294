package osmand

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// isoLayouts are the ISO 8601 forms accepted besides RFC 3339; forms without
// a zone are read as UTC.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// parseTimestamp accepts epoch seconds or milliseconds (by magnitude, as
// Traccar does; fractional seconds allowed), ISO 8601 / RFC 3339, and
// "yyyy-MM-dd HH:mm:ss", which is read as UTC.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty: send epoch seconds or ms, or an ISO 8601 time")
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && isDigits(s) {
		return fix.EpochTime(n)
	}
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not epoch seconds/ms, ISO 8601 or yyyy-MM-dd HH:mm:ss", clip.String(s, 40))
}

// isDigits limits the epoch form to plain decimals, so "1e9", "Inf" and
// "0x10" are not taken for times.
func isDigits(s string) bool {
	dot := false
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return false
		}
	}
	return true
}
