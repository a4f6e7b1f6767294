package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

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
	var ok bool
	if r.LatE7, ok = toE7(f.Lat); !ok {
		keep("lat", f.Lat)
	}
	if r.LonE7, ok = toE7(f.Lon); !ok {
		keep("lon", f.Lon)
	}
	for _, o := range []struct {
		name string
		v    *float64
		dst  **float32
	}{
		{"alt", f.Alt, &r.Alt}, {"acc", f.Acc, &r.Acc}, {"speed", f.Speed, &r.Speed},
		{"heading", f.Heading, &r.Heading}, {"battery", f.Battery, &r.Battery},
	} {
		if o.v == nil {
			continue
		}
		v32 := float32(*o.v)
		*o.dst = &v32
		if fromFloat32(v32) != *o.v {
			keep(o.name, *o.v)
		}
	}
	if len(f.Attrs) == 0 && exact == nil {
		return r, nil
	}
	if _, clash := f.Attrs[ExactKey]; clash && exact != nil {
		return Row{}, fmt.Errorf("%w: device %q ts %d: attr %q clashes with the exact values of %v", ErrUnrepresentable, f.Device, r.TS, ExactKey, exact)
	}
	attrs := appendAttrs(make([]byte, 0, 64), f.Attrs, exact)
	s := string(attrs)
	r.Attrs = &s
	return r, nil
}

// Fix converts a row back to the fix it was made from.
func (r Row) Fix() (fix.Fix, error) {
	f := fix.Fix{
		Device: r.Device,
		TS:     time.UnixMilli(r.TS).UTC(),
		Lat:    float64(r.LatE7) / 1e7,
		Lon:    float64(r.LonE7) / 1e7,
	}
	for _, o := range []struct {
		v   *float32
		dst **float64
	}{{r.Alt, &f.Alt}, {r.Acc, &f.Acc}, {r.Speed, &f.Speed}, {r.Heading, &f.Heading}, {r.Battery, &f.Battery}} {
		if o.v != nil {
			v := fromFloat32(*o.v)
			*o.dst = &v
		}
	}
	if r.Attrs == nil {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*r.Attrs), &raw); err != nil {
		return fix.Fix{}, fmt.Errorf("archive: device %q ts %d: attrs: %w", r.Device, r.TS, err)
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
			f.Alt = &v
		case "acc":
			f.Acc = &v
		case "speed":
			f.Speed = &v
		case "heading":
			f.Heading = &v
		case "battery":
			f.Battery = &v
		default:
			return fmt.Errorf("%s: unknown field %q", ExactKey, name)
		}
	}
	return nil
}

// toE7 scales a coordinate to 1e-7 degrees; ok says the value is exactly
// the 7-decimal number the integer stands for (what ParseFloat of those
// decimals gives), so Row.Fix returns it unchanged.
func toE7(deg float64) (int32, bool) {
	e7 := math.Round(deg * 1e7)
	if math.IsNaN(e7) || e7 > math.MaxInt32 || e7 < math.MinInt32 {
		return 0, false
	}
	return int32(e7), e7/1e7 == deg
}

// fromFloat32 is the float64 of v's shortest decimal form: 5.3 stored as
// float32 comes back as 5.3, not 5.300000190734863.
func fromFloat32(v float32) float64 {
	var buf [32]byte
	d, _ := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(v), 'g', -1, 32)), 64)
	return d
}

// appendAttrs writes the attrs column: the attrs sorted by key, then the
// exact values under ExactKey.
func appendAttrs(b []byte, attrs map[string]string, exact map[string]float64) []byte {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = fix.AppendString(b, k)
		b = append(b, ':')
		b = fix.AppendString(b, attrs[k])
	}
	if exact != nil {
		if len(keys) > 0 {
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
		b = append(b, '}')
	}
	return append(b, '}')
}
