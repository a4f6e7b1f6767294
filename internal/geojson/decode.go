// Package geojson reads timed tracks from GeoJSON (RFC 7946) into fixes and
// writes fixes as a GeoJSON track. It is pure domain code.
package geojson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// object is any GeoJSON object; which fields matter depends on Type.
type object struct {
	Type        *string           `json:"type"`
	Features    []json.RawMessage `json:"features"`
	Geometry    json.RawMessage   `json:"geometry"`
	Properties  json.RawMessage   `json:"properties"`
	Coordinates json.RawMessage   `json:"coordinates"`
}

// properties holds the members Decode reads; everything else is ignored.
type properties struct {
	Device     json.RawMessage `json:"device"`
	CoordTimes json.RawMessage `json:"coordTimes"`
	Times      json.RawMessage `json:"times"`
	Time       json.RawMessage `json:"time"`
	TS         json.RawMessage `json:"ts"`
	Timestamp  json.RawMessage `json:"timestamp"`
}

// Decode reads a FeatureCollection, a Feature or a bare geometry into fixes,
// in document order, at most fix.MaxBatch of them.
//
//   - LineString, MultiPoint: per-position times from properties.coordTimes
//     (the togeojson/Strava convention) or properties.times.
//   - MultiLineString: the same, as an array of arrays (one per line) or one
//     flat array covering all positions.
//   - Point: properties.time, ts or timestamp (or a one-element coordTimes).
//
// Positions are [lon, lat] or [lon, lat, alt]; further members are ignored.
// Times are RFC 3339 strings (no zone = UTC) or epoch numbers, seconds below
// 2^31 and milliseconds above. properties.device, when a string, overrides
// device for that feature. A missing time is an error naming the member
// (e.g. "features[2].properties.coordTimes"); other geometry types are
// rejected. Errors are *fix.FieldError. An empty FeatureCollection decodes to
// no fixes.
func Decode(data []byte, device string) ([]fix.Fix, error) {
	d := &decoder{device: device, max: fix.MaxBatch}
	var top object
	if err := strictUnmarshal(data, &top); err != nil {
		return nil, fieldErr("", err)
	}
	if top.Type == nil {
		return nil, &fix.FieldError{Field: "type", Msg: "required (FeatureCollection, Feature or a geometry)"}
	}
	switch *top.Type {
	case "FeatureCollection":
		if top.Features == nil {
			return nil, &fix.FieldError{Field: "features", Msg: "required"}
		}
		for i, raw := range top.Features {
			if err := d.feature(raw, fmt.Sprintf("features[%d].", i)); err != nil {
				return nil, err
			}
		}
	case "Feature":
		if err := d.feature(data, ""); err != nil {
			return nil, err
		}
	default:
		if err := d.geometry(data, properties{}, device, ""); err != nil {
			return nil, err
		}
	}
	return d.fixes, nil
}

type decoder struct {
	device string
	max    int
	fixes  []fix.Fix
}

func (d *decoder) feature(raw json.RawMessage, path string) error {
	var obj object
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fieldErr(strings.TrimSuffix(path, "."), err)
	}
	if obj.Type == nil || *obj.Type != "Feature" {
		return &fix.FieldError{Field: path + "type", Msg: "must be \"Feature\""}
	}
	var props properties
	if len(obj.Properties) > 0 && string(obj.Properties) != "null" {
		if err := json.Unmarshal(obj.Properties, &props); err != nil {
			return &fix.FieldError{Field: path + "properties", Msg: "must be an object"}
		}
	}
	device := d.device
	if len(props.Device) > 0 && string(props.Device) != "null" {
		if err := json.Unmarshal(props.Device, &device); err != nil || device == "" {
			return &fix.FieldError{Field: path + "properties.device", Msg: "must be a non-empty string"}
		}
	}
	if len(obj.Geometry) == 0 || string(obj.Geometry) == "null" {
		return &fix.FieldError{Field: path + "geometry", Msg: "required: a feature without geometry has no position"}
	}
	return d.geometry(obj.Geometry, props, device, path+"geometry.")
}

// geometry decodes one geometry; path ("features[i].geometry." or "")
// prefixes its members in errors, and its times live in the sibling
// properties.
func (d *decoder) geometry(raw json.RawMessage, props properties, device, path string) error {
	var g object
	if err := json.Unmarshal(raw, &g); err != nil {
		return fieldErr(strings.TrimSuffix(path, "."), err)
	}
	if g.Type == nil {
		return &fix.FieldError{Field: path + "type", Msg: "required"}
	}
	propsPath := strings.TrimSuffix(path, "geometry.") + "properties."
	coordsPath := path + "coordinates"
	switch *g.Type {
	case "Point":
		pos, err := position(g.Coordinates, coordsPath)
		if err != nil {
			return err
		}
		ts, err := pointTime(props, propsPath)
		if err != nil {
			return err
		}
		return d.add(pos, ts, device)
	case "LineString", "MultiPoint":
		var coords []json.RawMessage
		if err := json.Unmarshal(g.Coordinates, &coords); err != nil || coords == nil {
			return &fix.FieldError{Field: coordsPath, Msg: "must be an array of positions"}
		}
		key, times, err := timeList(props, propsPath)
		if err != nil {
			return err
		}
		var list []json.RawMessage
		if err := json.Unmarshal(times, &list); err != nil {
			return &fix.FieldError{Field: propsPath + key, Msg: "must be an array of times"}
		}
		return d.line(coords, list, device, coordsPath, propsPath+key)
	case "MultiLineString":
		return d.multiLine(g.Coordinates, props, device, coordsPath, propsPath)
	}
	return &fix.FieldError{Field: path + "type", Msg: fmt.Sprintf("%q has no track: use LineString, MultiLineString, MultiPoint or Point", clip.String(*g.Type, 40))}
}

func (d *decoder) multiLine(raw json.RawMessage, props properties, device, coordsPath, propsPath string) error {
	var lines [][]json.RawMessage
	if err := json.Unmarshal(raw, &lines); err != nil || lines == nil {
		return &fix.FieldError{Field: coordsPath, Msg: "must be an array of arrays of positions"}
	}
	key, times, err := timeList(props, propsPath)
	if err != nil {
		return err
	}
	var nested [][]json.RawMessage
	if err := json.Unmarshal(times, &nested); err == nil {
		if len(nested) != len(lines) {
			return &fix.FieldError{Field: propsPath + key, Msg: fmt.Sprintf("has %d time arrays for %d lines", len(nested), len(lines))}
		}
		for i := range lines {
			if err := d.line(lines[i], nested[i], device, fmt.Sprintf("%s[%d]", coordsPath, i), fmt.Sprintf("%s%s[%d]", propsPath, key, i)); err != nil {
				return err
			}
		}
		return nil
	}
	// One flat array covering every position of every line.
	var flat []json.RawMessage
	if err := json.Unmarshal(times, &flat); err != nil {
		return &fix.FieldError{Field: propsPath + key, Msg: "must be an array of times, or one array per line"}
	}
	var all []json.RawMessage
	for _, l := range lines {
		all = append(all, l...)
	}
	return d.line(all, flat, device, coordsPath, propsPath+key)
}

func (d *decoder) line(coords, times []json.RawMessage, device, coordsPath, timesPath string) error {
	if len(times) != len(coords) {
		return &fix.FieldError{Field: timesPath, Msg: fmt.Sprintf("has %d times for %d positions", len(times), len(coords))}
	}
	for i := range coords {
		pos, err := position(coords[i], fmt.Sprintf("%s[%d]", coordsPath, i))
		if err != nil {
			return err
		}
		ts, err := parseTime(times[i])
		if err != nil {
			return &fix.FieldError{Field: fmt.Sprintf("%s[%d]", timesPath, i), Msg: err.Error()}
		}
		if err := d.add(pos, ts, device); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) add(pos []float64, ts time.Time, device string) error {
	if len(d.fixes) == d.max {
		return &fix.FieldError{Field: "body", Msg: fmt.Sprintf("more than %d positions; the limit is %d", d.max, d.max)}
	}
	f := fix.Fix{Device: device, TS: ts, Lon: pos[0], Lat: pos[1]}
	if len(pos) > 2 {
		f.Alt = fix.Float(pos[2])
	}
	d.fixes = append(d.fixes, f)
	return nil
}

// position reads [lon, lat, alt?, ...]. JSON cannot carry NaN and numbers
// that overflow float64 fail to unmarshal, so every value is finite.
func position(raw json.RawMessage, path string) ([]float64, error) {
	var pos []*float64
	if err := json.Unmarshal(raw, &pos); err != nil {
		return nil, &fix.FieldError{Field: path, Msg: "must be a position [lon, lat] or [lon, lat, alt] of numbers"}
	}
	if len(pos) < 2 {
		return nil, &fix.FieldError{Field: path, Msg: fmt.Sprintf("has %d numbers, need [lon, lat] or [lon, lat, alt]", len(pos))}
	}
	n := min(len(pos), 3)
	out := make([]float64, n)
	for i := 0; i < n; i++ {
		if pos[i] == nil {
			return nil, &fix.FieldError{Field: path, Msg: "must not contain null"}
		}
		out[i] = *pos[i]
	}
	return out, nil
}

func pointTime(props properties, propsPath string) (time.Time, error) {
	for _, c := range []struct {
		key string
		raw json.RawMessage
	}{{"time", props.Time}, {"ts", props.TS}, {"timestamp", props.Timestamp}} {
		if len(c.raw) == 0 || string(c.raw) == "null" {
			continue
		}
		ts, err := parseTime(c.raw)
		if err != nil {
			return time.Time{}, &fix.FieldError{Field: propsPath + c.key, Msg: err.Error()}
		}
		return ts, nil
	}
	// A one-position track written as a Point may carry its time as coordTimes.
	if key, raw, err := timeList(props, propsPath); err == nil {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil && len(list) == 1 {
			ts, err := parseTime(list[0])
			if err != nil {
				return time.Time{}, &fix.FieldError{Field: propsPath + key + "[0]", Msg: err.Error()}
			}
			return ts, nil
		}
	}
	return time.Time{}, &fix.FieldError{Field: propsPath + "time", Msg: "required (or ts / timestamp): a point needs a time"}
}

// timeList returns the member holding per-position times.
func timeList(props properties, propsPath string) (string, json.RawMessage, error) {
	if len(props.CoordTimes) > 0 && string(props.CoordTimes) != "null" {
		return "coordTimes", props.CoordTimes, nil
	}
	if len(props.Times) > 0 && string(props.Times) != "null" {
		return "times", props.Times, nil
	}
	return "", nil, &fix.FieldError{Field: propsPath + "coordTimes", Msg: "required (or times): every position needs a time"}
}

// parseTime reads an RFC 3339 string (a missing zone means UTC) or an epoch
// number, seconds below 2^31 and milliseconds above, as Traccar decides.
func parseTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if t, err := fix.ParseTime(s); err == nil {
			return t, nil
		}
		if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
			return t.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-11-25T10:00:00Z)", clip.String(s, 40))
	}
	n, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be an RFC 3339 string or epoch number, got %s", clip.String(string(raw), 40))
	}
	return fix.EpochTime(n)
}

// strictUnmarshal decodes one JSON value and rejects trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// fieldErr turns a JSON error into a FieldError at field ("" = the body).
func fieldErr(field string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		if field != "" {
			field += "."
		}
		return &fix.FieldError{Field: field + te.Field, Msg: fmt.Sprintf("has the wrong type (%s)", te.Value)}
	}
	if field == "" {
		field = "body"
	}
	if errors.As(err, &te) {
		return &fix.FieldError{Field: field, Msg: "must be a GeoJSON object, got " + te.Value}
	}
	return &fix.FieldError{Field: field, Msg: "malformed JSON: " + err.Error()}
}
