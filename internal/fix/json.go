package fix

import (
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// MarshalJSON writes the fix as geotrack's wire JSON: ts in RFC 3339 with
// milliseconds in UTC, optional fields only when set, attrs sorted by key.
func (f Fix) MarshalJSON() ([]byte, error) {
	return f.AppendJSON(make([]byte, 0, 160)), nil
}

// AppendJSON appends the JSON of f to b. It is the ingest hot path's encoder
// (history, outbox, emitted events): hand-written because reflection-based
// encoding cost more than the Redis work per fix. Its output is byte for
// byte what encoding/json would produce for the same fields (see the fuzz
// test), including the float and string formats.
func (f Fix) AppendJSON(b []byte) []byte {
	b = append(b, `{"device":`...)
	b = AppendString(b, f.Device)
	b = append(b, `,"ts":"`...)
	b = AppendTime(b, f.TS)
	b = append(b, `","lat":`...)
	b = appendFloat(b, f.Lat)
	b = append(b, `,"lon":`...)
	b = appendFloat(b, f.Lon)
	b = appendOpt(b, `,"alt":`, f.Alt)
	b = appendOpt(b, `,"acc":`, f.Acc)
	b = appendOpt(b, `,"speed":`, f.Speed)
	b = appendOpt(b, `,"heading":`, f.Heading)
	b = appendOpt(b, `,"battery":`, f.Battery)
	if len(f.Attrs) > 0 {
		keys := make([]string, 0, len(f.Attrs))
		for k := range f.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, `,"attrs":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
			b = append(b, ':')
			b = AppendString(b, f.Attrs[k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// AppendTime appends t as FormatTime does: RFC 3339, UTC, milliseconds.
// Written out by hand for years 0–9999 (time.AppendFormat is a general
// layout interpreter and showed up in ingest profiles).
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return b
}

func appendOpt(b []byte, key string, v *float64) []byte {
	if v == nil {
		return b
	}
	return appendFloat(append(b, key...), *v)
}

// appendFloat formats like encoding/json: shortest representation, 'e'
// notation only for very small or very large magnitudes. Non-finite values
// cannot be JSON; they are written as null (validation rejects them first).
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, quoted like encoding/json does
// (HTML-safe escaping, invalid UTF-8 replaced by U+FFFD).
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendFloat appends v as encoding/json formats a float64 (the GeoJSON
// stream writer needs the same numbers as the fixes' JSON).
func AppendFloat(b []byte, v float64) []byte { return appendFloat(b, v) }
