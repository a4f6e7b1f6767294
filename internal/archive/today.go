package archive

import (
	"context"
	"iter"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
)

// clockSkew is how far ahead of a reader the archiver's clock may be: the
// reader's "today" starts that much early.
const clockSkew = 10 * time.Minute

// SkipToday is the archive as the readers (track, trips) ask it: a read
// whose range starts in the current UTC day does not touch the store, so
// it answers while the store is down. No pass moves today's fixes
// (Cutoff, whatever HOT_RETENTION ≥ 0): they are all in the hot store.
// Any earlier start reads the archive, and fails with it.
type SkipToday struct {
	Archive locate.Archive
	Now     func() time.Time // nil: time.Now
}

// Scan implements locate.Archive.
func (s SkipToday) Scan(ctx context.Context, tenant, device string, from, to time.Time) iter.Seq2[[]fix.Fix, error] {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if !from.IsZero() && !from.Before(Day(now().Add(clockSkew).UnixMilli())) {
		return func(func([]fix.Fix, error) bool) {}
	}
	return s.Archive.Scan(ctx, tenant, device, from, to)
}
