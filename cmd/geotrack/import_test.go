package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/geojson"
	"github.com/geotrack/geotrack/internal/sender"
)

func TestTrackFormat(t *testing.T) {
	cases := []struct {
		path, format, want string
		err                bool
	}{
		{"a.gpx", "", "gpx", false},
		{"A.GPX", "", "gpx", false},
		{"a.geojson", "", "geojson", false},
		{"a.json", "", "geojson", false},
		{"a.txt", "gpx", "gpx", false},
		{"a.kml", "", "", true},
		{"noext", "", "", true},
		{"a.gpx", "csv", "", true},
	}
	for _, c := range cases {
		got, err := trackFormat(c.path, c.format)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("trackFormat(%q, %q) = %q, %v; want %q, error %v", c.path, c.format, got, err, c.want, c.err)
		}
	}
}

func TestImportEndToEnd(t *testing.T) {
	in := startIngest(t)
	ctx := context.Background()

	start := time.Now().Add(-10 * time.Minute)
	fl, err := fleet.New(fleet.Config{Devices: 1, Seed: 5, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	fixes := fl.Advance(start.Add(5 * time.Minute))
	dir := t.TempDir()
	geo := filepath.Join(dir, "drive.geojson")
	f, err := os.Create(geo)
	if err != nil {
		t.Fatal(err)
	}
	if err := geojson.EncodeTrack(f, "van-9", fixes); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if err := runImport(ctx, []string{geo, "--device", "van-9", "--url", in.url, "--token", in.token, "--batch", "64"}); err != nil {
		t.Fatal(err)
	}
	got := in.history(t, "van-9")
	if len(got) != len(fixes) {
		t.Fatalf("stored %d of %d fixes", len(got), len(fixes))
	}
	for i := range got {
		if !got[i].TS.Equal(fixes[i].TS) || got[i].Lat != fixes[i].Lat || got[i].Lon != fixes[i].Lon {
			t.Fatalf("fix %d stored as %+v, want %+v", i, got[i], fixes[i])
		}
	}

	// The same file as .json, and the recorded GPX: both formats import.
	asJSON := filepath.Join(dir, "drive.json")
	data, _ := os.ReadFile(geo)
	if err := os.WriteFile(asJSON, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runImport(ctx, []string{"--device", "van-9", asJSON, "--url", in.url, "--token", in.token}); err != nil {
		t.Fatal(err)
	}
	if again := in.history(t, "van-9"); len(again) != len(fixes) {
		t.Fatalf("re-import stored %d fixes, want still %d (duplicates)", len(again), len(fixes))
	}
	ride := filepath.Join("..", "..", "testdata", "tracks", "strava-ride-los-angeles.gpx")
	if err := runImport(ctx, []string{ride, "--device", "bike", "--url", in.url, "--token", in.token}); err != nil {
		t.Fatal(err)
	}
	// The ride is from 2016, older than the history retention: ingest
	// answers too_old for it and keeps nothing, not even a latest position.
	if last, ok, err := in.store.Latest(ctx, in.tenant, "bike"); err != nil || ok {
		t.Fatalf("latest of the GPX ride: %+v ok=%v err=%v, want nothing kept", last, ok, err)
	}

	// Invalid points are skipped locally and the rest still goes in.
	bad := append([]fix.Fix{}, fixes[:3]...)
	bad[1].Lat = 89.9 // beyond what Redis GEO can index
	badPath := filepath.Join(dir, "bad.geojson")
	bf, _ := os.Create(badPath)
	if err := geojson.EncodeTrack(bf, "van-10", bad); err != nil {
		t.Fatal(err)
	}
	bf.Close()
	if err := runImport(ctx, []string{badPath, "--device", "van-10", "--url", in.url, "--token", in.token}); err != nil {
		t.Fatal(err)
	}
	if n := len(in.history(t, "van-10")); n != 2 {
		t.Fatalf("stored %d fixes, want the 2 valid ones", n)
	}

	unknown := filepath.Join(dir, "x.kml")
	os.WriteFile(unknown, []byte("<kml/>"), 0o600)
	if err := runImport(ctx, []string{unknown, "--device", "d", "--url", in.url, "--token", in.token}); err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("err = %v, want a format error", err)
	}
}

func TestImportDeviceFlagWinsOverProperties(t *testing.T) {
	doc := `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"device":"runner-9","time":"2026-05-01T12:00:00Z"},"geometry":{"type":"Point","coordinates":[-0.12,51.5]}},
 {"type":"Feature","properties":{"device":"runner-8","time":"2026-05-01T12:00:05Z"},"geometry":{"type":"Point","coordinates":[-0.13,51.5]}}]}`
	path := filepath.Join(t.TempDir(), "track.geojson")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, device, wantUsed string
	}{
		{"flag wins", "runner-3", "device runner-3"},
		{"file names the devices", "", "devices runner-8, runner-9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fixes, err := readTrack(path, "", c.device)
			if err != nil {
				t.Fatal(err)
			}
			if len(fixes) != 2 {
				t.Fatalf("decoded %d fixes, want 2", len(fixes))
			}
			if got := devicesUsed(fixes); got != c.wantUsed {
				t.Fatalf("devices used %q, want %q", got, c.wantUsed)
			}
		})
	}
	if _, err := readTrack("x.gpx", "", ""); err == nil || !strings.Contains(err.Error(), "--device") {
		t.Fatalf("GPX without --device: err = %v, want --device is required", err)
	}
}

func TestReportSaysWhyFixesWereNotKept(t *testing.T) {
	cases := []struct {
		name     string
		tot      sender.Totals
		want     []string
		dontWant []string
	}{
		{"all kept", sender.Totals{Accepted: 5}, []string{"accepted 5,", "too old 0"}, []string{"--now"}},
		{"too old counted apart", sender.Totals{Accepted: 2, TooOld: 40},
			[]string{"accepted 2,", "too old 40", "40 fixes were not kept", "--now"}, []string{"accepted 42"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			if err := report(&out, "import", c.tot, nil); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("report %q lacks %q", out.String(), w)
				}
			}
			for _, w := range c.dontWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("report %q says %q", out.String(), w)
				}
			}
		})
	}
}
