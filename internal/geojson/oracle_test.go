package geojson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

type featureCollection struct {
	Type     string    `json:"type"`
	Features []feature `json:"features"`
}

type feature struct {
	Type       string     `json:"type"`
	Geometry   geometry   `json:"geometry"`
	Properties trackProps `json:"properties"`
}

type geometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

type trackProps struct {
	Device     string   `json:"device"`
	Time       string   `json:"time,omitempty"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	CoordTimes []string `json:"coordTimes"`
}

// encodeWithJSONEncoder is the encoder EncodeTrack replaced, kept as the
// reference of the bytes geotrack serves. It writes fixes, in the order given, as a FeatureCollection with
// one Feature: a LineString of [lon, lat] or [lon, lat, alt] positions
// (alt only where the fix has one) with properties device, coordTimes (one
// RFC 3339 ms UTC time per position), start and end.
//
// RFC 7946 requires two positions in a LineString, so a single fix becomes a
// Point feature instead (with "time" as well as a one-element coordTimes),
// rather than a LineString repeating the point, which would invent a second
// fix. No fixes give an empty FeatureCollection. Decode reads all of these
// back to the same lat/lon/alt and ms-truncated times. Non-finite numbers are
// an error: JSON cannot carry them.
func encodeWithJSONEncoder(w io.Writer, device string, fixes []fix.Fix) error {
	fc := featureCollection{Type: "FeatureCollection", Features: []feature{}}
	if len(fixes) > 0 {
		positions := make([][]float64, len(fixes))
		times := make([]string, len(fixes))
		for i, f := range fixes {
			pos, err := toPosition(f)
			if err != nil {
				return fmt.Errorf("encode geojson fix %d: %w", i, err)
			}
			positions[i], times[i] = pos, fix.FormatTime(f.TS)
		}
		props := trackProps{Device: device, Start: times[0], End: times[len(times)-1], CoordTimes: times}
		g := geometry{Type: "LineString", Coordinates: positions}
		if len(fixes) == 1 {
			g = geometry{Type: "Point", Coordinates: positions[0]}
			props.Time = times[0]
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", Geometry: g, Properties: props})
	}
	if err := json.NewEncoder(w).Encode(fc); err != nil {
		return fmt.Errorf("encode geojson track: %w", err)
	}
	return nil
}

// TestEncodeTrackIsByteIdenticalToEncodingJSON: the streaming writer serves
// the same bytes as the encoding/json encoder it replaced.
func TestEncodeTrackIsByteIdenticalToEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	var long []fix.Fix
	for i := range 5000 { // several flushes, in positions and in times
		f := fix.Fix{TS: ts.Add(time.Duration(i) * time.Second), Lat: 47.1234567 + float64(i)*1e-5, Lon: -8.7654321}
		if i%3 == 0 {
			f.Alt = fix.Float(float64(i) / 3)
		}
		long = append(long, f)
	}
	cases := []struct {
		name   string
		device string
		fixes  []fix.Fix
	}{
		{"empty", "d1", nil},
		{"one", "d1", []fix.Fix{{TS: ts, Lat: 51.5, Lon: -0.12, Alt: fix.Float(3)}}},
		{"two", "d1", []fix.Fix{{TS: ts, Lat: 51.5, Lon: -0.12}, {TS: ts.Add(time.Second), Lat: 51.6, Lon: -0.13}}},
		{"tiny and huge values", "d1", []fix.Fix{{TS: ts, Lat: 1e-7, Lon: -180, Alt: fix.Float(-0.5)}, {TS: ts, Lat: 0, Lon: 1e-9, Alt: fix.Float(1e22)}}},
		{"escaped name", "a<b>&\"c\u2028", []fix.Fix{{TS: ts, Lat: 1, Lon: 2}, {TS: ts, Lat: 1, Lon: 2}}},
		{"long", "dev-1", long},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got, want bytes.Buffer
			if err := EncodeTrack(&got, tc.device, tc.fixes); err != nil {
				t.Fatal(err)
			}
			if err := encodeWithJSONEncoder(&want, tc.device, tc.fixes); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("got\n%.600s\nwant\n%.600s", got.Bytes(), want.Bytes())
			}
		})
	}
}

// TestEncodeTrackRefusesNonFiniteValues as the reference encoder did.
func TestEncodeTrackRefusesNonFiniteValues(t *testing.T) {
	for _, f := range []fix.Fix{{Lat: math.NaN()}, {Lon: math.Inf(1)}, {Alt: fix.Float(math.NaN())}} {
		if err := EncodeTrack(io.Discard, "d1", []fix.Fix{{Lat: 1}, f}); err == nil || !strings.Contains(err.Error(), "encode geojson fix 1") {
			t.Errorf("%+v: error %v", f, err)
		}
	}
}
