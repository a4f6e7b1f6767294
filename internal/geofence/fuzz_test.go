package geofence_test

import (
	"errors"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
)

// FuzzDecode: the GeoJSON fence decoder never panics, fails only with a
// field error, and what it accepts encodes and decodes back unchanged.
func FuzzDecode(f *testing.F) {
	for _, c := range readMalformed(f) {
		if len(c.Body) < 4096 {
			f.Add([]byte(c.Body))
		}
	}
	f.Add([]byte(`{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.5,0.2],[0.6,0.2],[0.6,0.3],[0.5,0.2]]]},"properties":{"name":"n","dwell_s":5}}`))
	f.Add([]byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":"c","radius_m":5}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fences, err := geofence.Decode(body)
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("not a field error: %v", err)
			}
			return
		}
		for i := range fences {
			b, err := geofence.Encode(&fences[i])
			if err != nil {
				t.Fatal(err)
			}
			back, err := geofence.DecodeStored(b)
			if err != nil {
				t.Fatalf("accepted fence does not decode back: %v\n%s", err, b)
			}
			if _, err := geofence.Decode(b); err != nil {
				t.Fatalf("accepted fence fails validation once encoded: %v\n%s", err, b)
			}
			if back.ID != fences[i].ID || back.Name != fences[i].Name || back.Vertices() != fences[i].Vertices() {
				t.Fatalf("round trip changed the fence")
			}
		}
	})
}
