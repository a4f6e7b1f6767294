package archive

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// The cold reader's view of the archive layout and schema, kept to this
// file so that a change of either (column names, the attrs format, the
// escaping of partition values) is a change here only.

// coldDevicePrefix is the folder of a device's date partitions:
// <prefix>tenant=<t>/device=<d>/, partition values escaped as Hive does
// (every byte but A-Z a-z 0-9 . _ - as %XX).
func coldDevicePrefix(prefix, tenant, device string) string {
	return prefix + "tenant=" + coldEscape(tenant) + "/device=" + coldEscape(device) + "/"
}

func coldEscape(s string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

// coldExactKey is the attrs key holding, as JSON numbers, exact values of
// fields their column cannot carry (more than 7 decimals of a coordinate,
// an optional value float32 does not round-trip).
const coldExactKey = "~exact"

// coldFixOfRow converts an archived row to the fix the hot store returned
// for it (the archiver's Row.Fix on h13-archive; one of the two goes at
// the merge): coordinates from 1e-7 degrees, optional float32 values to the
// shortest decimal that reads back to them (223.4, not 223.39999389648438),
// attrs from their JSON object, exact values where the row kept them.
func coldFixOfRow(r *Row) (fix.Fix, error) {
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
			v := coldFloat64(*o.v)
			*o.dst = &v
		}
	}
	if r.Attrs == nil || *r.Attrs == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*r.Attrs), &raw); err != nil {
		return fix.Fix{}, fmt.Errorf("ts %d: attrs %q: %w", r.TS, clip.String(*r.Attrs, 60), err)
	}
	for k, v := range raw {
		if k == coldExactKey && len(v) > 0 && v[0] == '{' {
			var exact map[string]float64
			if err := json.Unmarshal(v, &exact); err != nil {
				return fix.Fix{}, fmt.Errorf("ts %d: attrs %s: %w", r.TS, coldExactKey, err)
			}
			if err := coldApplyExact(&f, exact); err != nil {
				return fix.Fix{}, fmt.Errorf("ts %d: %w", r.TS, err)
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fix.Fix{}, fmt.Errorf("ts %d: attr %q is not a string: %w", r.TS, k, err)
		}
		if f.Attrs == nil {
			f.Attrs = map[string]string{}
		}
		f.Attrs[k] = s
	}
	return f, nil
}

func coldApplyExact(f *fix.Fix, exact map[string]float64) error {
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
			return fmt.Errorf("%s: unknown field %q", coldExactKey, name)
		}
	}
	return nil
}

// coldFloat64 is the float64 of the shortest decimal that reads back to v.
func coldFloat64(v float32) float64 {
	d, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	return d
}
