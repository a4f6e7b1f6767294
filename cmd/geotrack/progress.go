package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a status line: redrawn in place with \r on a terminal, and
// printed as a new line every few seconds otherwise, so CI logs stay short
// yet show the command is alive.
type progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration // between lines when not a terminal
	start    time.Time
	now      func() time.Time

	mu    sync.Mutex
	last  time.Time
	width int // of the last drawn line, to blank leftovers on redraw
}

// ttyRedraw limits redraws on a terminal: faster is invisible.
const ttyRedraw = 100 * time.Millisecond

func newProgress(f *os.File) *progress {
	return &progress{w: f, tty: isTerminal(f), interval: 5 * time.Second, start: time.Now(), now: time.Now}
}

// isTerminal reports whether f is a character device (a terminal) and the
// terminal is not a dumb one that cannot return the carriage.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// Show draws line if enough time has passed since the last one.
func (p *progress) Show(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	gap := p.interval
	if p.tty {
		gap = ttyRedraw
	}
	if !p.last.IsZero() && now.Sub(p.last) < gap {
		return
	}
	p.last = now
	p.draw(line)
}

// Finish draws line unconditionally and ends it.
func (p *progress) Finish(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(line)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(line string) {
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := max(p.width-len(line), 0)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
	p.width = len(line)
}

// Elapsed is the time since the progress started.
func (p *progress) Elapsed() time.Duration { return p.now().Sub(p.start) }

// Bar shows done of total with the rate since start.
func (p *progress) Bar(done, total int) { p.Show(barLine(done, total, p.Elapsed())) }

// FinishBar is Bar, always drawn, ending the line.
func (p *progress) FinishBar(done, total int) { p.Finish(barLine(done, total, p.Elapsed())) }

const barWidth = 30

// barLine formats `[=====>    ] 42% 840/2000 1234/s`.
func barLine(done, total int, elapsed time.Duration) string {
	frac := 1.0
	if total > 0 {
		frac = min(max(float64(done)/float64(total), 0), 1)
	}
	filled := int(frac * barWidth)
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(strings.Repeat("=", filled))
	if filled < barWidth {
		b.WriteByte('>')
		b.WriteString(strings.Repeat(" ", barWidth-filled-1))
	}
	fmt.Fprintf(&b, "] %3d%% %d/%d %s", int(frac*100), done, total, rateString(done, elapsed))
	return b.String()
}

// rateString is n per second over elapsed, e.g. "1234/s".
func rateString(n int, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "-/s"
	}
	r := float64(n) / elapsed.Seconds()
	if r >= 100 {
		return fmt.Sprintf("%.0f/s", r)
	}
	return fmt.Sprintf("%.1f/s", r)
}
