package forward

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/metrics"
)

func TestRunRecoversAndStops(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, func(n int, ev *received) action {
		if n < 4 {
			return action{status: 502}
		}
		return accept()
	})
	reg := metrics.NewRegistry()
	f := e.forwarder(t, c, func(cfg *Config) { cfg.Metrics = reg; cfg.BatchSize = 100 })
	in := makeFixes("d1", 0, 450)
	e.append(t, "acme", in)

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	wake := make(chan struct{}, 1)
	go func() {
		defer close(stopped)
		// An hour's interval: only the backoff and wake-ups can make progress.
		f.Run(ctx, wake, time.Hour)
	}()
	eventually(t, "first batch stored", func() bool { return c.storedCount() == 450 })
	more := makeFixes("d2", 0, 30)
	e.append(t, "acme", more)
	wake <- struct{}{}
	eventually(t, "woken run acked", func() bool {
		m := f.Metrics()
		return m.SentTotal == 480 && m.Backlog == 0
	})
	cancel()
	<-stopped
	c.requireStoredExactly(t, append(in, more...))

	var out strings.Builder
	if _, err := reg.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"geotrack_forward_sent_total 480",
		`geotrack_forward_failures_total{reason="http"} 4`,
		"geotrack_outbox_depth 0",
		"geotrack_outbox_oldest_age_seconds 0",
		"geotrack_forward_dead_lettered_total 0",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, out.String())
		}
	}
}

func TestRunStopsWithClosedWake(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, nil)
	f := e.forwarder(t, c, nil)
	wake := make(chan struct{})
	close(wake)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		f.Run(ctx, wake, time.Hour)
	}()
	e.append(t, "acme", makeFixes("d1", 0, 3))
	cancel()
	<-stopped
	// A closed wake channel must not spin: with an hour's interval, Run made
	// only its first pass (which may or may not have seen the fixes).
	if n := len(c.received()); n > 1 {
		t.Errorf("%d requests: Run spun on the closed wake channel", n)
	}
}

func TestBackoffBounds(t *testing.T) {
	f := &Forwarder{cfg: Config{MinBackoff: 500 * time.Millisecond, MaxBackoff: 60 * time.Second}}
	tests := []struct {
		failures int
		hi       time.Duration
	}{
		{1, 500 * time.Millisecond},
		{2, time.Second},
		{4, 4 * time.Second},
		{8, 60 * time.Second},
		{1000, 60 * time.Second},
	}
	for _, tt := range tests {
		for range 200 {
			d := f.backoff(tt.failures)
			if d < f.cfg.MinBackoff || d > tt.hi {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.failures, d, f.cfg.MinBackoff, tt.hi)
			}
		}
	}
}

// RatePerSecond paces batches: with a fake clock the waits are exact.
func TestPacing(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, nil)
	f := e.forwarder(t, c, func(cfg *Config) { cfg.BatchSize = 100; cfg.RatePerSecond = 1000 })
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var waits []time.Duration
	f.now = func() time.Time { return clock }
	f.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		clock = clock.Add(d)
		return nil
	}
	e.append(t, "acme", makeFixes("d1", 0, 350))
	if res, err := f.RunOnce(context.Background()); err != nil || res.Sent != 350 {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}
	// 100 fixes at 1000/s book 100ms each: the 2nd, 3rd and 4th batch wait.
	want := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("waits %v, want %v", waits, want)
			break
		}
	}
}
