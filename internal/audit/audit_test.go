package audit

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
)

func TestEntryOf(t *testing.T) {
	admin := auth.Principal{Tenant: "acme", Role: auth.RoleAdmin, TokenID: "j1", Subject: "alice"}
	cases := []struct {
		name, function, method, query string
		action                        string // "": not audited
		target                        map[string]string
	}{
		{"history read", "track", "GET", "device=d1&from=2026-01-01T00:00:00Z", ActionHistoryRead, map[string]string{"device": "d1", "from": "2026-01-01T00:00:00Z"}},
		{"trips of a device", "trips", "GET", "device=d2", ActionHistoryRead, map[string]string{"device": "d2"}},
		{"fence created", "geofences", "POST", "", ActionFenceChange, nil},
		{"fence deleted", "geofences", "DELETE", "id=f1", ActionFenceChange, map[string]string{"id": "f1"}},
		{"fence listed", "geofences", "GET", "", "", nil},
		{"rule changed", "rules", "PUT", "id=r1", ActionRuleChange, map[string]string{"id": "r1"}},
		{"preference changed", "preferences", "PUT", "device=d1", ActionPreferenceChange, map[string]string{"device": "d1"}},
		{"preferences read", "preferences", "GET", "device=d1", "", nil},
		{"revocation", "tokens", "POST", "revoke=j9", ActionTokenRevoke, map[string]string{"revoke": "j9"}},
		{"not before", "tokens", "POST", "not_before=2026-01-01T00:00:00Z", ActionTokenNotBefore, map[string]string{"not_before": "2026-01-01T00:00:00Z"}},
		{"revocations listed", "tokens", "GET", "", "", nil},
		{"audit read", "audit", "GET", "from=2026-01-01T00:00:00Z", ActionAuditRead, map[string]string{"from": "2026-01-01T00:00:00Z"}},
		{"ingest", "ingest", "POST", "", "", nil},
		{"privacy export", "privacy", "GET", "device=d1&format=zip", ActionPrivacyExport, map[string]string{"device": "d1"}},
		{"privacy erase", "privacy", "POST", "device=d1&action=erase", ActionPrivacyErase, map[string]string{"device": "d1"}},
		{"privacy receipt", "privacy", "GET", "receipt=0123456789abcdef0123456789abcdef", ActionPrivacyReceipt, map[string]string{"receipt": "0123456789abcdef0123456789abcdef"}},
		{"privacy without target", "privacy", "GET", "", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			e, ok := EntryOf(httpkit.Access{Function: tc.function, Method: tc.method, Query: q, Status: 200,
				Principal: admin, Remote: "198.51.100.7", At: time.Unix(1_800_000_000, 0)})
			if tc.action == "" {
				if ok {
					t.Fatalf("audited as %s", e.Action)
				}
				return
			}
			if !ok || e.Action != tc.action {
				t.Fatalf("action %q (%v), want %q", e.Action, ok, tc.action)
			}
			if e.Tenant != "acme" || e.Role != "admin" || e.TokenID != "j1" || e.Subject != "alice" || e.Remote != "198.51.100.7" || e.Status != 200 {
				t.Fatalf("who/where: %+v", e)
			}
			if len(e.Target) != len(tc.target) {
				t.Fatalf("target %v, want %v", e.Target, tc.target)
			}
			for k, v := range tc.target {
				if e.Target[k] != v {
					t.Fatalf("target %v, want %v", e.Target, tc.target)
				}
			}
		})
	}
}

// appender is a fake audit log that fails its first calls when told.
type appender struct {
	mu      sync.Mutex
	entries []Entry
	batches int
	fail    int
}

func (a *appender) AppendAudit(_ context.Context, entries []Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail > 0 {
		a.fail--
		return errors.New("redis down")
	}
	a.batches++
	a.entries = append(a.entries, entries...)
	return nil
}

// TestRecorderGroupCommits: concurrent requests share appends, each
// returns once its entry is stored, and a failed append is retried.
func TestRecorderGroupCommits(t *testing.T) {
	app := &appender{fail: 1}
	reg := metrics.NewRegistry()
	r := NewRecorder(app, reg)
	q := url.Values{"device": {"d1"}}
	access := httpkit.Access{Function: "track", Method: "GET", Query: q, Status: 200,
		Principal: auth.Principal{Tenant: "acme", Role: auth.RoleViewer}, At: time.Now()}

	r.Audit(access)
	app.mu.Lock()
	n := len(app.entries)
	app.mu.Unlock()
	if n != 1 {
		t.Fatalf("Audit returned with %d entries stored, want 1 (after a retried append)", n)
	}

	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		go func() { defer wg.Done(); r.Audit(access) }()
	}
	wg.Wait()
	r.Audit(httpkit.Access{Function: "ingest", Method: "POST", Principal: auth.Principal{Tenant: "acme"}}) // not audited
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(app.entries) != 1001 {
		t.Fatalf("%d entries appended, want 1001", len(app.entries))
	}
	if app.batches >= 1001 {
		t.Fatalf("%d appends for 1001 entries: no group commit", app.batches)
	}
	r.Audit(access)
	if len(app.entries) != 1001 {
		t.Fatal("an entry was appended after Close")
	}
}
