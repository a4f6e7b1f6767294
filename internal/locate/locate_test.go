package locate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
)

// fakeStore answers from fields and records what it was asked.
type fakeStore struct {
	latest fix.Fix
	found  bool
	hits   []locate.Hit
	fleet  []json.RawMessage
	page   locate.Page
	err    error
	calls  int
}

func (s *fakeStore) Latest(ctx context.Context, tenant, device string) (fix.Fix, bool, error) {
	s.calls++
	return s.latest, s.found, s.err
}

func (s *fakeStore) LatestSince(ctx context.Context, tenant string, since time.Time, limit int) ([]json.RawMessage, bool, error) {
	s.calls++
	return s.fleet, false, s.err
}

func (s *fakeStore) NearbyRaw(ctx context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]locate.Hit, error) {
	s.calls++
	return s.hits, s.err
}

func (s *fakeStore) History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error) {
	s.calls++
	return s.page, s.err
}

// wantErr checks err against a field error naming field, or a message part
// of another error; "" wants no error.
func wantErr(t *testing.T, err error, field, part string) {
	t.Helper()
	if field == "" && part == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %s%s", field, part)
	}
	var fe *fix.FieldError
	if field != "" && (!errors.As(err, &fe) || fe.Field != field) {
		t.Fatalf("error %v (%T), want a FieldError on %s", err, err, field)
	}
	if !strings.Contains(err.Error(), part) {
		t.Fatalf("error %q does not contain %q", err, part)
	}
}

func TestLatest(t *testing.T) {
	stored := fix.Fix{Device: "d1", Lat: 1, Lon: 2}
	cases := []struct {
		name      string
		device    string
		store     fakeStore
		wantOK    bool
		field     string
		part      string
		storeUsed bool
	}{
		{name: "found", device: "d1", store: fakeStore{latest: stored, found: true}, wantOK: true, storeUsed: true},
		{name: "not found", device: "d1", store: fakeStore{}, storeUsed: true},
		{name: "missing device", device: "", field: "device", part: "required"},
		{name: "bad device", device: "a b", field: "device", part: "must match"},
		{name: "store down", device: "d1", store: fakeStore{err: errors.New("redis: refused")}, part: "read latest position: redis: refused", storeUsed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := locate.New(&tc.store)
			f, ok, err := s.Latest(context.Background(), "acme", tc.device)
			wantErr(t, err, tc.field, tc.part)
			if ok != tc.wantOK || (ok && f.Device != stored.Device) {
				t.Fatalf("got %+v, %v", f, ok)
			}
			if (tc.store.calls > 0) != tc.storeUsed {
				t.Fatalf("store called %d times", tc.store.calls)
			}
		})
	}
}

func TestNearby(t *testing.T) {
	hits := []locate.Hit{{JSON: []byte(`{"device":"d1"}`), DistanceM: 12.5}}
	cases := []struct {
		name   string
		radius float64
		store  fakeStore
		want   int
		field  string
		part   string
	}{
		{name: "hits", radius: 100, store: fakeStore{hits: hits}, want: 1},
		{name: "none", radius: 100, store: fakeStore{}},
		{name: "zero radius", radius: 0, field: "radius", part: "more than 0"},
		{name: "negative radius", radius: -1, field: "radius", part: "more than 0"},
		{name: "store down", radius: 100, store: fakeStore{err: errors.New("timeout")}, part: "nearby search: timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := locate.New(&tc.store).Nearby(context.Background(), "acme", 47, 8, tc.radius, 10)
			wantErr(t, err, tc.field, tc.part)
			if len(got) != tc.want {
				t.Fatalf("%d hits, want %d", len(got), tc.want)
			}
			if tc.field != "" && tc.store.calls != 0 {
				t.Fatal("store called for an invalid query")
			}
		})
	}
}

func TestFleet(t *testing.T) {
	fleet := []json.RawMessage{json.RawMessage(`{"device":"d1"}`)}
	cases := []struct {
		name  string
		store fakeStore
		want  int
		part  string
	}{
		{name: "devices", store: fakeStore{fleet: fleet}, want: 1},
		{name: "none is an empty list", store: fakeStore{}},
		{name: "store down", store: fakeStore{err: errors.New("timeout")}, part: "read latest positions: timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := locate.New(&tc.store).Fleet(context.Background(), "acme", time.Time{}, 10)
			wantErr(t, err, "", tc.part)
			if len(got) != tc.want || (err == nil && got == nil) {
				t.Fatalf("%v, want %d fixes and never nil", got, tc.want)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		device   string
		from, to time.Time
		store    fakeStore
		want     int
		next     string
		field    string
		part     string
	}{
		{name: "page", device: "d1", store: fakeStore{page: locate.Page{Fixes: []fix.Fix{{Device: "d1"}}, Next: "c"}}, want: 1, next: "c"},
		{name: "empty page has no nil fixes", device: "d1", store: fakeStore{}},
		{name: "equal bounds", device: "d1", from: t0, to: t0, store: fakeStore{}},
		{name: "to before from", device: "d1", from: t0, to: t0.Add(-time.Second), field: "to", part: "must not be before from"},
		{name: "missing device", device: "", field: "device", part: "required"},
		{name: "bad cursor", device: "d1", store: fakeStore{err: fmt.Errorf("redisstore: history: %w: not base64url", locate.ErrBadCursor)}, field: "cursor", part: "bad cursor: not base64url"},
		{name: "store down", device: "d1", store: fakeStore{err: errors.New("redis: refused")}, part: "read history: redis: refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, err := locate.New(&tc.store).History(context.Background(), "acme", tc.device, tc.from, tc.to, 10, "")
			wantErr(t, err, tc.field, tc.part)
			if err != nil {
				return
			}
			if page.Fixes == nil || len(page.Fixes) != tc.want || page.Next != tc.next {
				t.Fatalf("page %+v, want %d fixes and next %q", page, tc.want, tc.next)
			}
		})
	}
}
