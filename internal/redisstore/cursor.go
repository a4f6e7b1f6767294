package redisstore

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/geotrack/geotrack/internal/locate"
)

// cursorPrefix versions the cursor format; cursors are opaque to clients.
const cursorPrefix = "h1:"

// encodeCursor makes the cursor for a page that starts at tsMS. Because
// (device, ts ms) is unique in history, the timestamp alone says exactly
// where the next page begins.
func encodeCursor(tsMS int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(tsMS, 10)))
}

// decodeCursor returns the ts (unix ms) a cursor points at.
func decodeCursor(cursor string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, fmt.Errorf("%w: not base64url", locate.ErrBadCursor)
	}
	digits, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, fmt.Errorf("%w: unknown format", locate.ErrBadCursor)
	}
	ts, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || ts < 0 {
		return 0, fmt.Errorf("%w: bad timestamp", locate.ErrBadCursor)
	}
	// Only the exact form encodeCursor makes is accepted (no leading zeros,
	// "+", newlines or stray base64 bits), so a cursor has one spelling.
	if encodeCursor(ts) != cursor {
		return 0, fmt.Errorf("%w: not canonical", locate.ErrBadCursor)
	}
	return ts, nil
}
