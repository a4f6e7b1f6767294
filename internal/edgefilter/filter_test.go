package edgefilter

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

func TestSimplifySyntheticTracks(t *testing.T) {
	// Zig-zag: 8 legs of 10 s at 10 m/s, alternating ±45° around east, so
	// each corner is ~70 m off the line joining its neighbours (≫ ε).
	var zigzag, corners []fix.Fix
	pos, sec := origin, 0.0
	for leg := 0; leg < 8; leg++ {
		brg := 45.0
		if leg%2 == 1 {
			brg = 135
		}
		for i := 0; i < 10; i++ {
			zigzag = append(zigzag, fix.Fix{Device: "dev-1", TS: t0.Add(time.Duration(sec) * time.Second), Lat: pos.Lat, Lon: pos.Lon})
			if i == 0 {
				corners = append(corners, zigzag[len(zigzag)-1])
			}
			pos = geo.Destination(pos, brg, 10)
			sec++
		}
	}
	// Noise: a straight line with ±1.5 m deterministic wobble in both axes;
	// worst case SED is 2·1.5·√2 ≈ 4.2 m < ε, so only the ends survive.
	var noisy []fix.Fix
	for i := 0; i < 120; i++ {
		p := geo.Destination(origin, 90, float64(i)*8)
		dx, dy := 1.5*math.Sin(float64(i)*1.7), 1.5*math.Cos(float64(i)*2.3)
		p = geo.Destination(geo.Destination(p, 0, dy), 90, dx)
		noisy = append(noisy, fix.Fix{Device: "dev-1", TS: t0.Add(time.Duration(i) * time.Second), Lat: p.Lat, Lon: p.Lon})
	}
	tests := []struct {
		name      string
		raw       []fix.Fix
		mustKeep  []fix.Fix // all of these must be forwarded
		wantCount int       // exact number forwarded, or -1
	}{
		{"straight line keeps only the endpoints", line(200, 12), nil, 2},
		{"zig-zag above ε keeps every corner", zigzag, corners, -1},
		{"noise below ε is removed", noisy, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := New(bigWindow())
			kept := append(replay(t, f, tc.raw), f.Flush()...)
			checkOrdered(t, kept)
			if tc.wantCount >= 0 && len(kept) != tc.wantCount {
				t.Errorf("forwarded %d fixes, want %d", len(kept), tc.wantCount)
			}
			if !kept[0].TS.Equal(tc.raw[0].TS) || !kept[len(kept)-1].TS.Equal(tc.raw[len(tc.raw)-1].TS) {
				t.Errorf("first and last raw fix must be forwarded")
			}
			for _, c := range tc.mustKeep {
				if !slices.ContainsFunc(kept, func(k fix.Fix) bool { return k.TS.Equal(c.TS) }) {
					t.Errorf("corner at %s not forwarded", fix.FormatTime(c.TS))
				}
			}
			if mx, _ := MaxDeviation(tc.raw, kept); mx > 5+1e-9 {
				t.Errorf("max deviation %.3f m > ε", mx)
			}
		})
	}
}

func TestWindowBoundsTheWait(t *testing.T) {
	tests := []struct {
		name       string
		settings   func(*Settings)
		raw        []fix.Fix
		maxPending int
		maxWait    time.Duration
	}{
		{"60 points at 1 Hz", func(*Settings) {}, line(500, 10), 60, 60 * time.Second},
		{"120 s at 0.2 Hz", func(*Settings) {}, everyN(line(3000, 2), 5), 60, 120 * time.Second},
		{"small window", func(s *Settings) { s.WindowPoints, s.WindowS = 5, 3600 }, line(100, 10), 5, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.settings(&s)
			f := New(s)
			lastOut := tc.raw[0].TS
			for _, x := range tc.raw {
				out, _ := f.Push(x, x.TS)
				if len(out) > 0 {
					lastOut = out[len(out)-1].TS
				}
				if f.Pending() >= tc.maxPending {
					t.Fatalf("at %s: %d fixes pending, window is %d", fix.FormatTime(x.TS), f.Pending(), tc.maxPending)
				}
				if wait := x.TS.Sub(lastOut); wait > tc.maxWait {
					t.Fatalf("at %s: nothing forwarded for %v", fix.FormatTime(x.TS), wait)
				}
			}
		})
	}
}

func everyN(fixes []fix.Fix, n int) []fix.Fix {
	var out []fix.Fix
	for i := 0; i < len(fixes); i += n {
		out = append(out, fixes[i])
	}
	return out
}

func TestGapStartsNewSession(t *testing.T) {
	before := line(30, 10)
	after := line(30, 10)
	for i := range after {
		after[i].TS = after[i].TS.Add(time.Hour) // same road, an hour later
	}
	f := New(bigWindow())
	kept := replay(t, f, before)
	out, r := f.Push(after[0], after[0].TS)
	if r != "" {
		t.Fatalf("fix after the gap dropped as %q", r)
	}
	if len(out) != 2 || !out[0].TS.Equal(before[len(before)-1].TS) || !out[1].TS.Equal(after[0].TS) {
		t.Fatalf("at the gap forwarded %d fixes %v; want the fix before and the fix after the gap", len(out), out)
	}
	kept = append(append(kept, out...), replay(t, f, after[1:])...)
	kept = append(kept, f.Flush()...)
	checkOrdered(t, kept)
	if len(kept) != 4 {
		t.Errorf("forwarded %d fixes; want 4 (two straight sessions, each its endpoints)", len(kept))
	}
}

func TestStopEndIsForwarded(t *testing.T) {
	// Drive east, stand still 90 s reporting the same position (dropped as
	// duplicates), drive on. Without the stop's end the forwarded track would
	// creep through the stop, far off in time.
	var raw []fix.Fix
	for i := 0; i < 20; i++ {
		raw = append(raw, at(float64(i), 90, float64(i)*10))
	}
	stop := raw[len(raw)-1]
	for i := 1; i <= 90; i++ {
		x := stop
		x.TS = stop.TS.Add(time.Duration(i) * time.Second)
		raw = append(raw, x)
	}
	for i := 1; i <= 20; i++ {
		raw = append(raw, at(float64(109+i), 90, 190+float64(i)*10))
	}
	f := New(bigWindow())
	kept := append(replay(t, f, raw), f.Flush()...)
	checkOrdered(t, kept)
	end := raw[109]
	if !slices.ContainsFunc(kept, func(k fix.Fix) bool { return k.TS.Equal(end.TS) }) {
		t.Errorf("the stop's last fix (%s) was not forwarded; kept %d fixes", fix.FormatTime(end.TS), len(kept))
	}
	if mx, _ := MaxDeviation(raw, kept); mx > 5+1e-9 {
		t.Errorf("max deviation %.2f m > ε", mx)
	}
}

func TestRealTracksStayWithinEpsilon(t *testing.T) {
	// Tolerance: the simplifier and MaxDeviation evaluate the very same
	// function (geo.SyncedDistance) on the same numbers, so only float
	// rounding separates them; 1e-9 m is many orders above that and far
	// below anything physical.
	const tol = 1e-9
	for _, name := range realTracks {
		for _, eps := range []float64{2, 5, 10} {
			raw := loadTrack(t, name)
			s := DefaultSettings()
			s.EpsilonM = eps
			f := New(s)
			var kept, covered []fix.Fix
			drops := map[Reason]int{}
			for _, x := range raw {
				out, r := f.Push(x, x.TS)
				kept = append(kept, out...)
				drops[r]++
				// Covered by the bound: accepted fixes, and repeated positions at
				// a later time (they sit where the accepted fix before them and
				// the held stop end are, and the track between is straight).
				// Not covered: a second position at an already seen instant.
				if r == "" || r == ReasonDuplicate && x.TS.After(covered[len(covered)-1].TS) {
					covered = append(covered, x)
				}
			}
			kept = append(kept, f.Flush()...)
			checkOrdered(t, kept)
			mxAll, meanAll := MaxDeviation(raw, kept)
			mx, _ := MaxDeviation(covered, kept)
			t.Logf("%s ε=%g: %d → %d fixes (%.1f×), max %.2f m (all raw %.2f m, mean %.2f m), drops %v",
				name, eps, len(raw), len(kept), float64(len(raw))/float64(len(kept)), mx, mxAll, meanAll, drops)
			if mx > eps+tol {
				t.Errorf("%s ε=%g: max deviation %.6f m exceeds ε", name, eps, mx)
			}
			if len(kept) >= len(raw) {
				t.Errorf("%s ε=%g: nothing was removed", name, eps)
			}
		}
	}
}

func TestStateRoundTripMidTrack(t *testing.T) {
	raw := loadTrack(t, "strava-ride-los-angeles.gpx")
	s := DefaultSettings()
	whole := Replay(s, raw)
	for _, cut := range []int{1, 2, 37, 400, 849} {
		f := New(s)
		kept := replay(t, f, raw[:cut])
		data, err := json.Marshal(f.State())
		if err != nil {
			t.Fatalf("marshal state: %v", err)
		}
		var st State
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatalf("unmarshal state: %v", err)
		}
		g, err := FromState(s, st)
		if err != nil {
			t.Fatalf("restore at %d: %v", cut, err)
		}
		kept = append(kept, replay(t, g, raw[cut:])...)
		kept = append(kept, g.Flush()...)
		a, _ := json.Marshal(whole)
		b, _ := json.Marshal(kept)
		if string(a) != string(b) {
			t.Errorf("cut at %d: output differs after restore (%d vs %d fixes)", cut, len(whole), len(kept))
		}
	}
}

func TestFromStateRejectsBadSnapshots(t *testing.T) {
	x := at(0, 0, 0)
	tests := []struct {
		name string
		st   State
	}{
		{"wrong version", State{Version: 99}},
		{"pending without anchor", State{Version: StateVersion, Pending: []fix.Fix{x}}},
		{"pending out of order", State{Version: StateVersion, Anchor: &x, Pending: []fix.Fix{at(2, 0, 0), at(1, 0, 0)}}},
		{"held without last", State{Version: StateVersion, Held: &x}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := FromState(DefaultSettings(), tc.st); err == nil {
				t.Fatal("FromState accepted a bad snapshot")
			}
		})
	}
}

func TestBankKeepsDevicesApart(t *testing.T) {
	a, b := line(100, 10), line(100, 3)
	for i := range b {
		b[i].Device = "dev-2"
	}
	bank := NewBank(DefaultSettings())
	got := map[string][]fix.Fix{}
	for i := range a {
		for _, x := range []fix.Fix{a[i], b[i]} {
			out, _ := bank.Push(x, x.TS)
			got[x.Device] = append(got[x.Device], out...)
		}
	}
	for _, x := range bank.FlushAll() {
		got[x.Device] = append(got[x.Device], x)
	}
	for dev, raw := range map[string][]fix.Fix{"dev-1": a, "dev-2": b} {
		want := Replay(DefaultSettings(), raw)
		if len(got[dev]) != len(want) {
			t.Errorf("%s: bank forwarded %d, a lone filter %d", dev, len(got[dev]), len(want))
		}
	}
}

func TestBaselines(t *testing.T) {
	raw := line(100, 7) // 7 m per second for 99 s
	tests := []struct {
		name string
		got  []fix.Fix
		want int
	}{
		{"distance 30 m: every 5th fix (35 m)", DistanceBased(raw, 30), 20},
		{"distance 10 m: every 2nd fix (14 m)", DistanceBased(raw, 10), 50},
		{"time 30 s", TimeBased(raw, 30*time.Second), 4},
		{"nothing in, nothing out", DistanceBased(nil, 30), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.got) != tc.want {
				t.Errorf("forwarded %d, want %d", len(tc.got), tc.want)
			}
			checkOrdered(t, tc.got)
		})
	}
}

func TestMaxDeviation(t *testing.T) {
	raw := line(11, 10) // 0..100 m east over 10 s
	stopped := []fix.Fix{raw[0], raw[0], raw[0]}
	stopped[1].TS, stopped[2].TS = raw[5].TS, raw[10].TS
	tests := []struct {
		name      string
		raw, kept []fix.Fix
		max, mean float64
	}{
		{"identical", raw, raw, 0, 0},
		{"endpoints of a straight line", raw, []fix.Fix{raw[0], raw[10]}, 0, 0},
		{"only the first fix: each raw fix measured to it", raw, raw[:1], 100, 50},
		{"time matters: a stop drawn as motion", stopped, []fix.Fix{raw[0], raw[10]}, 100, 50},
		{"no raw", nil, raw, 0, 0},
		{"nothing kept", raw, nil, math.Inf(1), math.Inf(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mx, mean := MaxDeviation(tc.raw, tc.kept)
			if !(math.Abs(mx-tc.max) < 0.01 || mx == tc.max) || !(math.Abs(mean-tc.mean) < 0.01 || mean == tc.mean) {
				t.Errorf("MaxDeviation = %.3f, %.3f; want %.3f, %.3f", mx, mean, tc.max, tc.mean)
			}
		})
	}
}

func BenchmarkFilterPush(b *testing.B) {
	raw := loadTrack(b, "run-with-laps.gpx")
	f := New(DefaultSettings())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(raw) {
			f.Flush()
			f = New(DefaultSettings())
			i = 0
		}
		f.Push(raw[i], raw[i].TS)
		i++
	}
}
