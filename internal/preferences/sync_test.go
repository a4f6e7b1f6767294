package preferences_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/preferences"
)

type memSynced struct {
	mu sync.Mutex
	c  *preferences.Synced
}

func (m *memSynced) LoadSynced(context.Context) (preferences.Synced, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return preferences.Synced{}, false, nil
	}
	return *m.c, true, nil
}

func (m *memSynced) SaveSynced(_ context.Context, c preferences.Synced) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c = &c
	return nil
}

// TestSyncerUsesETagAndKeepsTheCopy: the first sync takes the set, the
// next sends If-None-Match and keeps the copy on 304, a new version
// replaces it, a failing cloud keeps it, and a new Syncer restores it.
func TestSyncerUsesETagAndKeepsTheCopy(t *testing.T) {
	var mu sync.Mutex
	version, down := 1, false
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Authorization")+"|"+r.Header.Get("If-None-Match")+"|"+r.URL.RawQuery)
		if down {
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
			return
		}
		etag := `"` + string(rune('0'+version)) + `"`
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		tracking := "on"
		if version == 2 {
			tracking = "paused"
		}
		w.Write([]byte(`{"tenant_id":"acme","version":` + string(rune('0'+version)) + `,"tenant":{"filter":{"min_interval_s":9}},"devices":{"d1":{"tracking":"` + tracking + `"}}}`))
	}))
	defer srv.Close()
	store := &memSynced{}
	s := &preferences.Syncer{URL: srv.URL, Token: "tok", Store: store}
	ctx := context.Background()
	step := func(wantChanged bool, wantErr bool) {
		t.Helper()
		changed, err := s.SyncOnce(ctx)
		if changed != wantChanged || (err != nil) != wantErr {
			t.Fatalf("changed %v err %v, want %v %v", changed, err, wantChanged, wantErr)
		}
	}
	step(true, false)
	step(false, false) // 304
	mu.Lock()
	version = 2
	mu.Unlock()
	step(true, false)
	mu.Lock()
	down = true
	mu.Unlock()
	step(false, true)
	set, ok := s.For("acme")
	if !ok || set.Version != 2 || set.Gate(fix.Fix{Device: "d1"}) != preferences.ReasonPaused {
		t.Fatalf("copy in force %+v %v", set, ok)
	}
	if _, ok := s.For("globex"); ok {
		t.Error("another tenant's requests must not get acme's copy")
	}
	if f, ok := s.FilterFor("acme", "d2", edgefilter.DefaultSettings()); !ok || f.MinIntervalS != 9 {
		t.Errorf("filter %+v %v", f, ok)
	}
	want := []string{`Bearer tok||all=true`, `Bearer tok|"1"|all=true`, `Bearer tok|"1"|all=true`, `Bearer tok|"2"|all=true`}
	if len(seen) != len(want) {
		t.Fatalf("requests %q", seen)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("request %d: %q, want %q", i, seen[i], want[i])
		}
	}
	restarted := &preferences.Syncer{URL: srv.URL, Token: "tok", Store: store}
	if err := restarted.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if set, ok := restarted.For("acme"); !ok || set.Version != 2 {
		t.Errorf("restored %+v %v", set, ok)
	}
}
