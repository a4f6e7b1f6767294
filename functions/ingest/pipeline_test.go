package ingest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/respond"
)

// fakeStore records the groups it was given and answers res or err.
type fakeStore struct {
	got []redisstore.Group
	res redisstore.SaveResult
	err error
}

func (s *fakeStore) Save(_ context.Context, _ string, groups []redisstore.Group, _ time.Time) (redisstore.SaveResult, error) {
	s.got = groups
	return s.res, s.err
}

type fakeRelay struct{ wakes int }

func (r *fakeRelay) Wake(tenant string) {
	if tenant == "acme" {
		r.wakes++
	}
}

func TestPipelineAnnouncesThroughTheOutbox(t *testing.T) {
	now := time.Now()
	groups := []intake.Group{
		{Source: "/gw", ID: "e1", Fixes: []fix.Fix{{Device: "d1", TS: now.Add(-time.Minute), Lat: 1, Lon: 1}}},
		{Source: "/gw", ID: "e2", TraceParent: "00-trace-01", Fixes: []fix.Fix{{Device: "d1", TS: now.Add(-time.Second), Lat: 1, Lon: 1}}},
	}
	principal := auth.Principal{Tenant: "acme", Role: auth.RoleService}
	stored := redisstore.SaveResult{Accepted: 2, PerGroup: make([]redisstore.GroupResult, 2)}
	tests := []struct {
		name      string
		relay     bool
		res       redisstore.SaveResult
		err       error
		announce  bool
		wakes     int
		errStatus int // 0: no error
	}{
		{name: "no sink: nothing announced", res: stored},
		{name: "stored: announced, relay woken", relay: true, res: stored, announce: true, wakes: 1},
		{name: "all duplicates: relay not woken", relay: true, res: redisstore.SaveResult{Duplicates: 2, PerGroup: make([]redisstore.GroupResult, 2)}, announce: true},
		{name: "outbox full: 503", relay: true, err: fmt.Errorf("save: %w", redisstore.ErrOutboxFull), announce: true, errStatus: http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &fakeStore{res: tc.res, err: tc.err}
			relay := &fakeRelay{}
			pl := &Pipeline{Store: store, Source: "urn:test"}
			if tc.relay {
				pl.Relay = relay
			}
			_, err := pl.AcceptGroups(context.Background(), principal, groups, nil)
			if tc.errStatus == 0 && err != nil {
				t.Fatalf("AcceptGroups: %v", err)
			}
			if tc.errStatus != 0 {
				if got := respond.FromError(err).StatusCode; got != tc.errStatus {
					t.Fatalf("error %v answers %d, want %d", err, got, tc.errStatus)
				}
			}
			if len(store.got) != 2 {
				t.Fatalf("store got %d groups", len(store.got))
			}
			for i, g := range store.got {
				switch {
				case !tc.announce && g.Announce != nil:
					t.Errorf("group %d announced without a sink: %+v", i, g.Announce)
				case tc.announce && (g.Announce == nil || g.Announce != store.got[0].Announce):
					t.Errorf("group %d: announce %+v; want one shared by the request", i, g.Announce)
				case tc.announce && (g.Announce.Type != events.TypeLocationUpdated || g.Announce.Source != "urn:test" || g.Announce.TraceParent != "00-trace-01"):
					t.Errorf("announce %+v", g.Announce)
				}
			}
			if relay.wakes != tc.wakes {
				t.Errorf("relay woken %d times, want %d", relay.wakes, tc.wakes)
			}
		})
	}
}
