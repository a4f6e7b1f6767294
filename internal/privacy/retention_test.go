package privacy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/preferences"
)

type sweepHot struct{ trimmed map[string]time.Time }

func (h *sweepHot) Tenants(context.Context) ([]string, error) { return []string{"acme", "globex"}, nil }
func (h *sweepHot) Devices(_ context.Context, tenant string) ([]string, error) {
	return []string{"d1", "d2"}, nil
}
func (h *sweepHot) TrimHistory(_ context.Context, tenant, device string, before time.Time) error {
	h.trimmed[tenant+"/"+device] = before
	return nil
}

type sweepPrefs map[string]preferences.Set

func (p sweepPrefs) LoadPreferences(_ context.Context, tenant string) (preferences.Set, error) {
	return p[tenant], nil
}

type memObjects map[string][]byte

func (m memObjects) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
func (m memObjects) Get(_ context.Context, key string) ([]byte, bool, error) {
	b, ok := m[key]
	return b, ok, nil
}
func (m memObjects) Delete(_ context.Context, key string) error { delete(m, key); return nil }
func (m memObjects) Put(_ context.Context, key string, data []byte) error {
	m[key] = data
	return nil
}

// TestRetentionSweepChoosesTheRetention: device preference, else tenant
// preference, else the default; 0 keeps everything.
func TestRetentionSweepChoosesTheRetention(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	objects := memObjects{}
	put := func(tenant, device string, hours ...int) {
		var rows []archive.Row
		for _, h := range hours {
			rows = append(rows, archive.Row{Device: device, TS: now.Add(-time.Duration(h) * time.Hour).UnixMilli(), LatE7: 1, LonE7: 1})
		}
		data, err := archive.Encode(rows)
		if err != nil {
			t.Fatal(err)
		}
		objects[archive.ObjectKey("", tenant, device, archive.Day(rows[0].TS))] = data
	}
	// Days of 2026-11-26 (hours 58..68 ago), 11-27 (34..44) and 11-28 (12..20).
	for _, tenant := range []string{"acme", "globex"} {
		for _, d := range []string{"d1", "d2"} {
			put(tenant, d, 68, 60)
			put(tenant, d, 44, 40, 34)
			put(tenant, d, 20, 12)
		}
	}
	hot := &sweepHot{trimmed: map[string]time.Time{}}
	s := &RetentionSweep{
		Hot: hot, Objects: objects, Default: 0, Now: func() time.Time { return now },
		Preferences: sweepPrefs{"acme": {Tenant: preferences.Document{Retention: "50h"}, Devices: map[string]preferences.Document{"d1": {Retention: "42h"}}}},
	}
	res, err := s.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantTrim := map[string]time.Time{"acme/d1": now.Add(-42 * time.Hour), "acme/d2": now.Add(-50 * time.Hour)}
	if len(hot.trimmed) != len(wantTrim) {
		t.Errorf("trimmed %v, want %v (globex has no retention: kept)", hot.trimmed, wantTrim)
	}
	for k, v := range wantTrim {
		if !hot.trimmed[k].Equal(v) {
			t.Errorf("%s trimmed before %v, want %v", k, hot.trimmed[k], v)
		}
	}
	left := map[string][]int64{}
	for key, data := range objects {
		rows, err := archive.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		tenant, device, _, ok := parseObjectKey(key)
		if !ok {
			t.Fatalf("key %s", key)
		}
		for _, r := range rows {
			left[tenant+"/"+device] = append(left[tenant+"/"+device], (now.UnixMilli()-r.TS)/3600000)
		}
	}
	count := func(k string, maxAge int64) (older, n int) {
		for _, h := range left[k] {
			if h > maxAge {
				older++
			}
		}
		return older, len(left[k])
	}
	for _, tc := range []struct {
		key    string
		maxAge int64
		n      int
	}{{"acme/d1", 42, 4}, {"acme/d2", 50, 5}, {"globex/d1", 1000, 7}, {"globex/d2", 1000, 7}} {
		if older, n := count(tc.key, tc.maxAge); older != 0 || n != tc.n {
			t.Errorf("%s: %d points left (%d older than %dh), want %d and none older", tc.key, n, older, tc.maxAge, tc.n)
		}
	}
	if res.Objects != 2 || res.Rewritten != 1 || res.RowsPurged != 1 || res.Devices != 2 {
		t.Errorf("result %+v", res)
	}

	// With a default, globex is swept too.
	s.Default = 30 * time.Hour
	if _, err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := hot.trimmed["globex/d1"]; !ok {
		t.Error("the default retention did not apply to globex")
	}
}

// FuzzParseObjectKey: never panics; what it accepts is what ObjectKey
// writes.
func FuzzParseObjectKey(f *testing.F) {
	f.Add("tenant=acme/device=truck%3A00/date=2026-11-27/part-0.parquet")
	f.Add("tenant=/device=/date=/")
	f.Add("tenant=a%zz/device=b/date=2026-01-01/x")
	f.Fuzz(func(t *testing.T, key string) {
		tenant, device, day, ok := parseObjectKey(key)
		if !ok {
			return
		}
		if again, d2, day2, ok2 := parseObjectKey(archive.ObjectKey("", tenant, device, day)); !ok2 || again != tenant || d2 != device || !day2.Equal(day) {
			t.Fatalf("%q → (%q, %q, %v) does not round-trip", key, tenant, device, day)
		}
	})
}
