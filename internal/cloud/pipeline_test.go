package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/cloud"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
)

// fakeStore answers Save with a fixed result, counts calls and keeps the
// groups of the last one.
type fakeStore struct {
	res   intake.SaveResult
	err   error
	calls int
	got   []intake.Group
}

func (s *fakeStore) Save(ctx context.Context, tenant string, groups []intake.Group, now time.Time) (intake.SaveResult, error) {
	s.calls++
	s.got = groups
	return s.res, s.err
}

// fakeRelay counts the wake-ups of tenant acme.
type fakeRelay struct{ wakes int }

func (r *fakeRelay) Wake(tenant string) {
	if tenant == "acme" {
		r.wakes++
	}
}

func TestAcceptGroups(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a := fix.Fix{Device: "d1", TS: ts, Lat: 1, Lon: 2}
	b := fix.Fix{Device: "d1", TS: ts.Add(time.Second), Lat: 1, Lon: 2}
	groups := []intake.Group{{Source: "s", ID: "e1", TraceParent: "tp", Fixes: []fix.Fix{a, b}}}
	service := auth.Principal{Tenant: "acme", Role: auth.RoleService}
	cases := []struct {
		name       string
		p          auth.Principal
		groups     []intake.Group
		store      fakeStore
		status     int // of the error; 0 when none
		retryAfter bool
		accepted   int
		duplicates int
		tooOld     int     // fixes beyond retention, which also bring a hint
		conflicts  float64 // geotrack_ingest_duplicate_conflicts_total after the call
		woken      int     // relay wake-ups: one when anything was stored (and so announced)
	}{
		{name: "stored and announced", p: service, groups: groups,
			store:    fakeStore{res: intake.SaveResult{Accepted: 2, PerGroup: []intake.GroupResult{{Accepted: 2, Stored: []bool{true, true}}}}},
			accepted: 2, woken: 1},
		{name: "partly new", p: service, groups: groups,
			store:    fakeStore{res: intake.SaveResult{Accepted: 1, Duplicates: 1, PerGroup: []intake.GroupResult{{Accepted: 1, DupFixes: 1, Stored: []bool{false, true}}}}},
			accepted: 1, duplicates: 1, woken: 1},
		{name: "duplicate event stores nothing, wakes nothing", p: service, groups: groups,
			store:      fakeStore{res: intake.SaveResult{Duplicates: 2, PerGroup: []intake.GroupResult{{Duplicate: true, DupFixes: 2, Stored: []bool{false, false}}}}},
			duplicates: 2},
		{name: "duplicate id with other data is counted", p: service, groups: groups,
			store:      fakeStore{res: intake.SaveResult{Duplicates: 2, Conflicts: 1, PerGroup: []intake.GroupResult{{Duplicate: true, Conflict: true, DupFixes: 2, Stored: []bool{false, false}}}}},
			duplicates: 2, conflicts: 1},
		{name: "fixes beyond retention are too old, not accepted", p: service, groups: groups,
			store:    fakeStore{res: intake.SaveResult{Accepted: 1, TooOld: 1, PerGroup: []intake.GroupResult{{Accepted: 1, TooOld: 1, Stored: []bool{false, true}}}}},
			accepted: 1, tooOld: 1, woken: 1},
		{name: "nothing to store", p: service, groups: nil},
		{name: "device token for another device", p: auth.Principal{Tenant: "acme", Role: auth.RoleDevice, Device: "d2"}, groups: groups, status: http.StatusForbidden},
		{name: "store bug is retryable", p: service, groups: groups, store: fakeStore{err: errors.New("redis: bad reply")}, status: http.StatusInternalServerError},
		{name: "store outage is 503", p: service, groups: groups, store: fakeStore{err: dependency.Unavailable("redis", errors.New("connection refused"))},
			status: http.StatusServiceUnavailable, retryAfter: true},
		{name: "full event outbox is 503", p: service, groups: groups, store: fakeStore{err: fmt.Errorf("save: %w", intake.ErrOutboxFull)},
			status: http.StatusServiceUnavailable, retryAfter: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			relay := &fakeRelay{}
			conflicts := cloud.NewConflictCounter(metrics.NewRegistry())
			pl := &cloud.Pipeline{Store: &tc.store, Relay: relay, Source: "urn:test", Now: func() time.Time { return ts.Add(time.Minute) }, Conflicts: conflicts}
			sum, err := pl.AcceptGroups(context.Background(), tc.p, tc.groups, nil)
			if tc.status != 0 {
				resp := httpkit.FromError(err)
				if resp.StatusCode != tc.status {
					t.Fatalf("error %v maps to %d, want %d", err, resp.StatusCode, tc.status)
				}
				if got := resp.Header.Get("Retry-After") != ""; got != tc.retryAfter {
					t.Fatalf("error %v: Retry-After %q", err, resp.Header.Get("Retry-After"))
				}
				if tc.status == http.StatusForbidden && tc.store.calls != 0 {
					t.Fatal("stored for a forbidden device")
				}
				if relay.wakes != 0 {
					t.Fatalf("relay woken %d times after a failure", relay.wakes)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Accepted != tc.accepted || sum.Duplicates != tc.duplicates || sum.TooOld != tc.tooOld || sum.Rejected == nil {
				t.Fatalf("summary %+v", sum)
			}
			if hinted := strings.Contains(sum.Hint, "HISTORY_RETENTION"); hinted != (tc.tooOld > 0) {
				t.Fatalf("hint %q with %d too old", sum.Hint, tc.tooOld)
			}
			if got := conflicts.Value(); got != tc.conflicts {
				t.Fatalf("conflicts counted %g, want %g", got, tc.conflicts)
			}
			if relay.wakes != tc.woken {
				t.Fatalf("relay woken %d times, want %d", relay.wakes, tc.woken)
			}
		})
	}
}

// TestAnnounce: with a relay every group of a request shares one Announce
// (one event per request) carrying the request's first traceparent; without
// one nothing is announced, so the outbox cannot grow without a relay. The
// caller's groups are left as they were.
func TestAnnounce(t *testing.T) {
	now := time.Now()
	groups := []intake.Group{
		{Source: "/gw", ID: "e1", Fixes: []fix.Fix{{Device: "d1", TS: now.Add(-time.Minute), Lat: 1, Lon: 1}}},
		{Source: "/gw", ID: "e2", TraceParent: "00-trace-01", Fixes: []fix.Fix{{Device: "d1", TS: now.Add(-time.Second), Lat: 1, Lon: 1}}},
	}
	principal := auth.Principal{Tenant: "acme", Role: auth.RoleService}
	stored := intake.SaveResult{Accepted: 2, PerGroup: make([]intake.GroupResult, 2)}
	for _, withRelay := range []bool{false, true} {
		t.Run(fmt.Sprintf("relay=%v", withRelay), func(t *testing.T) {
			store := &fakeStore{res: stored}
			pl := &cloud.Pipeline{Store: store, Source: "urn:test"}
			if withRelay {
				pl.Relay = &fakeRelay{}
			}
			if _, err := pl.AcceptGroups(context.Background(), principal, groups, nil); err != nil {
				t.Fatalf("AcceptGroups: %v", err)
			}
			if len(store.got) != len(groups) {
				t.Fatalf("store got %d groups, want %d", len(store.got), len(groups))
			}
			for i, g := range store.got {
				switch {
				case !withRelay && g.Announce != nil:
					t.Errorf("group %d announced without a relay: %+v", i, g.Announce)
				case withRelay && (g.Announce == nil || g.Announce != store.got[0].Announce):
					t.Errorf("group %d: announce %+v; want one shared by the request", i, g.Announce)
				case withRelay && *g.Announce != (intake.Announce{Type: events.TypeLocationUpdated, Source: "urn:test", TraceParent: "00-trace-01"}):
					t.Errorf("announce %+v", *g.Announce)
				}
				if g.Source != groups[i].Source || g.ID != groups[i].ID || len(g.Fixes) != len(groups[i].Fixes) {
					t.Errorf("group %d stored as %+v, want %+v", i, g, groups[i])
				}
			}
			for i, g := range groups {
				if g.Announce != nil {
					t.Errorf("caller's group %d changed: %+v", i, g.Announce)
				}
			}
		})
	}
}
