package archive

import (
	"context"
	"iter"
	"time"

	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
)

// clockSkew is how far ahead of a reader the archiver's clock may be: the
// reader's "today" starts that much early.
const clockSkew = 10 * time.Minute

// TodayWithoutArchive is the archive as the readers (track, trips) ask it:
// for a range starting in the current UTC day an archive that is down
// (dependency outage) reads as empty, so the read answers from the hot
// store alone; any earlier start fails with the archive (503). No pass
// moves today's fixes (Cutoff, whatever HOT_RETENTION ≥ 0): they are all
// in the hot store. While the archive answers it is read as always.
type TodayWithoutArchive struct {
	Archive locate.Archive
	Now     func() time.Time // nil: time.Now
}

// Scan implements locate.Archive.
func (s TodayWithoutArchive) Scan(ctx context.Context, tenant, device string, from, to time.Time) iter.Seq2[[]fix.Fix, error] {
	scan := s.Archive.Scan(ctx, tenant, device, from, to)
	if !s.today(from) {
		return scan
	}
	return func(yield func([]fix.Fix, error) bool) {
		for batch, err := range scan {
			if _, outage := dependency.As(err); outage {
				return // today's fixes are all in the hot store
			}
			if !yield(batch, err) {
				return
			}
		}
	}
}

// today reports whether from is in the current UTC day (clockSkew early).
func (s TodayWithoutArchive) today(from time.Time) bool {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return !from.IsZero() && !from.Before(Day(now().Add(clockSkew).UnixMilli()))
}
