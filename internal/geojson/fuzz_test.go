package geojson

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/tracktest"
)

func FuzzDecode(f *testing.F) {
	for _, doc := range []string{
		togeojsonTrack,
		`{"type":"Feature","properties":{"times":[1772352000,1772352001250]},"geometry":{"type":"LineString","coordinates":[[1,2],[3,4,-5]]}}`,
		`{"type":"Feature","properties":{"coordTimes":[["2026-03-01T08:00:00Z"],["2026-03-01T08:00:01Z"]]},"geometry":{"type":"MultiLineString","coordinates":[[[1,2]],[[3,4]]]}}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"time":"2026-03-01T08:00:00","device":"t-9"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`,
		`{"type":"Feature","properties":{"ts":1e15,"timestamp":-1},"geometry":{"type":"Point","coordinates":[181,-91,1e308]}}`,
		`{"type":"Feature","properties":{"coordTimes":["2026-03-01T08:00:00Z"]},"geometry":{"type":"MultiPoint","coordinates":[[1e-320,null]]}}`,
		`{"type":"LineString","coordinates":[[1,2],[3,4]]}`,
		`{"type":"FeatureCollection","features":[]}`,
	} {
		f.Add([]byte(doc))
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		fixes, err := Decode(data, "dev-1")
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v is not a FieldError naming a field", err)
			}
			return
		}
		if len(fixes) > fix.MaxBatch {
			t.Fatalf("%d fixes over the cap", len(fixes))
		}
		var valid []fix.Fix
		for _, fx := range fixes {
			if fx.TS.IsZero() || fx.Device == "" {
				t.Fatalf("bad ts or device in %+v", fx)
			}
			for _, v := range []*float64{&fx.Lat, &fx.Lon, fx.Alt} {
				if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
					t.Fatalf("non-finite number in %+v", fx)
				}
			}
			if fix.Validate(&fx, now) == nil {
				fx.Device = "dev-1" // EncodeTrack has one device per track
				valid = append(valid, fx)
			}
		}
		// Whatever validates must survive EncodeTrack → Decode unchanged.
		var buf bytes.Buffer
		if err := EncodeTrack(&buf, "dev-1", valid); err != nil {
			t.Fatalf("encode valid fixes: %v", err)
		}
		back, err := Decode(buf.Bytes(), "dev-1")
		if err != nil {
			t.Fatalf("decode own output: %v\n%s", err, buf.String())
		}
		tracktest.AssertSameFixes(t, valid, back)
	})
}
