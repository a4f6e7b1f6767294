package edgefilter

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

// The real recordings live in the repository's testdata (MIT, from the npm
// package stoplight@0.0.7). This is a deliberately minimal GPX reader for the
// tests; the production decoder is internal/gpx.
const tracksDir = "../../testdata/tracks"

type gpxDoc struct {
	Points []struct {
		Lat  float64  `xml:"lat,attr"`
		Lon  float64  `xml:"lon,attr"`
		Ele  *float64 `xml:"ele"`
		Time string   `xml:"time"`
	} `xml:"trk>trkseg>trkpt"`
}

func loadTrack(t testing.TB, name string) []fix.Fix {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tracksDir, name))
	if err != nil {
		t.Fatalf("read track: %v", err)
	}
	var doc gpxDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	out := make([]fix.Fix, 0, len(doc.Points))
	for i, p := range doc.Points {
		ts, err := fix.ParseTime(p.Time)
		if err != nil {
			t.Fatalf("%s point %d: %v", name, i, err)
		}
		out = append(out, fix.Fix{Device: "gpx", TS: ts, Lat: p.Lat, Lon: p.Lon, Alt: p.Ele})
	}
	if len(out) < 100 {
		t.Fatalf("%s: only %d points parsed", name, len(out))
	}
	return out
}

var realTracks = []string{"run-with-laps.gpx", "strava-ride-los-angeles.gpx"}
