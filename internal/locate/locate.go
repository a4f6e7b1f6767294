// Package locate is the read side of the pack, the application service of
// position, nearby and track: a device's latest fix, the devices near a
// point, a device's history a page at a time. It applies the domain rules
// of a query (a valid device id, a time range in order, a cursor that fits
// it) and reads through a Store; bad input comes back as *fix.FieldError.
package locate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// ErrBadCursor is wrapped by Store.History when the cursor was not produced
// by History or does not fit the queried time range.
var ErrBadCursor = errors.New("bad cursor")

// Page is one page of a device's history.
type Page struct {
	Fixes []fix.Fix
	Next  string // opaque cursor of the next page; "" when done
}

// Hit is one device found near a point: the stored JSON of its latest fix
// (as fix.Fix.AppendJSON wrote it, passed through without decoding) and
// its distance from the point.
type Hit struct {
	JSON      []byte
	DistanceM float64
}

// Store reads the hot store.
type Store interface {
	Latest(ctx context.Context, tenant, device string) (fix.Fix, bool, error)
	LatestSince(ctx context.Context, tenant string, since time.Time, limit int) ([]json.RawMessage, bool, error)
	NearbyRaw(ctx context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]Hit, error)
	History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (Page, error)
}

// Service answers the read functions from a Store, and history from an
// Archive as well when one is set (WithArchive).
type Service struct {
	store   Store
	archive Archive
}

// New returns the read service over store.
func New(store Store) *Service { return &Service{store: store} }

// Latest returns device's latest fix; ok is false when it has none.
func (s *Service) Latest(ctx context.Context, tenant, device string) (f fix.Fix, ok bool, err error) {
	if err := fix.ValidateDevice("device", device); err != nil {
		return fix.Fix{}, false, err
	}
	f, ok, err = s.store.Latest(ctx, tenant, device)
	if err != nil {
		return fix.Fix{}, false, fmt.Errorf("read latest position: %w", err)
	}
	return f, ok, nil
}

// Fleet returns the latest fix (JSON, passed through) of every device whose
// newest fix is after since (every device when since is zero), newest first,
// at most limit; more is true when some were left out.
func (s *Service) Fleet(ctx context.Context, tenant string, since time.Time, limit int) (fixes []json.RawMessage, more bool, err error) {
	fixes, more, err = s.store.LatestSince(ctx, tenant, since, limit)
	if err != nil {
		return nil, false, fmt.Errorf("read latest positions: %w", err)
	}
	if fixes == nil {
		fixes = []json.RawMessage{}
	}
	return fixes, more, nil
}

// Nearby returns up to limit devices within radiusM metres of (lat, lon),
// nearest first.
func (s *Service) Nearby(ctx context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]Hit, error) {
	if radiusM <= 0 {
		return nil, &fix.FieldError{Field: "radius", Msg: "must be more than 0 metres"}
	}
	hits, err := s.store.NearbyRaw(ctx, tenant, lat, lon, radiusM, limit)
	if err != nil {
		return nil, fmt.Errorf("nearby search: %w", err)
	}
	return hits, nil
}

// History returns a page of device's fixes with from <= ts <= to (zero
// means unbounded), continuing at cursor when it is not empty, from both
// tiers when an archive is set (see WithArchive). Fixes is never nil.
func (s *Service) History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (Page, error) {
	if err := s.checkHistoryQuery(device, from, to); err != nil {
		return Page{}, err
	}
	var page Page
	var err error
	if s.archive != nil {
		page, err = s.historyOfTiers(ctx, tenant, device, from, to, limit, cursor)
	} else {
		page, err = s.store.History(ctx, tenant, device, from, to, limit, cursor)
	}
	if err != nil {
		return Page{}, historyError(err)
	}
	if page.Fixes == nil {
		page.Fixes = []fix.Fix{}
	}
	return page, nil
}
