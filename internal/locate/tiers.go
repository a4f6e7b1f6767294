package locate

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/fix"
)

// Archive reads the cold tier: history moved out of the hot store to object
// storage (internal/archive.ColdStore).
type Archive interface {
	// Scan yields device's archived fixes with from <= ts <= to (zero:
	// unbounded), in ts order, each ts at most once, in batches. It stops at
	// the first error, which it yields; a consumer that stops early releases
	// what the scan holds.
	Scan(ctx context.Context, tenant, device string, from, to time.Time) iter.Seq2[[]fix.Fix, error]
}

// WithArchive makes the service read history from both tiers: the hot
// store and archive. A nil archive (no archive tier configured) keeps
// history to the hot store alone.
//
// Merge rule: the tiers are merged by ts and, when both hold a fix with the
// same ts (the archiver has written and verified an object but not yet
// trimmed the hot store, or a run was interrupted between the two), the hot
// one is returned and the archived one skipped. So a range spanning both
// tiers has no gap (a fix is in one tier or the other at every moment of
// the archiver's write-verify-trim) and no duplicate (one fix per device and
// ts ms, in whichever tier).
func (s *Service) WithArchive(archive Archive) *Service {
	s.archive = archive
	return s
}

// maxHotPage is the largest page the hot store serves
// (redisstore.MaxLimit).
const maxHotPage = 10000

// MSRange is [from, to] in whole ms as stored, zero bounds open
// (math.MinInt64, math.MaxInt64): from rounds up and to down, so a sub-ms
// bound does not take in the fix just beyond it (negative times truncate
// towards zero). Every tier filters history by it.
func MSRange(from, to time.Time) (minMS, maxMS int64) {
	minMS, maxMS = math.MinInt64, math.MaxInt64
	if !from.IsZero() {
		minMS = from.UnixMilli()
		if from.Sub(time.UnixMilli(minMS)) > 0 {
			minMS++
		}
	}
	if !to.IsZero() {
		maxMS = to.UnixMilli()
		if to.Sub(time.UnixMilli(maxMS)) < 0 {
			maxMS--
		}
	}
	return minMS, maxMS
}

// OpenHistory returns device's fixes with from <= ts <= to (zero means
// unbounded), starting at cursor when it is not empty, one at a time in ts
// order from both tiers, reading a page at a time: what a long export
// streams. The first page is read before it returns, so a bad cursor or a
// store that is down is an error here rather than in the middle of the
// stream. Close the stream when done.
func (s *Service) OpenHistory(ctx context.Context, tenant, device string, from, to time.Time, cursor string) (*HistoryStream, error) {
	if err := s.checkHistoryQuery(device, from, to); err != nil {
		return nil, err
	}
	h, err := s.openStream(ctx, tenant, device, from, to, cursor, maxHotPage)
	if err == nil {
		// A stream is read to its end: the next hot page is read while
		// this one is being used.
		h.hotFeed = startHotFeed(ctx, s.store, tenant, device, h.from, to)
		if _, ok := h.Peek(); !ok && h.Err() != nil {
			err = h.Err()
			h.Close()
		}
	}
	if err != nil {
		return nil, historyError(err)
	}
	return h, nil
}

// historyError is how a failed history read is reported: bad input as
// the field error it is, anything else as a failure to read.
func historyError(err error) error {
	var fe *fix.FieldError
	switch {
	case errors.Is(err, ErrBadCursor):
		return &fix.FieldError{Field: "cursor", Msg: err.Error()}
	case errors.As(err, &fe):
		return fe
	}
	return fmt.Errorf("read history: %w", err)
}

func (s *Service) checkHistoryQuery(device string, from, to time.Time) error {
	if err := fix.ValidateDevice("device", device); err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return &fix.FieldError{Field: "to", Msg: "must not be before from"}
	}
	return nil
}

func (s *Service) openStream(ctx context.Context, tenant, device string, from, to time.Time, cursor string, hotPage int) (*HistoryStream, error) {
	minMS, maxMS := MSRange(from, to)
	if minMS > maxMS {
		return nil, &fix.FieldError{Field: "to", Msg: "must not be before from"}
	}
	h := &HistoryStream{ctx: ctx, store: s.store, tenant: tenant, device: device, to: to, hotPage: hotPage}
	start := from
	if cursor != "" {
		ts, err := DecodeCursor(cursor)
		if err == nil && (ts < minMS || ts > maxMS) {
			err = fmt.Errorf("%w: points outside the queried range", ErrBadCursor)
		}
		if err != nil {
			return nil, err
		}
		start = time.UnixMilli(ts).UTC()
	}
	h.from = start
	if s.archive != nil {
		h.cold.feed = startColdFeed(ctx, s.archive, tenant, device, start, to)
	} else {
		h.cold.done = true
	}
	return h, nil
}

// coldReadAhead is how many archived batches are read ahead of the
// consumer: the archive is decoded on one core while the export is encoded
// on another.
const coldReadAhead = 2

// coldFeed runs an archive scan in its own goroutine, a few batches ahead.
type coldFeed struct {
	batches chan coldBatch
	cancel  context.CancelFunc
	done    chan struct{}
}

type coldBatch struct {
	fixes []fix.Fix
	err   error
}

func startColdFeed(ctx context.Context, archive Archive, tenant, device string, from, to time.Time) *coldFeed {
	ctx, cancel := context.WithCancel(ctx)
	f := &coldFeed{batches: make(chan coldBatch, coldReadAhead), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer close(f.batches)
		for fixes, err := range archive.Scan(ctx, tenant, device, from, to) {
			select {
			case f.batches <- coldBatch{fixes, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return f
}

// next returns the next batch; ok is false at the end.
func (f *coldFeed) next() (b coldBatch, ok bool) {
	b, ok = <-f.batches
	return b, ok
}

// stop ends the scan and waits until it has released what it held.
func (f *coldFeed) stop() {
	f.cancel()
	for range f.batches { // unblock a pending send
	}
	<-f.done
}

// hotFeed reads the hot store's pages in its own goroutine, one ahead.
type hotFeed struct {
	pages  chan hotPage
	cancel context.CancelFunc
	done   chan struct{}
}

type hotPage struct {
	page Page
	err  error
}

func startHotFeed(ctx context.Context, store Store, tenant, device string, from, to time.Time) *hotFeed {
	ctx, cancel := context.WithCancel(ctx)
	f := &hotFeed{pages: make(chan hotPage, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer close(f.pages)
		cursor := ""
		for {
			page, err := store.History(ctx, tenant, device, from, to, maxHotPage, cursor)
			select {
			case f.pages <- hotPage{page, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || page.Next == "" {
				return
			}
			cursor = page.Next
		}
	}()
	return f
}

// stop ends the reads and waits for the goroutine.
func (f *hotFeed) stop() {
	f.cancel()
	for range f.pages { // unblock a pending send
	}
	<-f.done
}

// tierBuffer is what a HistoryStream has read of one tier and not returned.
type tierBuffer struct {
	fixes []fix.Fix
	i     int
	done  bool      // nothing more to read from the tier
	feed  *coldFeed // the archive's reader; nil for the hot tier
}

func (b *tierBuffer) head() (fix.Fix, bool) {
	if b.i < len(b.fixes) {
		return b.fixes[b.i], true
	}
	return fix.Fix{}, false
}

// HistoryStream is the merged history of one device (Service.OpenHistory).
// It holds one page of each tier at most. Not safe for concurrent use.
type HistoryStream struct {
	ctx            context.Context
	store          Store
	tenant, device string
	from, to       time.Time
	hotPage        int
	hotFeed        *hotFeed // pages read ahead (OpenHistory); nil: read when needed
	hot, cold      tierBuffer
	hotCursor      string
	err            error
}

// fillHot reads the next hot page when the buffered one is used up.
func (h *HistoryStream) fillHot() {
	for h.err == nil && !h.hot.done && h.hot.i >= len(h.hot.fixes) {
		if h.hotFeed != nil {
			p, ok := <-h.hotFeed.pages
			switch {
			case !ok:
				h.hot.done = true
			case p.err != nil:
				h.err = fmt.Errorf("read hot history: %w", p.err)
			default:
				h.hot.fixes, h.hot.i = p.page.Fixes, 0
				h.hot.done = p.page.Next == ""
			}
			continue
		}
		page, err := h.store.History(h.ctx, h.tenant, h.device, h.from, h.to, h.hotPage, h.hotCursor)
		if err != nil {
			h.err = fmt.Errorf("read hot history: %w", err)
			return
		}
		h.hot.fixes, h.hot.i = page.Fixes, 0
		h.hotCursor = page.Next
		h.hot.done = page.Next == ""
	}
}

// fillCold reads the next archived batch when the buffered one is used up.
func (h *HistoryStream) fillCold() {
	for h.err == nil && !h.cold.done && h.cold.i >= len(h.cold.fixes) {
		if h.cold.feed == nil { // closed
			h.cold.done = true
			return
		}
		b, ok := h.cold.feed.next()
		switch {
		case !ok:
			h.cold.done = true
		case b.err != nil:
			h.err = fmt.Errorf("read archived history: %w", b.err)
			if de, outage := dependency.As(b.err); outage {
				// The 503's message is the outage's: say what was being read.
				h.err = &dependency.Error{Name: de.Name, Err: h.err}
			}
		default:
			h.cold.fixes, h.cold.i = b.fixes, 0
		}
	}
}

// Peek returns the fix Next would return, without taking it.
func (h *HistoryStream) Peek() (fix.Fix, bool) {
	for {
		h.fillHot()
		h.fillCold()
		if h.err != nil {
			return fix.Fix{}, false
		}
		hot, hotOK := h.hot.head()
		cold, coldOK := h.cold.head()
		switch {
		case !coldOK:
			return hot, hotOK
		case !hotOK:
			return cold, true
		}
		hotMS, coldMS := hot.TS.UnixMilli(), cold.TS.UnixMilli()
		switch {
		case hotMS == coldMS:
			h.cold.i++ // the same fix in both tiers: hot wins
		case coldMS < hotMS:
			return cold, true
		default:
			return hot, true
		}
	}
}

// Next returns the next fix in ts order; false at the end or on an error
// (see Err).
func (h *HistoryStream) Next() (fix.Fix, bool) {
	f, ok := h.Peek()
	if !ok {
		return fix.Fix{}, false
	}
	if hot, hotOK := h.hot.head(); hotOK && hot.TS.Equal(f.TS) {
		h.hot.i++
	} else {
		h.cold.i++
	}
	return f, true
}

// Err is the error that ended the stream, if any.
func (h *HistoryStream) Err() error { return h.err }

// Close releases the archive reader. It is safe to call more than once.
func (h *HistoryStream) Close() {
	if h.hotFeed != nil {
		h.hotFeed.stop()
		h.hotFeed = nil
		h.hot.done = true
	}
	if h.cold.feed != nil {
		h.cold.feed.stop()
		h.cold.feed = nil
	}
}

// historyOfTiers is one page of the merged history: up to limit fixes and
// the cursor of the fix after them.
func (s *Service) historyOfTiers(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (Page, error) {
	h, err := s.openStream(ctx, tenant, device, from, to, cursor, min(limit+1, maxHotPage))
	if err != nil {
		return Page{}, err
	}
	defer h.Close()
	page := Page{Fixes: make([]fix.Fix, 0, min(limit, 1024))}
	for len(page.Fixes) < limit {
		f, ok := h.Next()
		if !ok {
			break
		}
		page.Fixes = append(page.Fixes, f)
	}
	// Only whether there is one more fix, and its ts, are needed now.
	h.hotPage = 1
	if next, ok := h.Peek(); ok {
		page.Next = EncodeCursor(next.TS.UnixMilli())
	}
	if h.err != nil {
		return Page{}, h.err
	}
	return page, nil
}
