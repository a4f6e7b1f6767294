package edgefilter

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// fuzzFixes turns bytes into a stream of fixes near a base point: per fix
// 8 bytes = time step (int16 s, may go backwards), lat/lon step (int16 ×
// 1e-5°, ~1 m), acc (uint8 m, 255 = absent), speed (uint8 dm/s, 255 =
// absent). The first byte picks the settings.
func fuzzFixes(data []byte) (Settings, []fix.Fix) {
	s := DefaultSettings()
	if len(data) == 0 {
		return s, nil
	}
	flags := data[0]
	data = data[1:]
	s.Duplicate = flags&1 == 0
	s.SpeedOutlier = flags&2 == 0
	s.StationaryJitter = flags&4 == 0
	s.EpsilonM = float64(1 + flags>>5) // 1..8 m
	if flags&8 != 0 {
		s.WindowPoints, s.WindowS = 3, 20
	}
	if flags&16 != 0 {
		s.MinIntervalS, s.MinDistanceM = 2, 3
	}
	ts, lat, lon := t0, 51.5, 179.999 // near the antimeridian on purpose
	var out []fix.Fix
	for len(data) >= 8 {
		ts = ts.Add(time.Duration(int16(binary.LittleEndian.Uint16(data))) * time.Second)
		lat += float64(int16(binary.LittleEndian.Uint16(data[2:]))) * 1e-5
		lon += float64(int16(binary.LittleEndian.Uint16(data[4:]))) * 1e-5
		x := fix.Fix{Device: "fuzz", TS: ts, Lat: lat, Lon: lon}
		if data[6] != 255 {
			x.Acc = fix.Float(float64(data[6]))
		}
		if data[7] != 255 {
			x.Speed = fix.Float(float64(data[7]) / 10)
		}
		out = append(out, x)
		data = data[8:]
	}
	return s, out
}

func FuzzPush(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, 1, 0, 10, 0, 10, 0, 5, 20, 1, 0, 10, 0, 10, 0, 5, 20, 1, 0, 0, 0, 0, 0, 5, 0})
	f.Add([]byte{8, 1, 0, 0, 1, 0, 0, 255, 255, 1, 0, 0, 1, 0, 0, 255, 255, 1, 0, 0, 1, 0, 0, 255, 255, 1, 0, 0, 1, 0, 0, 255, 255, 1, 0, 0, 1, 0, 0, 255, 255})
	f.Add([]byte{2, 1, 0, 0, 0x80, 0, 0x80, 3, 0, 0xff, 0xff, 0, 0, 0, 0, 3, 0, 0x2c, 0x01, 1, 0, 1, 0, 3, 0})
	f.Add([]byte{31, 5, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 9, 1, 100, 0, 3, 0, 3, 0, 200, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, fixes := fuzzFixes(data)
		if err := s.Validate(); err != nil {
			t.Fatalf("fuzz settings invalid: %v", err)
		}
		filt := New(s)
		var kept, accepted []fix.Fix
		for i, x := range fixes {
			if filt.anchor != nil {
				if got, want := filt.fits(x), fitsBySyncedDistance(filt, x); got != want {
					t.Fatalf("fix %d: fits = %v, geo.SyncedDistance says %v", i, got, want)
				}
			}
			out, r := filt.Push(x, x.TS)
			if r == "" {
				accepted = append(accepted, x)
			}
			for _, o := range out {
				if err := fix.Validate(&o, o.TS); err != nil {
					t.Fatalf("forwarded an invalid fix: %v", err)
				}
			}
			kept = append(kept, out...)
			if filt.Pending() > s.WindowPoints {
				t.Fatalf("%d pending, window %d", filt.Pending(), s.WindowPoints)
			}
		}
		kept = append(kept, filt.Flush()...)
		checkOrdered(t, kept)
		if len(accepted) > 0 && len(kept) == 0 {
			t.Fatal("fixes were accepted but nothing was forwarded")
		}
		if mx, _ := MaxDeviation(accepted, kept); mx > s.EpsilonM+1e-6 {
			t.Fatalf("accepted fix %.4f m off the forwarded track, ε = %g", mx, s.EpsilonM)
		}
	})
}
