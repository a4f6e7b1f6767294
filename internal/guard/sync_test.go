package guard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// edgeStore is a fake of the edge's Redis.
type edgeStore struct {
	pol    Policy
	writes []string
	keeps  []time.Duration
}

func (e *edgeStore) Policy(context.Context, string, time.Time) (Policy, error) { return e.pol, nil }
func (e *edgeStore) Revoke(_ context.Context, tenant, jti string, keep time.Duration, now time.Time) error {
	e.writes = append(e.writes, tenant+"/"+jti)
	e.keeps = append(e.keeps, keep)
	if e.pol.Revoked == nil {
		e.pol.Revoked = map[string]time.Time{}
	}
	e.pol.Revoked[jti] = now.Add(keep)
	return nil
}
func (e *edgeStore) SetNotBefore(_ context.Context, tenant string, at time.Time, _ time.Duration) error {
	e.writes = append(e.writes, tenant+"/not_before="+at.UTC().Format(time.RFC3339))
	e.pol.NotBefore = at
	return nil
}

func TestRevocationSyncCopiesTheCloudsListOnce(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	body := `{"tenant":"acme","revoked":[{"jti":"a","kept_until":"2026-12-01T12:00:00Z"},{"jti":"b","kept_until":"2026-11-30T12:00:00Z"},` +
		`{"jti":"gone","kept_until":"2026-11-29T11:00:00Z"}],"not_before":"2026-11-29T10:00:00Z"}`
	var gotAuth, gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotQuery = r.Header.Get("Authorization"), r.URL.RawQuery
		w.Write([]byte(body))
	}))
	defer srv.Close()
	store := &edgeStore{}
	s := &RevocationSync{URL: srv.URL, Token: "svc", Keep: 720 * time.Hour, Store: store, now: func() time.Time { return t0 }}
	n, err := s.SyncOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer svc" || gotQuery != "sync=true" {
		t.Errorf("request: Authorization %q, query %q", gotAuth, gotQuery)
	}
	want := "acme/a acme/b acme/not_before=2026-11-29T10:00:00Z"
	if got := strings.Join(store.writes, " "); n != 3 || got != want {
		t.Fatalf("wrote %d: %s; want 3: %s", n, got, want)
	}
	for _, k := range store.keeps { // the longest keep for every id
		if k != 48*time.Hour {
			t.Errorf("keep %v, want 48h", k)
		}
	}
	// A second pull writes nothing: the edge has it all.
	if n, err := s.SyncOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("second sync: %d writes, %v; want 0", n, err)
	}
	// A bad answer from the cloud changes nothing.
	body = `{"tenant":"acme","revoked":[{"jti":"has space","kept_until":"2026-12-01T12:00:00Z"}]}`
	if _, err := s.SyncOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "revoked[0].jti") {
		t.Fatalf("bad jti: %v", err)
	}
	if len(store.writes) != 3 {
		t.Fatalf("writes after a bad list: %v", store.writes)
	}
}

func TestDecodeRevocationList(t *testing.T) {
	for _, tc := range []struct{ name, body, err string }{
		{"ok", `{"tenant":"acme","revoked":[]}`, ""},
		{"not json", `{`, "revocation list"},
		{"no tenant", `{"revoked":[]}`, "tenant"},
		{"no kept_until", `{"tenant":"t","revoked":[{"jti":"a"}]}`, "kept_until"},
		{"empty jti", `{"tenant":"t","revoked":[{"jti":"","kept_until":"2026-12-01T12:00:00Z"}]}`, "jti"},
		{"zero not_before", `{"tenant":"t","revoked":[],"not_before":"0001-01-01T00:00:00Z"}`, "not_before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRevocationList([]byte(tc.body))
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func FuzzDecodeRevocationList(f *testing.F) {
	f.Add([]byte(`{"tenant":"acme","revoked":[{"jti":"a","kept_until":"2026-12-01T12:00:00Z"}],"not_before":"2026-11-29T10:00:00Z"}`))
	f.Add([]byte(`{"tenant":"","revoked":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := DecodeRevocationList(body)
		if err != nil {
			return
		}
		if l.Tenant == "" {
			t.Fatal("accepted a list without a tenant")
		}
		for _, r := range l.Revoked {
			if r.Until.IsZero() {
				t.Fatal("accepted an entry without kept_until")
			}
		}
	})
}
