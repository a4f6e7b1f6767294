package edgefilter

import (
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

func TestPushDropReasons(t *testing.T) {
	now := t0.Add(time.Hour)
	prev := at(0, 0, 0)
	prev.Acc, prev.Speed = fix.Float(5), fix.Float(0)
	with := func(x fix.Fix, edit func(*fix.Fix)) fix.Fix { edit(&x); return x }
	tests := []struct {
		name     string
		settings func(*Settings)
		x        fix.Fix
		want     Reason
	}{
		{"valid move is accepted", nil, at(1, 90, 10), ""},
		{"no device", nil, with(at(1, 90, 10), func(f *fix.Fix) { f.Device = "" }), ReasonInvalid},
		{"NaN latitude", nil, with(at(1, 90, 10), func(f *fix.Fix) { f.Lat = math.NaN() }), ReasonInvalid},
		{"zero island", nil, with(at(1, 90, 10), func(f *fix.Fix) { f.Lat, f.Lon = 0, 0 }), ReasonInvalid},
		{"negative accuracy", nil, with(at(1, 90, 10), func(f *fix.Fix) { f.Acc = fix.Float(-1) }), ReasonInvalid},
		{"25 h ahead of now", nil, with(at(1, 90, 10), func(f *fix.Fix) { f.TS = now.Add(25 * time.Hour) }), ReasonFuture},
		{"older than max age", func(s *Settings) { s.MaxAgeS = 60 }, at(1, 90, 10), ReasonTooOld},
		{"old but max age off", nil, at(1, 90, 10), ""},
		{"same timestamp", nil, at(0, 90, 10), ReasonDuplicate},
		{"earlier timestamp", nil, at(-1, 90, 10), ReasonOutOfOrder},
		{"same position, no speed", nil, at(5, 0, 0), ReasonDuplicate},
		{"same position, moving speed reported", nil, with(at(5, 0, 0), func(f *fix.Fix) { f.Speed = fix.Float(3) }), ""},
		{"same position, duplicate filter off", func(s *Settings) { s.Duplicate = false }, at(5, 0, 0), ""},
		{"accuracy 150 m", nil, with(at(1, 90, 10), func(f *fix.Fix) { f.Acc = fix.Float(150) }), ReasonInaccurate},
		{"accuracy 150 m, filter off", func(s *Settings) { s.Accuracy = false }, with(at(1, 90, 10), func(f *fix.Fix) { f.Acc = fix.Float(150) }), ""},
		{"too soon", func(s *Settings) { s.MinIntervalS = 10 }, at(5, 90, 10), ReasonTooSoon},
		{"not too soon", func(s *Settings) { s.MinIntervalS = 10 }, at(10, 90, 10), ""},
		{"too close", func(s *Settings) { s.MinDistanceM = 20 }, at(5, 90, 10), ReasonTooClose},
		{"300 km/h jump", nil, at(1, 90, 83), ReasonSpeedOutlier},
		{"jump allowed with filter off", func(s *Settings) { s.SpeedOutlier = false }, at(1, 90, 83), ""},
		{"jump across a gap is not an outlier", nil, at(301, 90, 5000), ""},
		{"drift inside accuracy while still", nil, with(at(5, 45, 8), func(f *fix.Fix) { f.Acc, f.Speed = fix.Float(5), fix.Float(0.1) }), ReasonStationary},
		{"drift beyond accuracy while still", nil, with(at(5, 45, 12), func(f *fix.Fix) { f.Acc, f.Speed = fix.Float(5), fix.Float(0.1) }), ""},
		{"inside accuracy but moving", nil, with(at(5, 45, 8), func(f *fix.Fix) { f.Acc, f.Speed = fix.Float(5), fix.Float(2) }), ""},
		{"drift without reported speed is not judged", nil, with(at(5, 45, 8), func(f *fix.Fix) { f.Acc = fix.Float(5) }), ""},
		{"stationary filter off", func(s *Settings) { s.StationaryJitter = false }, with(at(5, 45, 8), func(f *fix.Fix) { f.Acc, f.Speed = fix.Float(5), fix.Float(0.1) }), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("settings: %v", err)
			}
			f := New(s)
			if out, r := f.Push(prev, prev.TS); r != "" || len(out) != 1 {
				t.Fatalf("first fix: out %d, drop %q; want forwarded", len(out), r)
			}
			out, r := f.Push(tc.x, now)
			if r != tc.want {
				t.Fatalf("drop = %q, want %q", r, tc.want)
			}
			if r != "" && len(out) != 0 {
				t.Errorf("a dropped fix forwarded %d fixes", len(out))
			}
		})
	}
}

func TestFirstFixOfSessionIsForwarded(t *testing.T) {
	f := New(DefaultSettings())
	x := at(0, 0, 0)
	out, r := f.Push(x, x.TS)
	if r != "" || len(out) != 1 || !out[0].TS.Equal(x.TS) {
		t.Fatalf("got %v, %q; want the first fix forwarded", out, r)
	}
}

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Settings)
		wantErr bool
	}{
		{"defaults", func(*Settings) {}, false},
		{"negative epsilon", func(s *Settings) { s.EpsilonM = -1 }, true},
		{"zero epsilon with simplify", func(s *Settings) { s.EpsilonM = 0 }, true},
		{"zero epsilon without simplify", func(s *Settings) { s.EpsilonM, s.Simplify = 0, false }, false},
		{"NaN speed", func(s *Settings) { s.MaxSpeedMS = math.NaN() }, true},
		{"window of one point", func(s *Settings) { s.WindowPoints = 1 }, true},
		{"no gap", func(s *Settings) { s.GapS = 0 }, true},
		{"infinite age", func(s *Settings) { s.MaxAgeS = math.Inf(1) }, true},
		{"accuracy 0 but filter off", func(s *Settings) { s.MaxAccuracyM, s.Accuracy = 0, false }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.edit(&s)
			if err := s.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}
