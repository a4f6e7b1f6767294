package tracktest

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func failures(t *testing.T, in, out []fix.Fix) []string {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		AssertSameFixes(rec, in, out)
	}()
	<-done
	return rec.msgs
}

func TestTrack(t *testing.T) {
	fixes := Track(3)
	if len(fixes) != 3 {
		t.Fatalf("Track(3) has %d fixes", len(fixes))
	}
	for i, f := range fixes {
		if err := fix.Validate(&f, fixes[len(fixes)-1].TS); err != nil {
			t.Errorf("fix %d %+v does not validate: %v", i, f, err)
		}
		if i > 0 && (!f.TS.After(fixes[i-1].TS) || f.Lat <= fixes[i-1].Lat) {
			t.Errorf("fix %d does not move on from fix %d", i, i-1)
		}
	}
}

func TestAssertSameFixes(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fix.Fix)
		fails  int
	}{
		{"same", func(*fix.Fix) {}, 0},
		{"within 1e-7", func(f *fix.Fix) { f.Lat += 5e-8; f.Lon -= 5e-8 }, 0},
		{"lat off", func(f *fix.Fix) { f.Lat += 2e-7 }, 1},
		{"lon off", func(f *fix.Fix) { f.Lon -= 2e-7 }, 1},
		{"time off", func(f *fix.Fix) { f.TS = f.TS.Add(time.Millisecond) }, 1},
		{"alt off", func(f *fix.Fix) { f.Alt = fix.Float(400.001) }, 1},
		{"alt missing", func(f *fix.Fix) { f.Alt = nil }, 1},
		{"device", func(f *fix.Fix) { f.Device = "e" }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Track(2)
			out := Track(2)
			in[1].TS = in[1].TS.Add(250 * time.Microsecond) // truncated to the ms
			tt.change(&out[1])
			if msgs := failures(t, in, out); len(msgs) != tt.fails {
				t.Errorf("%d failures %q, want %d", len(msgs), msgs, tt.fails)
			}
		})
	}
	if msgs := failures(t, Track(2), Track(3)); len(msgs) != 1 {
		t.Errorf("length mismatch: failures %q, want 1", msgs)
	}
}
