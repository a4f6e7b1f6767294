package locate_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
)

var base = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// at is a fix of d1 at second s; lat tells the tiers apart (1 hot, 2 cold).
func at(s int, lat float64) fix.Fix {
	return fix.Fix{Device: "d1", TS: base.Add(time.Duration(s) * time.Second), Lat: lat, Lon: 8}
}

func fixesAt(lat float64, seconds ...int) []fix.Fix {
	out := make([]fix.Fix, len(seconds))
	for i, s := range seconds {
		out[i] = at(s, lat)
	}
	return out
}

// hotFake is the hot store's History over a sorted slice, paging with the
// shared cursor as redisstore does.
type hotFake struct {
	fakeStore
	fixes []fix.Fix
	err   error
	reads int
}

func (h *hotFake) History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error) {
	h.reads++
	if h.err != nil {
		return locate.Page{}, h.err
	}
	if limit < 1 || limit > 10000 {
		return locate.Page{}, errors.New("limit out of range")
	}
	start := from
	if cursor != "" {
		ts, err := locate.DecodeCursor(cursor)
		if err != nil {
			return locate.Page{}, err
		}
		start = time.UnixMilli(ts)
	}
	var page locate.Page
	for _, f := range h.fixes {
		if (!start.IsZero() && f.TS.Before(start)) || (!to.IsZero() && f.TS.After(to)) {
			continue
		}
		if len(page.Fixes) == limit {
			page.Next = locate.EncodeCursor(f.TS.UnixMilli())
			break
		}
		page.Fixes = append(page.Fixes, f)
	}
	return page, nil
}

// coldFake yields its sorted fixes in batches of two, and failAfter
// batches an error when set.
type coldFake struct {
	fixes     []fix.Fix
	failAfter int
	stopped   int
}

func (c *coldFake) Scan(ctx context.Context, tenant, device string, from, to time.Time) iter.Seq2[[]fix.Fix, error] {
	return func(yield func([]fix.Fix, error) bool) {
		defer func() { c.stopped++ }()
		var in []fix.Fix
		for _, f := range c.fixes {
			if (from.IsZero() || !f.TS.Before(from)) && (to.IsZero() || !f.TS.After(to)) {
				in = append(in, f)
			}
		}
		for i := 0; i < len(in); i += 2 {
			if c.failAfter > 0 && i/2 == c.failAfter {
				yield(nil, errors.New("minio: connection refused"))
				return
			}
			if !yield(in[i:min(i+2, len(in))], nil) {
				return
			}
		}
	}
}

// walk reads every page of the range with limit and returns the fixes and
// the cursors seen.
func walk(t *testing.T, s *locate.Service, from, to time.Time, limit int, cursor string) ([]fix.Fix, []string) {
	t.Helper()
	var all []fix.Fix
	var cursors []string
	for range 100 {
		page, err := s.History(context.Background(), "acme", "d1", from, to, limit, cursor)
		if err != nil {
			t.Fatalf("page after cursor %q: %v", cursor, err)
		}
		all = append(all, page.Fixes...)
		if page.Next == "" {
			return all, cursors
		}
		cursors = append(cursors, page.Next)
		cursor = page.Next
	}
	t.Fatal("more than 100 pages")
	return nil, nil
}

func seconds(fixes []fix.Fix) []int {
	out := make([]int, len(fixes))
	for i, f := range fixes {
		out[i] = int(f.TS.Sub(base) / time.Second)
	}
	return out
}

func TestHistoryOverBothTiers(t *testing.T) {
	cases := []struct {
		name      string
		hot, cold []fix.Fix
		from, to  time.Time
		limit     int
		cursor    string
		want      []int // seconds of the fixes returned, over all pages
		wantHot   []int // those that must come from the hot tier
	}{
		{name: "cold then hot", cold: fixesAt(2, 1, 2, 3), hot: fixesAt(1, 4, 5), limit: 2, want: []int{1, 2, 3, 4, 5}, wantHot: []int{4, 5}},
		{name: "same ts in both tiers: hot wins, once", cold: fixesAt(2, 1, 2, 3, 4), hot: fixesAt(1, 3, 4, 5), limit: 2,
			want: []int{1, 2, 3, 4, 5}, wantHot: []int{3, 4, 5}},
		{name: "boundary inside a page", cold: fixesAt(2, 1, 2, 3), hot: fixesAt(1, 3, 4, 5, 6), limit: 4, want: []int{1, 2, 3, 4, 5, 6}, wantHot: []int{3, 4, 5, 6}},
		{name: "empty hot", cold: fixesAt(2, 1, 2, 3), limit: 2, want: []int{1, 2, 3}},
		{name: "empty cold", hot: fixesAt(1, 1, 2, 3), limit: 2, want: []int{1, 2, 3}, wantHot: []int{1, 2, 3}},
		{name: "both empty", limit: 2},
		{name: "interleaved (an old import archived after newer hot fixes)", cold: fixesAt(2, 1, 3, 5), hot: fixesAt(1, 2, 4, 6), limit: 1,
			want: []int{1, 2, 3, 4, 5, 6}, wantHot: []int{2, 4, 6}},
		{name: "range cuts both tiers", cold: fixesAt(2, 1, 2, 3), hot: fixesAt(1, 4, 5, 6), limit: 10,
			from: base.Add(2 * time.Second), to: base.Add(5 * time.Second), want: []int{2, 3, 4, 5}, wantHot: []int{4, 5}},
		{name: "cursor at a cold fix crosses into hot", cold: fixesAt(2, 1, 2, 3), hot: fixesAt(1, 4, 5), limit: 2,
			cursor: locate.EncodeCursor(base.Add(3 * time.Second).UnixMilli()), want: []int{3, 4, 5}, wantHot: []int{4, 5}},
		{name: "cursor in the hot tier skips the archive", cold: fixesAt(2, 1, 2, 3), hot: fixesAt(1, 4, 5), limit: 2,
			cursor: locate.EncodeCursor(base.Add(5 * time.Second).UnixMilli()), want: []int{5}, wantHot: []int{5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := locate.New(&hotFake{fixes: tc.hot}).WithArchive(&coldFake{fixes: tc.cold})
			got, _ := walk(t, s, tc.from, tc.to, tc.limit, tc.cursor)
			if gs := seconds(got); !slices.Equal(gs, tc.want) && !(len(gs) == 0 && len(tc.want) == 0) {
				t.Fatalf("fixes at %v, want %v", gs, tc.want)
			}
			for _, f := range got {
				s := int(f.TS.Sub(base) / time.Second)
				if fromHot := f.Lat == 1; fromHot != slices.Contains(tc.wantHot, s) {
					t.Errorf("fix at %d from the hot tier: %v", s, fromHot)
				}
			}
			// Streaming the range gives the same fixes as paging it.
			stream, err := s.OpenHistory(context.Background(), "acme", "d1", tc.from, tc.to, tc.cursor)
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			var streamed []fix.Fix
			for f, ok := stream.Next(); ok; f, ok = stream.Next() {
				streamed = append(streamed, f)
			}
			if stream.Err() != nil || !slices.EqualFunc(streamed, got, func(a, b fix.Fix) bool { return a.TS.Equal(b.TS) && a.Lat == b.Lat }) {
				t.Fatalf("streamed %v (err %v), paged %v", seconds(streamed), stream.Err(), seconds(got))
			}
		})
	}
}

// TestHistoryCursorsAreTheNextFix: the cursor of a merged page is the ts of
// the first fix of the next page, in the hot store's format, so a cursor
// from before the archive tier was configured keeps working.
func TestHistoryCursorsAreTheNextFix(t *testing.T) {
	s := locate.New(&hotFake{fixes: fixesAt(1, 4, 5)}).WithArchive(&coldFake{fixes: fixesAt(2, 1, 2, 3)})
	_, cursors := walk(t, s, time.Time{}, time.Time{}, 2, "")
	want := []string{locate.EncodeCursor(base.Add(3 * time.Second).UnixMilli()), locate.EncodeCursor(base.Add(5 * time.Second).UnixMilli())}
	if !slices.Equal(cursors, want) {
		t.Fatalf("cursors %v, want %v", cursors, want)
	}
}

func TestHistoryOverBothTiersRefusals(t *testing.T) {
	from := base.Add(10 * time.Second)
	cases := []struct {
		name   string
		hot    *hotFake
		cold   *coldFake
		from   time.Time
		cursor string
		field  string
		part   string
	}{
		{name: "forged cursor", cursor: "forged", field: "cursor", part: "bad cursor"},
		{name: "cursor before from", from: from, cursor: locate.EncodeCursor(base.UnixMilli()), field: "cursor", part: "outside the queried range"},
		{name: "archive down", cold: &coldFake{fixes: fixesAt(2, 1, 2, 3, 4, 5), failAfter: 1}, part: "read archived history: minio: connection refused"},
		{name: "hot store down", hot: &hotFake{err: errors.New("redis: refused")}, part: "read hot history: redis: refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hot, cold := tc.hot, tc.cold
			if hot == nil {
				hot = &hotFake{fixes: fixesAt(1, 20)}
			}
			if cold == nil {
				cold = &coldFake{fixes: fixesAt(2, 1)}
			}
			s := locate.New(hot).WithArchive(cold)
			_, err := s.History(context.Background(), "acme", "d1", tc.from, time.Time{}, 10, tc.cursor)
			wantErr(t, err, tc.field, tc.part)
			// A stream fails when it opens, or on the read that fails.
			stream, err := s.OpenHistory(context.Background(), "acme", "d1", tc.from, time.Time{}, tc.cursor)
			if err == nil {
				for _, ok := stream.Next(); ok; _, ok = stream.Next() {
				}
				err = stream.Err()
				stream.Close()
			}
			wantErr(t, err, tc.field, tc.part)
		})
	}
}

// TestHistoryStreamReleasesTheArchive: a stream closed early stops the
// archive scan (its objects are closed).
func TestHistoryStreamReleasesTheArchive(t *testing.T) {
	cold := &coldFake{fixes: fixesAt(2, 1, 2, 3, 4, 5)}
	stream, err := locate.New(&hotFake{}).WithArchive(cold).OpenHistory(context.Background(), "acme", "d1", time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := stream.Next(); !ok || f.TS != base.Add(time.Second) {
		t.Fatalf("first fix %v %v", f, ok)
	}
	stream.Close()
	if cold.stopped != 1 {
		t.Fatalf("archive scan stopped %d times, want 1", cold.stopped)
	}
}

// TestHistoryWithoutArchive: no archive tier passes pages and cursors of
// the hot store through, as before there was one.
func TestHistoryWithoutArchive(t *testing.T) {
	hot := &hotFake{fixes: fixesAt(1, 1, 2, 3)}
	got, _ := walk(t, locate.New(hot).WithArchive(nil), time.Time{}, time.Time{}, 2, "")
	if !slices.Equal(seconds(got), []int{1, 2, 3}) || hot.reads != 2 {
		t.Fatalf("fixes %v in %d reads", seconds(got), hot.reads)
	}
}
