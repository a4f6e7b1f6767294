package archive

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// askedArchive records whether it was asked.
type askedArchive struct{ asked int }

func (a *askedArchive) Scan(context.Context, string, string, time.Time, time.Time) iter.Seq2[[]fix.Fix, error] {
	a.asked++
	return func(func([]fix.Fix, error) bool) {}
}

func TestSkipTodayAsksTheArchiveOnlyBeforeToday(t *testing.T) {
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		now  time.Time
		from time.Time
		ask  bool
	}{
		{"unbounded range", day.Add(12 * time.Hour), time.Time{}, true},
		{"from yesterday", day.Add(12 * time.Hour), day.Add(-time.Minute), true},
		{"from the start of today", day.Add(12 * time.Hour), day, false},
		{"from an hour ago", day.Add(12 * time.Hour), day.Add(11 * time.Hour), false},
		{"today, minutes before midnight (an archiver's clock may be past it)", day.Add(24*time.Hour - 5*time.Minute), day.Add(time.Hour), true},
		{"tomorrow already, for a clock a little ahead", day.Add(24*time.Hour - 5*time.Minute), day.Add(24 * time.Hour), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inner := &askedArchive{}
			s := SkipToday{Archive: inner, Now: func() time.Time { return c.now }}
			for range s.Scan(context.Background(), "acme", "d1", c.from, time.Time{}) {
			}
			if got := inner.asked == 1; got != c.ask {
				t.Fatalf("archive asked %v, want %v", got, c.ask)
			}
		})
	}
}
