package trips_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/geo"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/trips"
)

const tracksDir = "../../testdata/tracks"

// checkAgainstTruth compares the report with the script's drives: exact
// counts, distances within 1 %, times within one fix interval.
func checkAgainstTruth(t *testing.T, name string, rep *trips.Report, truth []fleet.Span, parks []fleet.Span, interval time.Duration) {
	t.Helper()
	if len(rep.Trips) != len(truth) {
		t.Fatalf("%s: %d trips, want %d: %+v", name, len(rep.Trips), len(truth), rep.Trips)
	}
	within := func(what string, got, want time.Time) {
		if d := got.Sub(want); d > interval || d < -interval {
			t.Errorf("%s: %s %v, want %v ± %v (off by %v)", name, what, got, want, interval, d)
		}
	}
	for i, tr := range rep.Trips {
		want := truth[i]
		within("trip start", tr.Start, want.Start)
		within("trip end", tr.End, want.End)
		if math.Abs(tr.DistanceM-want.DistM) > 0.01*want.DistM {
			t.Errorf("%s: trip %d distance %.1f m, want %.1f m ± 1 %%", name, i, tr.DistanceM, want.DistM)
		}
		if tr.MaxSpeed <= 0 || tr.AvgSpeed() <= 0 || tr.AvgSpeed() > tr.MaxSpeed*1.01 {
			t.Errorf("%s: trip %d speeds avg %.2f max %.2f", name, i, tr.AvgSpeed(), tr.MaxSpeed)
		}
	}
	// Each drive ends the park before it: those are the completed stops.
	if len(rep.Stops) != len(truth) {
		t.Fatalf("%s: %d stops, want %d", name, len(rep.Stops), len(truth))
	}
	for i, st := range rep.Stops {
		if i > 0 { // the first stop starts with the first fix, whatever the script
			within("stop start", st.Start, parks[i].Start)
		}
		within("stop end", st.End, parks[i].End)
	}
}

// TestSimulatedFleetMatchesScript: 120 scripted vehicles (1, 2 and 5 s
// intervals, with and without reported speed, time-correlated GPS noise):
// every trip and stop within one fix interval of the script.
func TestSimulatedFleetMatchesScript(t *testing.T) {
	for i := range 120 {
		interval := []time.Duration{time.Second, 5 * time.Second, 2 * time.Second}[i%3]
		reported := i%2 == 0
		seed := uint64(100 + i)
		sim := fleet.Simulate(seed, fleet.ScriptedDevice(i), interval, reported, fleet.DayScript(seed))
		rep := trips.Build(trips.DefaultRules(), fleet.ScriptedDevice(i), sim.Fixes)
		name := fleet.ScriptedDevice(i) + " every " + interval.String()
		if reported {
			name += " with speed"
		}
		checkAgainstTruth(t, name, rep, sim.Drives, sim.Parks, interval)
		if rep.Late != 0 || rep.Dup != 0 {
			t.Errorf("%s: late %d dup %d on an ordered track", name, rep.Late, rep.Dup)
		}
	}
}

func TestParkedNoisyDeviceMakesNoTrips(t *testing.T) {
	for _, reported := range []bool{false, true} {
		for _, interval := range []time.Duration{time.Second, 10 * time.Second} {
			sim := fleet.Simulate(7, "parked", interval, reported, []fleet.Segment{{Park: 12 * time.Hour}})
			var s trips.State
			var evs []trips.Event
			for _, f := range sim.Fixes {
				evs, _ = trips.Step(trips.DefaultRules(), &s, "parked", f, evs)
			}
			if len(evs) != 1 || evs[0].Kind != trips.StopStarted || !evs[0].Stop.Start.Equal(sim.Fixes[0].TS) {
				t.Errorf("speed %v every %v: events %+v, want one stop.started at the first fix", reported, interval, evs)
			}
		}
	}
}

func TestGapLongerThanNoDataEndsTheTrip(t *testing.T) {
	for _, reported := range []bool{false, true} {
		script := []fleet.Segment{
			{Park: 10 * time.Minute},
			{DriveM: 4000, Speed: 15},
			{DriveM: 90000, Speed: 20, Silent: true}, // 75 min without a fix
			{DriveM: 3000, Speed: 15},
			{Park: 10 * time.Minute},
		}
		sim := fleet.Simulate(3, "tunnel", time.Second, reported, script)
		rep := trips.Build(trips.DefaultRules(), "tunnel", sim.Fixes)
		if len(rep.Trips) != 2 {
			t.Fatalf("speed %v: %d trips, want 2: %+v", reported, len(rep.Trips), rep.Trips)
		}
		last := sim.Fixes[0]
		for _, f := range sim.Fixes {
			if !f.TS.After(sim.Drives[1].Start) {
				last = f
			}
		}
		if !rep.Trips[0].End.Equal(last.TS) {
			t.Errorf("first trip ends %v, want the last fix before the gap %v", rep.Trips[0].End, last.TS)
		}
		if d := rep.Trips[0].DistanceM; math.Abs(d-4000) > 40 {
			t.Errorf("first trip %.1f m, want 4000 m ± 1 %%", d)
		}
		if d := rep.Trips[1].DistanceM; math.Abs(d-3000) > 30 {
			t.Errorf("second trip %.1f m, want 3000 m ± 1 %%: the gap must not count", d)
		}
		if start, want := rep.Trips[1].Start, sim.Drives[2].Start; start.Sub(want) > time.Second || want.Sub(start) > time.Second {
			t.Errorf("second trip starts %v, want %v", start, want)
		}
	}
}

// TestDriftAfterStoppingDoesNotMoveTheTripEnd: after the car stopped, one
// fix drifted past min_move_m is not a move (the trip ends at the arrival),
// while a resumed drive (two displaced fixes in a row, or a reported speed)
// is.
func TestDriftAfterStoppingDoesNotMoveTheTripEnd(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	start := geo.Point{Lat: 47.3, Lon: 8.5}
	at := func(sec int, eastM float64, speed *float64) fix.Fix {
		p := geo.Destination(start, 90, eastM)
		return fix.Fix{Device: "car", TS: t0.Add(time.Duration(sec) * time.Second), Lat: p.Lat, Lon: p.Lon, Speed: speed}
	}
	drive := func() []fix.Fix { // parked 6 min, 1200 m at 12 m/s, arrival at 1200 m
		var fs []fix.Fix
		for sec := 0; sec < 360; sec += 10 {
			fs = append(fs, at(sec, 0, nil))
		}
		for i := 1; i <= 100; i++ {
			fs = append(fs, at(360+i, float64(12*i), nil))
		}
		return fs
	}
	arrival := t0.Add(460 * time.Second)
	cases := []struct {
		name  string
		after func(sec int) (eastM float64, speed *float64) // fixes from 461 s on, every second
		end   time.Time
	}{
		{"still", func(int) (float64, *float64) { return 1200, nil }, arrival},
		{"one drifted fix", func(sec int) (float64, *float64) {
			if sec == 468 {
				return 1213, nil
			}
			return 1201, nil
		}, arrival},
		{"drive resumed for 20 s", func(sec int) (float64, *float64) {
			if sec >= 480 && sec < 500 {
				return 1200 + float64(12*(sec-479)), nil
			}
			if sec >= 500 {
				return 1440, nil
			}
			return 1200, nil
		}, t0.Add(499 * time.Second)},
		{"reported speed, short steps", func(sec int) (float64, *float64) {
			if sec >= 480 && sec < 490 {
				return 1200 + 1.8*float64(sec-479), fix.Float(1.8)
			}
			if sec >= 490 {
				return 1218, fix.Float(0)
			}
			return 1200, fix.Float(0)
		}, t0.Add(489 * time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := drive()
			for sec := 461; sec < 461+400; sec++ {
				east, speed := tc.after(sec)
				fs = append(fs, at(sec, east, speed))
			}
			rep := trips.Build(trips.DefaultRules(), "car", fs)
			if len(rep.Trips) != 1 || !rep.Trips[0].End.Equal(tc.end) {
				t.Fatalf("trips %+v, want one ending at %v", rep.Trips, tc.end)
			}
		})
	}
}

func TestShortMovesAreNotTrips(t *testing.T) {
	script := []fleet.Segment{
		{Park: 10 * time.Minute},
		{DriveM: 300, Speed: 5}, // 60 s, 300 m: below both minimums
		{Park: 10 * time.Minute},
		{DriveM: 2000, Speed: 15},
		{Park: 10 * time.Minute},
	}
	sim := fleet.Simulate(5, "short", time.Second, false, script)
	rep := trips.Build(trips.DefaultRules(), "short", sim.Fixes)
	if len(rep.Trips) != 1 || math.Abs(rep.Trips[0].DistanceM-2000) > 20 {
		t.Fatalf("trips %+v, want the 2000 m one only", rep.Trips)
	}
	// The short move is part of the one stop before the trip.
	if len(rep.Stops) != 1 || !rep.Stops[0].Start.Equal(sim.Fixes[0].TS) {
		t.Errorf("stops %+v, want one from the first fix", rep.Stops)
	}
}

func TestLateAndDuplicateFixesAreIgnoredAndCounted(t *testing.T) {
	seed := uint64(42)
	sim := fleet.Simulate(seed, "d", time.Second, true, fleet.DayScript(seed))
	clean := trips.Build(trips.DefaultRules(), "d", sim.Fixes)
	var noisy []fix.Fix
	late, dup := 0, 0
	for i, f := range sim.Fixes {
		noisy = append(noisy, f)
		switch {
		case i%97 == 5:
			noisy = append(noisy, f) // redelivered
			dup++
		case i%89 == 7 && i > 20:
			old := sim.Fixes[i-15] // arrives 15 s late
			noisy = append(noisy, old)
			late++
		}
	}
	got := trips.Build(trips.DefaultRules(), "d", noisy)
	if got.Late != int64(late) || got.Dup != int64(dup) {
		t.Errorf("counted late %d dup %d, want %d %d", got.Late, got.Dup, late, dup)
	}
	sameReports(t, "with late and duplicate fixes", got, clean)
}

func sameReports(t *testing.T, name string, got, want *trips.Report) {
	t.Helper()
	if len(got.Trips) != len(want.Trips) || len(got.Stops) != len(want.Stops) {
		t.Fatalf("%s: %d trips %d stops, want %d %d", name, len(got.Trips), len(got.Stops), len(want.Trips), len(want.Stops))
	}
	for i := range got.Trips {
		if got.Trips[i] != want.Trips[i] {
			t.Errorf("%s: trip %d %+v, want %+v", name, i, got.Trips[i], want.Trips[i])
		}
	}
	for i := range got.Stops {
		if got.Stops[i] != want.Stops[i] {
			t.Errorf("%s: stop %d %+v, want %+v", name, i, got.Stops[i], want.Stops[i])
		}
	}
}

// TestStateSurvivesJSON is what movement relies on: stepping with the
// state stored and reloaded after every fix gives the very same events.
func TestStateSurvivesJSON(t *testing.T) {
	seed := uint64(9)
	sim := fleet.Simulate(seed, "j", 2*time.Second, false, fleet.DayScript(seed))
	r := trips.DefaultRules()
	var direct, reloaded trips.State
	var a, b []trips.Event
	for _, f := range sim.Fixes {
		a, _ = trips.Step(r, &direct, "j", f, a)
		raw, err := json.Marshal(reloaded)
		if err != nil {
			t.Fatal(err)
		}
		var s trips.State
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		b, _ = trips.Step(r, &s, "j", f, b)
		reloaded = s
	}
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d events direct, %d reloaded", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("event %d: %+v, reloaded %+v", i, b[i], a[i])
		}
	}
}

// The recorded tracks: a run with auto-pause gaps and a bike ride. Their
// truth is not scripted, so the checks are what must hold for any track:
// the trips lie within the track's span, do not overlap, and cover most of
// the distance the fixes travelled.
func TestRecordedTracks(t *testing.T) {
	for _, file := range []string{"run-with-laps.gpx", "strava-ride-los-angeles.gpx"} {
		fixes := loadTrack(t, file)
		rep := trips.Build(trips.DefaultRules(), "rec", fixes)
		all := rep.Trips
		if tr, ok := rep.Ongoing(); ok {
			all = append(all, tr)
		}
		if len(all) == 0 {
			t.Fatalf("%s: no trip", file)
		}
		var path, sum float64
		for i := 1; i < len(fixes); i++ {
			path += geo.Haversine(geo.Point{Lat: fixes[i-1].Lat, Lon: fixes[i-1].Lon}, geo.Point{Lat: fixes[i].Lat, Lon: fixes[i].Lon})
		}
		prevEnd := fixes[0].TS
		for _, tr := range all {
			if tr.Start.Before(prevEnd) || tr.End.After(fixes[len(fixes)-1].TS) || !tr.End.After(tr.Start) {
				t.Errorf("%s: trip %v–%v out of order or span", file, tr.Start, tr.End)
			}
			prevEnd = tr.End
			sum += tr.DistanceM
		}
		t.Logf("%s: %d fixes, path %.0f m, %d trips %.0f m, %d stops", file, len(fixes), path, len(all), sum, len(rep.Stops))
		if sum > path || sum < 0.9*path {
			t.Errorf("%s: trips cover %.0f m of a %.0f m path", file, sum, path)
		}
	}
}

func loadTrack(t testing.TB, file string) []fix.Fix {
	t.Helper()
	f, err := os.Open(filepath.Join(tracksDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fixes, err := gpx.Decode(f, "rec", 100000)
	if err != nil {
		t.Fatal(err)
	}
	return fixes
}
