package geofence_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
)

// malformedCase is one line of testdata/geofence/malformed.jsonl, shared
// with the e2e test of the geofences function.
type malformedCase struct {
	Field string `json:"field"`
	Body  string `json:"body"`
}

func readMalformed(t testing.TB) []malformedCase {
	t.Helper()
	f, err := os.Open("../../testdata/geofence/malformed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []malformedCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c malformedCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestDecodeRefusesMalformedFences(t *testing.T) {
	cases := readMalformed(t)
	if len(cases) < 20 {
		t.Fatalf("only %d malformed cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Field, func(t *testing.T) {
			_, err := geofence.Decode([]byte(c.Body))
			var fe *fix.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a field error naming %s", err, c.Field)
			}
			if fe.Field != c.Field {
				t.Fatalf("field = %q (%s), want %q", fe.Field, fe.Msg, c.Field)
			}
		})
	}
}

func TestDecodeAcceptsFences(t *testing.T) {
	cases := []struct {
		name, body string
		check      func(t *testing.T, fs []geofence.Fence)
	}{
		{"polygon clockwise is normalised", `{"type":"Feature","id":"yard","geometry":{"type":"Polygon","coordinates":[[[0,0],[0,1],[1,1],[1,0],[0,0]]]},"properties":{"name":"Yard","dwell_s":60,"devices":["d1","d1"],"tags":["a"]}}`,
			func(t *testing.T, fs []geofence.Fence) {
				f := fs[0]
				if f.ID != "yard" || f.Name != "Yard" || f.DwellS != 60 || len(f.Devices) != 1 || f.Kind != geofence.KindPolygon {
					t.Fatalf("got %+v", f)
				}
				b, _ := geofence.Encode(&f)
				want := `{"type":"Feature","id":"yard","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]},"properties":{"name":"Yard","dwell_s":60,"devices":["d1"],"tags":["a"]}}`
				if string(b) != want {
					t.Fatalf("encoded\n%s\nwant\n%s", b, want)
				}
			}},
		{"circle with numeric id", `{"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[13.4,52.5,34]},"properties":{"name":"Depot","radius_m":250}}`,
			func(t *testing.T, fs []geofence.Fence) {
				if fs[0].ID != "7" || fs[0].Kind != geofence.KindCircle || fs[0].RadiusM != 250 {
					t.Fatalf("got %+v", fs[0])
				}
			}},
		{"collection with a hole and a multipolygon", `{"type":"FeatureCollection","features":[
			{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[1,2],[2,2],[2,1],[1,1]]]},"properties":{"name":"ring"}},
			{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[10,10],[11,10],[11,11],[10,10]]],[[[20,20],[21,20],[21,21],[20,20]]]]},"properties":{"name":"two"}}]}`,
			func(t *testing.T, fs []geofence.Fence) {
				if len(fs) != 2 || len(fs[0].Shape[0]) != 2 || len(fs[1].Shape) != 2 {
					t.Fatalf("got %+v", fs)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, err := geofence.Decode([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, fs)
			for i := range fs {
				b, err := geofence.Encode(&fs[i])
				if err != nil {
					t.Fatal(err)
				}
				back, err := geofence.DecodeStored(b)
				if err != nil {
					t.Fatalf("stored form does not decode: %v", err)
				}
				b2, _ := geofence.Encode(&back)
				if string(b) != string(b2) {
					t.Fatalf("round trip changed the fence:\n%s\n%s", b, b2)
				}
			}
		})
	}
}
