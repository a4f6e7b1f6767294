package redisstore

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/geotrack/geotrack/internal/locate"
)

func encodeRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestCursorRoundTrip(t *testing.T) {
	for _, ts := range []int64{0, 1, 1_795_000_000_123, 253_402_300_799_999} {
		got, err := decodeCursor(encodeCursor(ts))
		if err != nil || got != ts {
			t.Errorf("decode(encode(%d)) = %d, %v", ts, got, err)
		}
	}
}

// FuzzDecodeCursor: any input either decodes to a non-negative ts that
// re-encodes to the very same cursor, or fails with ErrBadCursor.
func FuzzDecodeCursor(f *testing.F) {
	for _, seed := range []string{"", "!!!", encodeCursor(0), encodeCursor(1795000000123), encodeRaw("h1:"), encodeRaw("h1:-1"), encodeRaw("h1:+5"), encodeRaw("h1:007"), encodeRaw("x1:5")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		ts, err := decodeCursor(cursor)
		if err != nil {
			if !errors.Is(err, locate.ErrBadCursor) {
				t.Fatalf("decodeCursor(%q) error %v does not wrap ErrBadCursor", cursor, err)
			}
			return
		}
		if ts < 0 {
			t.Fatalf("decodeCursor(%q) = %d, negative", cursor, ts)
		}
		if again := encodeCursor(ts); again != cursor {
			t.Fatalf("decodeCursor(%q) = %d, which encodes to %q", cursor, ts, again)
		}
	})
}
