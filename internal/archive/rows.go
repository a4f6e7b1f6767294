package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// ExactKey is the key of the attrs JSON object that holds, as JSON numbers,
// the exact values of the fields whose typed column cannot carry them:
// a coordinate with more than 7 decimals, an optional value that float32
// does not round-trip (more than ~7 significant digits). Every other key of
// the object is one of the fix's attrs, whose values are always strings.
// Fixes from GPS receivers keep their columns; the key is the exception,
// so that the archive returns exactly what the hot store returned.
const ExactKey = "~exact"

// ErrUnrepresentable is returned for a fix that has an attr named ExactKey
// and needs exact values: both cannot sit in one JSON object.
var ErrUnrepresentable = errors.New("archive: fix cannot be archived")

// HRAttr is the attr archived in the typed column hr when its value is a
// canonical integer ("137"); any other value stays in attrs.
const HRAttr = "hr"

// optionalColumns are the optional fields' decimal columns: the scale
// (decimal digits) each keeps exactly, as DECIMAL(9, scale).
var optionalColumns = [...]struct {
	name  string
	scale float64 // 10^digits
	get   func(*fix.Fix) **float64
	col   func(*Row) **int32
}{
	{"alt", 1e1, func(f *fix.Fix) **float64 { return &f.Alt }, func(r *Row) **int32 { return &r.AltDM }},
	{"acc", 1e1, func(f *fix.Fix) **float64 { return &f.Acc }, func(r *Row) **int32 { return &r.AccDM }},
	{"speed", 1e2, func(f *fix.Fix) **float64 { return &f.Speed }, func(r *Row) **int32 { return &r.SpeedCMS }},
	{"heading", 1e2, func(f *fix.Fix) **float64 { return &f.Heading }, func(r *Row) **int32 { return &r.HeadingCD }},
	{"battery", 1e4, func(f *fix.Fix) **float64 { return &f.Battery }, func(r *Row) **int32 { return &r.BatteryE4 }},
}

// maxDecimal9 bounds a DECIMAL(9, s) column's unscaled value.
const maxDecimal9 = 999_999_999

// FromFix converts a fix to its row, exactly: Row.Fix returns f again
// (ts at millisecond precision, as the hot store keeps it).
func FromFix(f fix.Fix) (Row, error) {
	r := Row{Device: f.Device, TS: f.TS.UnixMilli()}
	var exact map[string]float64
	keep := func(name string, v float64) {
		if exact == nil {
			exact = map[string]float64{}
		}
		exact[name] = v
	}
	lat, fits, exact7 := toScaled(f.Lat, 1e7, 900_000_000)
	if !fits || !exact7 {
		keep("lat", f.Lat)
	}
	r.LatE7 = int32(lat)
	if lon, fits, exact7 := toScaled(f.Lon, 1e7, 1_800_000_000); !fits || !exact7 {
		keep("lon", f.Lon)
	} else {
		r.LonE7 = lon
	}
	for _, c := range optionalColumns {
		v := *c.get(&f)
		if v == nil {
			continue
		}
		scaled, fits, isExact := toScaled(*v, c.scale, maxDecimal9)
		if !fits || !isExact {
			keep(c.name, *v)
		}
		if !fits {
			continue // out of the column's range: null there, exact in attrs
		}
		s32 := int32(scaled)
		*c.col(&r) = &s32
	}
	attrs := f.Attrs
	if hr, ok := attrs[HRAttr]; ok {
		if n, err := strconv.ParseInt(hr, 10, 32); err == nil && strconv.FormatInt(n, 10) == hr {
			n32 := int32(n)
			r.HR = &n32
			attrs = withoutKey(attrs, HRAttr)
		}
	}
	if len(attrs) == 0 && exact == nil {
		return r, nil
	}
	if _, clash := attrs[ExactKey]; clash && exact != nil {
		return Row{}, fmt.Errorf("%w: device %q ts %d: attr %q clashes with the exact values of %v", ErrUnrepresentable, f.Device, r.TS, ExactKey, exact)
	}
	s := string(appendAttrs(make([]byte, 0, 64), attrs, exact))
	r.Attrs = &s
	return r, nil
}

// withoutKey is a copy of m without key.
func withoutKey(m map[string]string, key string) map[string]string {
	if len(m) == 1 {
		return nil
	}
	out := make(map[string]string, len(m)-1)
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// Fix converts a row back to the fix it was made from.
func (r *Row) Fix() (fix.Fix, error) {
	f := fix.Fix{
		Device: r.Device,
		TS:     time.UnixMilli(r.TS).UTC(),
		Lat:    float64(r.LatE7) / 1e7,
		Lon:    float64(r.LonE7) / 1e7,
	}
	for _, c := range optionalColumns {
		if v := *c.col(r); v != nil {
			d := float64(*v) / c.scale
			*c.get(&f) = &d
		}
	}
	if r.HR != nil {
		f.Attrs = map[string]string{HRAttr: strconv.FormatInt(int64(*r.HR), 10)}
	}
	if r.Attrs == nil || *r.Attrs == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*r.Attrs), &raw); err != nil {
		return fix.Fix{}, fmt.Errorf("archive: device %q ts %d: attrs %q: %w", r.Device, r.TS, clip.String(*r.Attrs, 60), err)
	}
	for k, v := range raw {
		if k == ExactKey && len(v) > 0 && v[0] == '{' {
			var exact map[string]float64
			if err := json.Unmarshal(v, &exact); err != nil {
				return fix.Fix{}, fmt.Errorf("archive: device %q ts %d: %s: %w", r.Device, r.TS, ExactKey, err)
			}
			if err := applyExact(&f, exact); err != nil {
				return fix.Fix{}, fmt.Errorf("archive: device %q ts %d: %w", r.Device, r.TS, err)
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fix.Fix{}, fmt.Errorf("archive: device %q ts %d: attr %q is not a string: %w", r.Device, r.TS, k, err)
		}
		if f.Attrs == nil {
			f.Attrs = map[string]string{}
		}
		f.Attrs[k] = s
	}
	return f, nil
}

func applyExact(f *fix.Fix, exact map[string]float64) error {
	for name, v := range exact {
		switch name {
		case "lat":
			f.Lat = v
		case "lon":
			f.Lon = v
		case "alt":
			f.Alt = fix.Float(v)
		case "acc":
			f.Acc = fix.Float(v)
		case "speed":
			f.Speed = fix.Float(v)
		case "heading":
			f.Heading = fix.Float(v)
		case "battery":
			f.Battery = fix.Float(v)
		default:
			return fmt.Errorf("%s: unknown field %q", ExactKey, name)
		}
	}
	return nil
}

// toScaled is v × scale rounded to an integer n: fits says n is within
// ±limit, exact that n/scale gives v back bit for bit (so -0 and extra
// decimals are not exact).
func toScaled(v, scale float64, limit int64) (n int64, fits, exact bool) {
	s := math.Round(v * scale)
	if math.IsNaN(s) || math.Abs(s) > float64(limit) {
		return 0, false, false
	}
	return int64(s), true, math.Float64bits(s/scale) == math.Float64bits(v)
}

// appendAttrs writes the attrs column: the attrs as fix.AppendAttrs
// writes them, then the exact values under ExactKey.
func appendAttrs(b []byte, attrs map[string]string, exact map[string]float64) []byte {
	b = fix.AppendAttrs(b, attrs)
	if exact == nil {
		return b
	}
	b = b[:len(b)-1] // reopen the object
	if len(attrs) > 0 {
		b = append(b, ',')
	}
	b = fix.AppendString(b, ExactKey)
	b = append(b, ":{"...)
	names := make([]string, 0, len(exact))
	for k := range exact {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = fix.AppendString(b, k)
		b = append(b, ':')
		b = strconv.AppendFloat(b, exact[k], 'g', -1, 64)
	}
	return append(b, "}}"...)
}
