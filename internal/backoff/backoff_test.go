package backoff

import (
	"testing"
	"time"
)

func TestDelayStaysWithinTheSchedule(t *testing.T) {
	p := Policy{Min: 500 * time.Millisecond, Max: 60 * time.Second}
	cases := []struct {
		retry  int
		lo, hi time.Duration
	}{
		{0, 500 * time.Millisecond, 500 * time.Millisecond},
		{1, 500 * time.Millisecond, 500 * time.Millisecond},
		{2, 500 * time.Millisecond, time.Second},
		{4, 500 * time.Millisecond, 4 * time.Second},
		{8, 500 * time.Millisecond, 60 * time.Second},
		{1000, 500 * time.Millisecond, 60 * time.Second},
	}
	for _, c := range cases {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Delay(c.retry)
			if d < c.lo || d > c.hi {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", c.retry, d, c.lo, c.hi)
			}
			seen[d] = true
		}
		if c.hi > c.lo && len(seen) < 2 {
			t.Errorf("Delay(%d) gave one value in 200 draws: no jitter", c.retry)
		}
	}
}

func TestDelayDegenerateBounds(t *testing.T) {
	cases := []struct {
		name string
		p    Policy
		want time.Duration
	}{
		{"no minimum: no wait", Policy{}, 0},
		{"max below min: min", Policy{Min: time.Second, Max: time.Millisecond}, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Delay(5); got != c.want {
				t.Fatalf("Delay(5) = %v, want %v", got, c.want)
			}
		})
	}
}
