package cloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/cloud"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
)

// fakeStore answers Save with a fixed result and counts calls.
type fakeStore struct {
	res   intake.SaveResult
	err   error
	calls int
}

func (s *fakeStore) Save(ctx context.Context, tenant string, groups []intake.Group, now time.Time) (intake.SaveResult, error) {
	s.calls++
	return s.res, s.err
}

// fakeSink keeps the events sent.
type fakeSink struct{ sent []event.Event }

func (s *fakeSink) Send(ctx context.Context, e event.Event) error {
	s.sent = append(s.sent, e)
	return nil
}
func (s *fakeSink) Close() error { return nil }

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
		accepted   int
		duplicates int
		tooOld     int     // fixes beyond retention, which also bring a hint
		conflicts  float64 // geotrack_ingest_duplicate_conflicts_total after the call
		emitted    int     // fixes in the one location.updated event; 0: no event
	}{
		{name: "stored and emitted", p: service, groups: groups,
			store:    fakeStore{res: intake.SaveResult{Accepted: 2, PerGroup: []intake.GroupResult{{Accepted: 2, Stored: []bool{true, true}}}}},
			accepted: 2, emitted: 2},
		{name: "only newly stored fixes are emitted", p: service, groups: groups,
			store:    fakeStore{res: intake.SaveResult{Accepted: 1, Duplicates: 1, PerGroup: []intake.GroupResult{{Accepted: 1, DupFixes: 1, Stored: []bool{false, true}}}}},
			accepted: 1, duplicates: 1, emitted: 1},
		{name: "duplicate event emits nothing", p: service, groups: groups,
			store:      fakeStore{res: intake.SaveResult{Duplicates: 2, PerGroup: []intake.GroupResult{{Duplicate: true, DupFixes: 2, Stored: []bool{false, false}}}}},
			duplicates: 2},
		{name: "duplicate id with other data is counted", p: service, groups: groups,
			store:      fakeStore{res: intake.SaveResult{Duplicates: 2, Conflicts: 1, PerGroup: []intake.GroupResult{{Duplicate: true, Conflict: true, DupFixes: 2, Stored: []bool{false, false}}}}},
			duplicates: 2, conflicts: 1},
		{name: "fixes beyond retention are too old, not accepted", p: service, groups: groups,
			store:    fakeStore{res: intake.SaveResult{Accepted: 1, TooOld: 1, PerGroup: []intake.GroupResult{{Accepted: 1, TooOld: 1, Stored: []bool{false, true}}}}},
			accepted: 1, tooOld: 1, emitted: 1},
		{name: "nothing to store", p: service, groups: nil},
		{name: "device token for another device", p: auth.Principal{Tenant: "acme", Role: auth.RoleDevice, Device: "d2"}, groups: groups, status: http.StatusForbidden},
		{name: "store bug is retryable", p: service, groups: groups, store: fakeStore{err: errors.New("redis: bad reply")}, status: http.StatusInternalServerError},
		{name: "store outage is 503", p: service, groups: groups, store: fakeStore{err: dependency.Unavailable("redis", errors.New("connection refused"))}, status: http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &fakeSink{}
			conflicts := cloud.NewConflictCounter(metrics.NewRegistry())
			pl := &cloud.Pipeline{Store: &tc.store, Sink: sink, Source: "urn:test", Now: func() time.Time { return ts.Add(time.Minute) }, Conflicts: conflicts}
			sum, err := pl.AcceptGroups(context.Background(), tc.p, tc.groups, nil)
			if tc.status != 0 {
				if s := httpkit.StatusOf(err); s != tc.status {
					t.Fatalf("error %v maps to %d, want %d", err, s, tc.status)
				}
				if tc.status == http.StatusForbidden && tc.store.calls != 0 {
					t.Fatal("stored for a forbidden device")
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
			if tc.emitted == 0 {
				if len(sink.sent) != 0 {
					t.Fatalf("%d events emitted, want none", len(sink.sent))
				}
				return
			}
			if len(sink.sent) != 1 {
				t.Fatalf("%d events emitted, want 1", len(sink.sent))
			}
			e := sink.sent[0]
			var fixes []fix.Fix
			if err := json.Unmarshal(e.Data(), &fixes); err != nil {
				t.Fatal(err)
			}
			if e.Type() != events.TypeLocationUpdated || e.Subject() != "d1" || len(fixes) != tc.emitted || e.Extensions()[events.ExtTenant] != "acme" {
				t.Fatalf("event %s subject %q tenant %v with %d fixes", e.Type(), e.Subject(), e.Extensions()[events.ExtTenant], len(fixes))
			}
			if !fixes[len(fixes)-1].TS.Equal(b.TS) || (tc.emitted == 1 && !fixes[0].TS.Equal(b.TS)) {
				t.Fatalf("emitted %+v, want the stored fixes only", fixes)
			}
		})
	}
}
