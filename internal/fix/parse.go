package fix

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// MaxAttrValue is the longest attr value, in bytes, that Validate accepts.
const MaxAttrValue = 1024

// maxEpochSeconds is Traccar's cut-over: epoch numbers below 2^31-1 are
// seconds, larger ones milliseconds (seconds stay below it until 2038).
const maxEpochSeconds = math.MaxInt32

// EpochTime turns a positive epoch number into a UTC time by its magnitude,
// as Traccar does: seconds (fractions allowed) below 2^31-1, milliseconds
// above. Values beyond 1e15 ms (year ~33658) are refused rather than wrapped.
func EpochTime(n float64) (time.Time, error) {
	if !(n > 0) { // also NaN
		return time.Time{}, fmt.Errorf("%g is not a positive epoch time", n)
	}
	if n < maxEpochSeconds {
		n *= 1000
	}
	if n > 1e15 {
		return time.Time{}, fmt.Errorf("%g is too large for epoch milliseconds", n)
	}
	return time.UnixMilli(int64(math.Round(n))).UTC(), nil
}

// ClipAttr cuts s to at most MaxAttrValue bytes without splitting a UTF-8
// sequence, so an over-long value from a device shortens instead of failing
// Validate.
func ClipAttr(s string) string {
	if len(s) <= MaxAttrValue {
		return s
	}
	s = s[:MaxAttrValue]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
