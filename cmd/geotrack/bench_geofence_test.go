package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/geofence"
)

// TestFenceFeaturesAreValid: every generated fence passes validation, with
// the advertised mix (8-200 vertices, circles and polygons).
func TestFenceFeaturesAreValid(t *testing.T) {
	var polygons, circles int
	for _, f := range fleet.CityFences(2000, benchCityRadiusM) {
		fs, err := geofence.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch fs[0].Kind {
		case geofence.KindCircle:
			circles++
		default:
			polygons++
			if n := fs[0].Vertices(); n < 9 || n > 201 {
				t.Fatalf("polygon with %d positions", n)
			}
		}
	}
	if polygons < 1200 || circles < 400 {
		t.Fatalf("%d polygons, %d circles", polygons, circles)
	}
}

// BenchmarkEvaluate: the evaluator over 50,000 fences, per fix (for
// profiling: go test ./cmd/geotrack -run XXX -bench Evaluate -cpuprofile).
func BenchmarkEvaluate(b *testing.B) {
	var fences []*geofence.Fence
	for _, f := range fleet.CityFences(50000, benchCityRadiusM) {
		fs, err := geofence.Decode(f)
		if err != nil {
			b.Fatal(err)
		}
		fences = append(fences, &fs[0])
	}
	idx := geofence.NewIndex(fences)
	t0 := time.Now().Add(-time.Hour)
	fl, _ := fleet.New(fleet.Config{Devices: 1000, Rate: 1, Seed: 7, Start: t0, RadiusM: benchCityRadiusM})
	track := fl.Advance(t0.Add(100 * time.Second))
	states := map[string]*geofence.DeviceState{}
	ev := geofence.Evaluator{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := track[i%len(track)]
		st := states[f.Device]
		if st == nil || i%len(track) == 0 && i > 0 {
			st = &geofence.DeviceState{}
			states[f.Device] = st
		}
		ev.Evaluate(idx, st, f.Device, f)
	}
}

// TestTransitionsAfterCountsOnlyTheTrack: the end-to-end run's expected event
// count starts from the states the handler run left in Redis, so a device
// already inside does not enter again, and a fix not newer is ignored.
func TestTransitionsAfterCountsOnlyTheTrack(t *testing.T) {
	fs, err := geofence.Decode(fmt.Appendf(nil, `{"type":"Feature","id":"c","geometry":{"type":"Point","coordinates":[%.7f,%.7f]},"properties":{"name":"c","radius_m":100}}`,
		fleet.London.Lon, fleet.London.Lat))
	if err != nil {
		t.Fatal(err)
	}
	idx := geofence.NewIndex([]*geofence.Fence{&fs[0]})
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	at := func(device string, s int, inside bool) fix.Fix {
		f := fix.Fix{Device: device, TS: t0.Add(time.Duration(s) * time.Second), Lat: fleet.London.Lat, Lon: fleet.London.Lon}
		if !inside {
			f.Lat += 0.01 // ~1.1 km north
		}
		return f
	}
	tests := []struct {
		name         string
		prior, track []fix.Fix
		want         int
	}{
		{"first sight inside enters", nil, []fix.Fix{at("a", 1, true)}, 1},
		{"already inside stays", []fix.Fix{at("a", 1, true)}, []fix.Fix{at("a", 2, true)}, 0},
		{"inside then out exits", []fix.Fix{at("a", 1, true)}, []fix.Fix{at("a", 2, false)}, 1},
		{"out, in, out", nil, []fix.Fix{at("a", 1, false), at("a", 2, true), at("a", 3, false)}, 2},
		{"a fix not newer is ignored", []fix.Fix{at("a", 2, false)}, []fix.Fix{at("a", 1, true)}, 0},
		{"devices apart", []fix.Fix{at("a", 1, true)}, []fix.Fix{at("a", 2, true), at("b", 2, true)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := transitionsAfter(idx, tc.prior, tc.track); got != tc.want {
				t.Fatalf("transitions = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestGeofenceReportPrintsEachRowOnce: every measure of the report's table
// appears once, the end-to-end rows included.
func TestGeofenceReportPrintsEachRowOnce(t *testing.T) {
	rep := &geofenceReport{cfg: benchGeofenceConfig{fences: 10, devices: 5, evaluatorFixes: 100, e2eFixes: 100, batchSize: 10, workers: 1, eventBatch: 100},
		e2eSent: 100, e2eDetected: 100, e2eDetectCPU: time.Second, e2eIngestCPU: time.Second / 2}
	md := rep.markdown()
	rows := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Measure") || strings.HasPrefix(line, "| ---") {
			continue
		}
		rows++
		measure := line[:strings.Index(line[2:], " | ")+2]
		if n := strings.Count(md, measure+" |"); n != 1 {
			t.Errorf("row %q printed %d times", measure, n)
		}
	}
	if rows != 10 {
		t.Errorf("%d rows, want 10:\n%s", rows, md)
	}
	if !strings.Contains(md, "| 10000.0 ms / 5000.0 ms |") {
		t.Errorf("CPU per 1000 fixes not reported as 10000.0 ms / 5000.0 ms:\n%s", md)
	}
}
