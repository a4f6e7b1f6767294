package geojson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/tracktest"
)

// togeojsonTrack is what togeojson makes of a GPX track.
const togeojsonTrack = `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Morning Ride",
"time":"2026-03-01T08:00:00Z","coordTimes":["2026-03-01T08:00:00Z","2026-03-01T08:00:01.500Z"]},
"geometry":{"type":"LineString","coordinates":[[8.5417,47.3769,408.2],[8.5419,47.377]]}}]}`

func t0(sec float64) time.Time {
	return time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(sec * float64(time.Second)))
}

func TestDecode(t *testing.T) {
	fixes, err := Decode([]byte(togeojsonTrack), "bike-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(fixes) != 2 {
		t.Fatalf("got %d fixes", len(fixes))
	}
	a, b := fixes[0], fixes[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"device", a.Device, "bike-1"},
		{"lat", a.Lat, 47.3769},
		{"lon", a.Lon, 8.5417},
		{"alt", *a.Alt, 408.2},
		{"time", a.TS, t0(0)},
		{"second time ms", b.TS, t0(1.5)},
		{"second has no alt", b.Alt == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	for i := range fixes {
		if err := fix.Validate(&fixes[i], t0(86400)); err != nil {
			t.Errorf("fix %d: %v", i, err)
		}
	}
}

func TestDecodeVariants(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(fs []fix.Fix) bool
	}{
		{"bare Feature with times", `{"type":"Feature","properties":{"times":[1772352000,1772352001]},"geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]}}`,
			func(fs []fix.Fix) bool {
				return len(fs) == 2 && fs[0].TS.Equal(t0(0)) && fs[1].Lon == 3 && fs[1].Lat == 4
			}},
		{"epoch milliseconds", `{"type":"Feature","properties":{"coordTimes":[1772352000250]},"geometry":{"type":"MultiPoint","coordinates":[[1,2]]}}`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].TS.Equal(t0(0.25)) }},
		{"MultiLineString nested times", `{"type":"Feature","properties":{"coordTimes":[["2026-03-01T08:00:00Z"],["2026-03-01T08:00:01Z","2026-03-01T08:00:02Z"]]},
			"geometry":{"type":"MultiLineString","coordinates":[[[1,2]],[[3,4],[5,6,7]]]}}`,
			func(fs []fix.Fix) bool { return len(fs) == 3 && fs[2].TS.Equal(t0(2)) && *fs[2].Alt == 7 }},
		{"MultiLineString flat times", `{"type":"Feature","properties":{"coordTimes":["2026-03-01T08:00:00Z","2026-03-01T08:00:01Z"]},
			"geometry":{"type":"MultiLineString","coordinates":[[[1,2]],[[3,4]]]}}`,
			func(fs []fix.Fix) bool { return len(fs) == 2 && fs[1].Lon == 3 }},
		{"Point time keys and device override", `{"type":"FeatureCollection","features":[
			{"type":"Feature","properties":{"time":"2026-03-01T08:00:00Z","device":"tracker-9"},"geometry":{"type":"Point","coordinates":[1,2]}},
			{"type":"Feature","properties":{"ts":"2026-03-01T09:00:00+01:00"},"geometry":{"type":"Point","coordinates":[3,4,5]}},
			{"type":"Feature","properties":{"timestamp":1772352002},"geometry":{"type":"Point","coordinates":[5,6]}}]}`,
			func(fs []fix.Fix) bool {
				return len(fs) == 3 && fs[0].Device == "tracker-9" && fs[1].Device == "arg" &&
					fs[1].TS.Equal(t0(0)) && fs[2].TS.Equal(t0(2))
			}},
		{"time without zone is UTC", `{"type":"Feature","properties":{"time":"2026-03-01T08:00:00"},"geometry":{"type":"Point","coordinates":[1,2]}}`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].TS.Equal(t0(0)) }},
		{"extra position members ignored", `{"type":"Feature","properties":{"time":"2026-03-01T08:00:00Z"},"geometry":{"type":"Point","coordinates":[1,2,3,4]}}`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && *fs[0].Alt == 3 }},
		{"empty collection", `{"type":"FeatureCollection","features":[]}`, func(fs []fix.Fix) bool { return len(fs) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := Decode([]byte(tt.doc), "arg")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(fs) {
				t.Errorf("unexpected fixes %+v", fs)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	line := func(props, coords string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","properties":` + props +
			`,"geometry":{"type":"LineString","coordinates":` + coords + `}}]}`
	}
	tests := []struct{ name, doc, field string }{
		{"malformed", `{"type":`, "body"},
		{"trailing", `{"type":"FeatureCollection","features":[]} {}`, "body"},
		{"array", `[]`, "body"},
		{"no type", `{"features":[]}`, "type"},
		{"type number", `{"type":5}`, "type"},
		{"no features", `{"type":"FeatureCollection"}`, "features"},
		{"features object", `{"type":"FeatureCollection","features":{}}`, "features"},
		{"feature wrong type", `{"type":"FeatureCollection","features":[{"type":"Point","coordinates":[1,2]}]}`, "features[0].type"},
		{"no geometry", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"time":"2026-03-01T08:00:00Z"},"geometry":null}]}`, "features[0].geometry"},
		{"polygon", `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[]}}`, "geometry.type"},
		{"properties array", line(`[]`, `[[1,2]]`), "features[0].properties"},
		{"device number", line(`{"device":5,"coordTimes":["2026-03-01T08:00:00Z"]}`, `[[1,2]]`), "features[0].properties.device"},
		{"missing times", line(`{}`, `[[1,2]]`), "features[0].properties.coordTimes"},
		{"null properties", line(`null`, `[[1,2]]`), "features[0].properties.coordTimes"},
		{"times not array", line(`{"coordTimes":"2026-03-01T08:00:00Z"}`, `[[1,2]]`), "features[0].properties.coordTimes"},
		{"count mismatch", line(`{"coordTimes":["2026-03-01T08:00:00Z"]}`, `[[1,2],[3,4]]`), "features[0].properties.coordTimes"},
		{"bad time", line(`{"times":["2026-03-01T08:00:00Z","noon"]}`, `[[1,2],[3,4]]`), "features[0].properties.times[1]"},
		{"null time", line(`{"coordTimes":[null]}`, `[[1,2]]`), "features[0].properties.coordTimes[0]"},
		{"negative epoch", line(`{"coordTimes":[-1]}`, `[[1,2]]`), "features[0].properties.coordTimes[0]"},
		{"short position", line(`{"coordTimes":["2026-03-01T08:00:00Z","2026-03-01T08:00:01Z"]}`, `[[1,2],[3]]`), "features[0].geometry.coordinates[1]"},
		{"null in position", line(`{"coordTimes":["2026-03-01T08:00:00Z"]}`, `[[1,null]]`), "features[0].geometry.coordinates[0]"},
		{"string in position", line(`{"coordTimes":["2026-03-01T08:00:00Z"]}`, `[["1",2]]`), "features[0].geometry.coordinates[0]"},
		{"overflow in position", line(`{"coordTimes":["2026-03-01T08:00:00Z"]}`, `[[1e999,2]]`), "features[0].geometry.coordinates[0]"},
		{"coordinates not array", line(`{"coordTimes":[]}`, `{}`), "features[0].geometry.coordinates"},
		{"point without time", `{"type":"Feature","properties":{"name":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}`, "properties.time"},
		{"point bad ts", `{"type":"Feature","properties":{"ts":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}`, "properties.ts"},
		{"bare LineString has no times", `{"type":"LineString","coordinates":[[1,2],[3,4]]}`, "properties.coordTimes"},
		{"multiline count mismatch", `{"type":"Feature","properties":{"coordTimes":[["2026-03-01T08:00:00Z"]]},"geometry":{"type":"MultiLineString","coordinates":[[[1,2]],[[3,4]]]}}`, "properties.coordTimes"},
		{"multiline inner mismatch", `{"type":"Feature","properties":{"coordTimes":[["2026-03-01T08:00:00Z"],[]]},"geometry":{"type":"MultiLineString","coordinates":[[[1,2]],[[3,4]]]}}`, "properties.coordTimes[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc), "d")
			var fe *fix.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tt.field)
			}
		})
	}
}

func TestDecodeLimit(t *testing.T) {
	n := fix.MaxBatch + 1
	coords := strings.Repeat("[1,2],", n-1) + "[1,2]"
	times := strings.Repeat("1772352000,", n-1) + "1772352000"
	doc := `{"type":"Feature","properties":{"times":[` + times + `]},"geometry":{"type":"LineString","coordinates":[` + coords + `]}}`
	_, err := Decode([]byte(doc), "d")
	var fe *fix.FieldError
	if !errors.As(err, &fe) || fe.Field != "body" {
		t.Errorf("got %v, want a body FieldError", err)
	}
}

func TestRoundTrip(t *testing.T) {
	base := t0(0)
	tracks := map[string][]fix.Fix{
		"line": {
			{Device: "d", TS: base.Add(123456789 * time.Nanosecond), Lat: 47.376887123456789, Lon: 8.541694, Alt: fix.Float(408.25)},
			{Device: "d", TS: base.Add(time.Second), Lat: -85.05112878, Lon: -180},
			{Device: "d", TS: base.In(time.FixedZone("CET", 3600)).Add(2 * time.Second), Lat: 1e-7, Lon: 179.9999999, Alt: fix.Float(-12.5)},
		},
		"single point": {{Device: "d", TS: base, Lat: 1.5, Lon: 2.5, Alt: fix.Float(3)}},
		"empty":        {},
	}
	for name, in := range tracks {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeTrack(&buf, "d", in); err != nil {
				t.Fatal(err)
			}
			checkShape(t, buf.Bytes(), len(in))
			out, err := Decode(buf.Bytes(), "other")
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			tracktest.AssertSameFixes(t, in, out)
		})
	}
}

// checkShape asserts RFC 7946 structure: one feature, a LineString with at
// least two positions or a Point, and coordTimes matching the positions.
func checkShape(t *testing.T, data []byte, n int) {
	t.Helper()
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type     string `json:"type"`
			Geometry struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
			Properties struct {
				Device     string   `json:"device"`
				Start      string   `json:"start"`
				End        string   `json:"end"`
				CoordTimes []string `json:"coordTimes"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" {
		t.Fatalf("type %q", fc.Type)
	}
	if n == 0 {
		if fc.Features == nil || len(fc.Features) != 0 {
			t.Errorf("empty track: want features [], got %s", data)
		}
		return
	}
	if len(fc.Features) != 1 {
		t.Fatalf("%d features, want 1", len(fc.Features))
	}
	f := fc.Features[0]
	wantGeom := "LineString"
	if n == 1 {
		wantGeom = "Point"
	}
	if f.Type != "Feature" || f.Geometry.Type != wantGeom || f.Properties.Device != "d" || len(f.Properties.CoordTimes) != n {
		t.Errorf("unexpected feature %s", data)
	}
	if times := f.Properties.CoordTimes; len(times) > 0 && (f.Properties.Start != times[0] || f.Properties.End != times[len(times)-1]) {
		t.Errorf("start/end %q/%q do not match coordTimes", f.Properties.Start, f.Properties.End)
	}
}

func TestEncodeNonFinite(t *testing.T) {
	for _, f := range []fix.Fix{{Lat: math.NaN()}, {Lon: math.Inf(-1)}, {Alt: fix.Float(math.NaN())}} {
		if err := EncodeTrack(&bytes.Buffer{}, "d", []fix.Fix{f}); err == nil {
			t.Errorf("non-finite %+v encoded without error", f)
		}
	}
}
