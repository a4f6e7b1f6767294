package archive

import (
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/fix"
)

// scripted is an archive that yields one batch, then err (if any).
type scripted struct{ err error }

func (a scripted) Scan(context.Context, string, string, time.Time, time.Time) iter.Seq2[[]fix.Fix, error] {
	return func(yield func([]fix.Fix, error) bool) {
		if !yield([]fix.Fix{{Device: "d1"}}, nil) {
			return
		}
		if a.err != nil {
			yield(nil, a.err)
		}
	}
}

// TestTodayWithoutArchive: an outage of the archive reads as an empty
// rest for a range starting today (UTC, 10 minutes early), and fails any
// other; other errors always fail; an answering archive is always read.
func TestTodayWithoutArchive(t *testing.T) {
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	noon, late := day.Add(12*time.Hour), day.Add(24*time.Hour-5*time.Minute)
	outage := dependency.Unavailable("archive", errors.New("connection refused"))
	corrupt := errors.New("archive object k: not a parquet file")
	cases := []struct {
		name    string
		now     time.Time
		from    time.Time
		err     error
		wantErr error
	}{
		{"archive answers, unbounded", noon, time.Time{}, nil, nil},
		{"archive answers, today", noon, day.Add(time.Hour), nil, nil},
		{"down, unbounded range", noon, time.Time{}, outage, outage},
		{"down, from yesterday", noon, day.Add(-time.Minute), outage, outage},
		{"down, from the start of today", noon, day, outage, nil},
		{"down, from an hour ago", noon, day.Add(11 * time.Hour), outage, nil},
		{"down, minutes before midnight (an archiver's clock may be past it)", late, day.Add(time.Hour), outage, outage},
		{"down, from tomorrow's start, for a clock a little ahead", late, day.Add(24 * time.Hour), outage, nil},
		{"corrupt object today", noon, day.Add(time.Hour), corrupt, corrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := TodayWithoutArchive{Archive: scripted{err: c.err}, Now: func() time.Time { return c.now }}
			batches := 0
			var got error
			for b, err := range s.Scan(context.Background(), "acme", "d1", c.from, time.Time{}) {
				if err != nil {
					got = err
					break
				}
				batches += len(b)
			}
			if !errors.Is(got, c.wantErr) || (got == nil) != (c.wantErr == nil) || batches != 1 {
				t.Fatalf("scan: %d batches, error %v; want 1 batch and %v", batches, got, c.wantErr)
			}
		})
	}
}
