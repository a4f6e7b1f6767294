package geofence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// MaxFeatures bounds the features of one request.
const MaxFeatures = 10000

// fieldErr is the 400 naming the offending field (fix.FieldError is what
// httpkit maps to a 400 with its field).
func fieldErr(field, format string, args ...any) *fix.FieldError {
	return &fix.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

type wireFeature struct {
	Type       *string         `json:"type"`
	ID         json.RawMessage `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties json.RawMessage `json:"properties"`
	Features   json.RawMessage `json:"features"`
}

type wireGeometry struct {
	Type        *string         `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

type wireProperties struct {
	Name    json.RawMessage `json:"name"`
	DwellS  json.RawMessage `json:"dwell_s"`
	Devices json.RawMessage `json:"devices"`
	Tags    json.RawMessage `json:"tags"`
	RadiusM json.RawMessage `json:"radius_m"`
}

// Decode reads a GeoJSON Feature or FeatureCollection of fences and
// validates every fence. Any failure is a *fix.FieldError naming the field
// (features[i].geometry.coordinates[0][3], properties.radius_m, ...).
func Decode(body []byte) ([]Fence, error) {
	return decode(body, true)
}

// DecodeStored reads fences this package encoded (Encode) after Decode
// validated them: the quadratic self-intersection check is skipped, so a
// replica loads tens of thousands of fences quickly.
func DecodeStored(body []byte) (Fence, error) {
	fences, err := decode(body, false)
	if err != nil {
		return Fence{}, err
	}
	if len(fences) != 1 {
		return Fence{}, fmt.Errorf("stored fence: %d features, want 1", len(fences))
	}
	return fences[0], nil
}

func decode(body []byte, strict bool) ([]Fence, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fieldErr("body", "empty: send a GeoJSON Feature or FeatureCollection")
	}
	var top wireFeature
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fieldErr("body", "not a GeoJSON object: %s", jsonProblem(err))
	}
	if top.Type == nil {
		return nil, fieldErr("type", `required: "Feature" or "FeatureCollection"`)
	}
	switch *top.Type {
	case "Feature":
		f, err := decodeFeature(top, "", strict)
		if err != nil {
			return nil, err
		}
		return []Fence{f}, nil
	case "FeatureCollection":
		var raws []json.RawMessage
		if len(top.Features) == 0 || string(top.Features) == "null" {
			return nil, fieldErr("features", "required: an array of Features")
		}
		if err := json.Unmarshal(top.Features, &raws); err != nil {
			return nil, fieldErr("features", "must be an array of Features: %s", jsonProblem(err))
		}
		if len(raws) == 0 {
			return nil, fieldErr("features", "empty: at least one Feature")
		}
		if len(raws) > MaxFeatures {
			return nil, fieldErr("features", "%d features; at most %d per request", len(raws), MaxFeatures)
		}
		out := make([]Fence, 0, len(raws))
		ids := map[string]int{}
		for i, raw := range raws {
			prefix := "features[" + strconv.Itoa(i) + "]."
			var wf wireFeature
			if err := json.Unmarshal(raw, &wf); err != nil {
				return nil, fieldErr(strings.TrimSuffix(prefix, "."), "not a GeoJSON Feature: %s", jsonProblem(err))
			}
			if wf.Type == nil || *wf.Type != "Feature" {
				return nil, fieldErr(prefix+"type", `must be "Feature"`)
			}
			f, err := decodeFeature(wf, prefix, strict)
			if err != nil {
				return nil, err
			}
			if f.ID != "" {
				if j, dup := ids[f.ID]; dup {
					return nil, fieldErr(prefix+"id", "%q repeats features[%d].id", f.ID, j)
				}
				ids[f.ID] = i
			}
			out = append(out, f)
		}
		return out, nil
	}
	return nil, fieldErr("type", `%q: want "Feature" or "FeatureCollection"`, clipText(*top.Type))
}

func decodeFeature(wf wireFeature, prefix string, strict bool) (Fence, error) {
	var f Fence
	id, err := decodeID(wf.ID)
	if err != nil {
		return Fence{}, fieldErr(prefix+"id", "%s", err)
	}
	f.ID = id

	if len(wf.Properties) == 0 || string(wf.Properties) == "null" {
		return Fence{}, fieldErr(prefix+"properties", "required: an object with at least name")
	}
	var props wireProperties
	if err := json.Unmarshal(wf.Properties, &props); err != nil {
		return Fence{}, fieldErr(prefix+"properties", "must be an object: %s", jsonProblem(err))
	}
	if err := decodeProperties(&f, props, prefix+"properties."); err != nil {
		return Fence{}, err
	}

	if len(wf.Geometry) == 0 || string(wf.Geometry) == "null" {
		return Fence{}, fieldErr(prefix+"geometry", "required: a Polygon, MultiPolygon, or Point with properties.radius_m")
	}
	var g wireGeometry
	if err := json.Unmarshal(wf.Geometry, &g); err != nil {
		return Fence{}, fieldErr(prefix+"geometry", "must be a GeoJSON geometry object: %s", jsonProblem(err))
	}
	if g.Type == nil {
		return Fence{}, fieldErr(prefix+"geometry.type", "required: Polygon, MultiPolygon or Point")
	}
	coordsField := prefix + "geometry.coordinates"
	if len(g.Coordinates) == 0 || string(g.Coordinates) == "null" {
		return Fence{}, fieldErr(coordsField, "required")
	}
	hasRadius := len(props.RadiusM) > 0 && string(props.RadiusM) != "null"
	switch *g.Type {
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal(g.Coordinates, &rings); err != nil {
			return Fence{}, fieldErr(coordsField, "a Polygon's coordinates are an array of rings of [lon, lat] positions: %s", jsonProblem(err))
		}
		poly, err := buildPolygon(rings, coordsField, strict)
		if err != nil {
			return Fence{}, err
		}
		f.Kind, f.Shape = KindPolygon, orb.MultiPolygon{poly}
	case "MultiPolygon":
		var polys [][][][]float64
		if err := json.Unmarshal(g.Coordinates, &polys); err != nil {
			return Fence{}, fieldErr(coordsField, "a MultiPolygon's coordinates are an array of Polygon coordinates: %s", jsonProblem(err))
		}
		if len(polys) == 0 {
			return Fence{}, fieldErr(coordsField, "empty MultiPolygon")
		}
		f.Kind = KindPolygon
		for i, rings := range polys {
			poly, err := buildPolygon(rings, coordsField+"["+strconv.Itoa(i)+"]", strict)
			if err != nil {
				return Fence{}, err
			}
			f.Shape = append(f.Shape, poly)
		}
	case "Point":
		var pos []float64
		if err := json.Unmarshal(g.Coordinates, &pos); err != nil {
			return Fence{}, fieldErr(coordsField, "a Point's coordinates are one [lon, lat] position: %s", jsonProblem(err))
		}
		p, err := position(pos, coordsField)
		if err != nil {
			return Fence{}, err
		}
		if !hasRadius {
			return Fence{}, fieldErr(prefix+"properties.radius_m", "required for a Point fence (a circle of 1 m to 100 km)")
		}
		var r float64
		if err := json.Unmarshal(props.RadiusM, &r); err != nil {
			return Fence{}, fieldErr(prefix+"properties.radius_m", "must be a number of metres: %s", jsonProblem(err))
		}
		if !(r >= MinRadiusM && r <= MaxRadiusM) {
			return Fence{}, fieldErr(prefix+"properties.radius_m", "%g is out of range: 1 to 100000 metres", r)
		}
		f.Kind, f.Center, f.RadiusM = KindCircle, p, r
		f.Bound = circleBound(p, r)
		return f, nil
	default:
		return Fence{}, fieldErr(prefix+"geometry.type", "%q: want Polygon, MultiPolygon, or Point with properties.radius_m", clipText(*g.Type))
	}
	if hasRadius {
		return Fence{}, fieldErr(prefix+"properties.radius_m", "only a Point fence has a radius")
	}
	if n := f.Vertices(); n > MaxVertices {
		return Fence{}, fieldErr(coordsField, "%d positions; a fence has at most %d", n, MaxVertices)
	}
	f.Bound = f.Shape.Bound()
	f.prepared = prepareShape(f.Shape)
	f.grid = newCellGrid(&f)
	return f, nil
}

func decodeID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var id string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", fmt.Errorf("must be a string or an integer: %s", jsonProblem(err))
		}
	} else {
		n, err := strconv.ParseUint(string(raw), 10, 63)
		if err != nil {
			return "", fmt.Errorf("must be a string or a non-negative integer")
		}
		id = strconv.FormatUint(n, 10)
	}
	if !ValidID(id) {
		return "", fmt.Errorf("%q: want 1-%d characters of A-Z a-z 0-9 . _ : -", clipText(id), MaxIDLen)
	}
	return id, nil
}

// ValidID reports whether id can name a fence: ^[A-Za-z0-9._:-]{1,128}$.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func decodeProperties(f *Fence, p wireProperties, prefix string) error {
	if len(p.Name) == 0 || string(p.Name) == "null" {
		return fieldErr(prefix+"name", "required: the fence's name")
	}
	var name string
	if err := json.Unmarshal(p.Name, &name); err != nil {
		return fieldErr(prefix+"name", "must be a string: %s", jsonProblem(err))
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxNameLen || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fieldErr(prefix+"name", "want 1-%d characters without control characters", MaxNameLen)
	}
	f.Name = name
	if len(p.DwellS) > 0 && string(p.DwellS) != "null" {
		var d float64
		if err := json.Unmarshal(p.DwellS, &d); err != nil {
			return fieldErr(prefix+"dwell_s", "must be a whole number of seconds: %s", jsonProblem(err))
		}
		if d != math.Trunc(d) || d < 0 || d > MaxDwellS {
			return fieldErr(prefix+"dwell_s", "%v: want a whole number of seconds from 0 to %d", d, MaxDwellS)
		}
		f.DwellS = int(d)
	}
	if len(p.Devices) > 0 && string(p.Devices) != "null" {
		var devices []string
		if err := json.Unmarshal(p.Devices, &devices); err != nil {
			return fieldErr(prefix+"devices", "must be an array of device ids: %s", jsonProblem(err))
		}
		if len(devices) > MaxDevices {
			return fieldErr(prefix+"devices", "%d devices; at most %d", len(devices), MaxDevices)
		}
		seen := map[string]bool{}
		for i, d := range devices {
			if !fix.ValidDevice(d) {
				return fieldErr(prefix+"devices["+strconv.Itoa(i)+"]", "%q is not a device id (1-128 of A-Z a-z 0-9 . _ : -)", clipText(d))
			}
			if !seen[d] {
				seen[d] = true
				f.Devices = append(f.Devices, d)
			}
		}
	}
	if len(p.Tags) > 0 && string(p.Tags) != "null" {
		var tags []string
		if err := json.Unmarshal(p.Tags, &tags); err != nil {
			return fieldErr(prefix+"tags", "must be an array of strings: %s", jsonProblem(err))
		}
		if len(tags) > MaxTags {
			return fieldErr(prefix+"tags", "%d tags; at most %d", len(tags), MaxTags)
		}
		for i, t := range tags {
			if t == "" || len(t) > MaxTagLen || strings.IndexFunc(t, unicode.IsControl) >= 0 {
				return fieldErr(prefix+"tags["+strconv.Itoa(i)+"]", "want 1-%d characters without control characters", MaxTagLen)
			}
		}
		f.Tags = tags
	}
	return nil
}

// position validates one GeoJSON position: [lon, lat] or [lon, lat, alt]
// (the altitude is dropped).
func position(pos []float64, field string) (orb.Point, error) {
	if len(pos) < 2 || len(pos) > 3 {
		return orb.Point{}, fieldErr(field, "a position is [lon, lat] or [lon, lat, alt]; got %d numbers", len(pos))
	}
	lon, lat := pos[0], pos[1]
	if math.IsNaN(lon) || lon < -180 || lon > 180 {
		return orb.Point{}, fieldErr(field, "longitude %v is out of range -180..180 (positions are [lon, lat])", lon)
	}
	if math.IsNaN(lat) || lat < -90 || lat > 90 {
		return orb.Point{}, fieldErr(field, "latitude %v is out of range -90..90 (positions are [lon, lat])", lat)
	}
	return orb.Point{lon, lat}, nil
}

// buildPolygon validates a Polygon's rings: each closed with at least 4
// positions, no antimeridian crossing, no self-intersection, holes inside
// the exterior ring and not inside one another. Winding is accepted either
// way (RFC 7946 §3.1.6: parsers should not reject) and normalised to the
// right-hand rule: exterior counterclockwise, holes clockwise.
func buildPolygon(rings [][][]float64, field string, strict bool) (orb.Polygon, error) {
	if len(rings) == 0 {
		return nil, fieldErr(field, "a Polygon needs an exterior ring")
	}
	poly := make(orb.Polygon, 0, len(rings))
	total := 0
	for r, ring := range rings {
		rf := field + "[" + strconv.Itoa(r) + "]"
		total += len(ring)
		if total > MaxVertices {
			return nil, fieldErr(field, "more than %d positions; a fence has at most %d", MaxVertices, MaxVertices)
		}
		if len(ring) < 4 {
			return nil, fieldErr(rf, "a linear ring has at least 4 positions (the first repeated last); got %d", len(ring))
		}
		out := make(orb.Ring, 0, len(ring))
		for k, pos := range ring {
			p, err := position(pos, rf+"["+strconv.Itoa(k)+"]")
			if err != nil {
				return nil, err
			}
			if len(out) > 0 && out[len(out)-1] == p {
				continue // a repeated position adds no edge
			}
			out = append(out, p)
		}
		first, last := ring[0], ring[len(ring)-1]
		if first[0] != last[0] || first[1] != last[1] {
			return nil, fieldErr(rf, "the ring is not closed: its last position must repeat the first")
		}
		if len(out) < 4 {
			return nil, fieldErr(rf, "degenerate ring: fewer than 3 distinct positions")
		}
		for k := 1; k < len(out); k++ {
			if math.Abs(out[k][0]-out[k-1][0]) > 180 {
				return nil, fieldErr(rf, "crosses the antimeridian (an edge spans more than 180° of longitude): geotrack refuses such fences; split it at ±180° into a MultiPolygon (RFC 7946 §3.1.9)")
			}
		}
		if planar.Area(out) == 0 {
			return nil, fieldErr(rf, "degenerate ring: it encloses no area")
		}
		want := orb.CCW
		if r > 0 {
			want = orb.CW
		}
		if out.Orientation() != want {
			out.Reverse()
		}
		poly = append(poly, out)
	}
	if !strict {
		return poly, nil
	}
	if a, b, ok := firstSelfIntersection(poly); ok {
		if a == b {
			return nil, fieldErr(field+"["+strconv.Itoa(a)+"]", "the ring intersects itself")
		}
		return nil, fieldErr(field+"["+strconv.Itoa(b)+"]", "ring %d intersects ring %d", b, a)
	}
	for h := 1; h < len(poly); h++ {
		if !planar.RingContains(poly[0], poly[h][0]) {
			return nil, fieldErr(field+"["+strconv.Itoa(h)+"]", "a hole must lie inside the exterior ring")
		}
		for o := 1; o < h; o++ {
			if planar.RingContains(poly[o], poly[h][0]) || planar.RingContains(poly[h], poly[o][0]) {
				return nil, fieldErr(field+"["+strconv.Itoa(h)+"]", "hole %d is nested in hole %d or contains it", h, o)
			}
		}
	}
	return poly, nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s is a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("got a JSON %s, want %s", te.Value, te.Type)
	}
	return clipText(err.Error())
}

func clipText(s string) string { return clip.String(s, 60) }
