package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBarLine(t *testing.T) {
	cases := []struct {
		done, total int
		elapsed     time.Duration
		want        string
	}{
		{0, 2000, time.Second, "[>                             ]   0% 0/2000 0.0/s"},
		{840, 2000, 500 * time.Millisecond, "[============>                 ]  42% 840/2000 1680/s"},
		{2000, 2000, 2 * time.Second, "[==============================] 100% 2000/2000 1000/s"},
		{5, 0, 0, "[==============================] 100% 5/0 -/s"},
		{3000, 2000, time.Second, "[==============================] 100% 3000/2000 3000/s"},
	}
	for _, c := range cases {
		if got := barLine(c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("barLine(%d, %d, %s)\n got %q\nwant %q", c.done, c.total, c.elapsed, got, c.want)
		}
	}
}

// fakeClock advances only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTestProgress(tty bool) (*progress, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &progress{w: &buf, tty: tty, interval: 5 * time.Second, start: clock.t, now: clock.now}, &buf, clock
}

func TestProgressWithoutTerminalPrintsLinesEveryFewSeconds(t *testing.T) {
	p, buf, clock := newTestProgress(false)
	for i := range 100 { // 100 updates over 10 s
		p.Show("step " + string(rune('a'+i%26)))
		clock.advance(100 * time.Millisecond)
	}
	p.Finish("done")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// The first update, one 5 s later, the final line.
	if len(lines) != 3 || lines[2] != "done" || strings.Contains(buf.String(), "\r") {
		t.Fatalf("got %q", buf.String())
	}
}

func TestProgressOnTerminalRedrawsInPlace(t *testing.T) {
	p, buf, clock := newTestProgress(true)
	p.Show("a long first line")
	clock.advance(50 * time.Millisecond)
	p.Show("skipped: too soon")
	clock.advance(100 * time.Millisecond)
	p.Show("short")
	p.Finish("end")
	want := "\ra long first line" + "\rshort" + strings.Repeat(" ", len("a long first line")-len("short")) + "\rend  " + "\n"
	if buf.String() != want {
		t.Fatalf("got  %q\nwant %q", buf.String(), want)
	}
}
