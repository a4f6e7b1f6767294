package locate

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// cursorPrefix versions the cursor format; cursors are opaque to clients.
const cursorPrefix = "h1:"

// EncodeCursor makes the history cursor of a page that starts at tsMS (unix
// ms). Because (device, ts ms) is unique in history, the timestamp alone
// says exactly where the next page begins, in either tier: the hot store and
// the merged reader of both tiers share this one format, so a cursor stays
// valid when an archive tier is added.
func EncodeCursor(tsMS int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(tsMS, 10)))
}

// DecodeCursor returns the ts (unix ms) a cursor points at; a cursor
// EncodeCursor did not make fails with an error wrapping ErrBadCursor.
func DecodeCursor(cursor string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	digits, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, fmt.Errorf("%w: unknown format", ErrBadCursor)
	}
	ts, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || ts < 0 {
		return 0, fmt.Errorf("%w: bad timestamp", ErrBadCursor)
	}
	// Only the exact form EncodeCursor makes is accepted (no leading zeros,
	// "+", newlines or stray base64 bits), so a cursor has one spelling.
	if EncodeCursor(ts) != cursor {
		return 0, fmt.Errorf("%w: not canonical", ErrBadCursor)
	}
	return ts, nil
}
