package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestStore runs the store scenarios against a single real redis-server;
// cluster_test.go runs the same ones against a real Redis Cluster.
func TestStore(t *testing.T) {
	r := testenv.StartRedis(t)
	client, err := Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	runScenarios(t, client)
}

// base is a fixed point in the recent past; tests pass now explicitly.
var base = time.Now().UTC().Truncate(time.Second).Add(-time.Hour)

func at(d time.Duration) time.Time { return base.Add(d) }

func mkFix(device string, ts time.Time, lat, lon float64) fix.Fix {
	return fix.Fix{Device: device, TS: ts, Lat: lat, Lon: lon, Speed: fix.Float(1.5), Attrs: map[string]string{"src": "test"}}
}

// tenantSeq gives every scenario its own tenant so they share one server.
var tenantSeq int

func newTenant(name string) string {
	tenantSeq++
	return fmt.Sprintf("t%d-%s", tenantSeq, name)
}

func runScenarios(t *testing.T, client redis.UniversalClient) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, s *Store, tenant string)
	}{
		{"round trip", testRoundTrip},
		{"nearby matches a full search", testNearbyMatchesFullSearch},
		{"out of order", testOutOfOrder},
		{"event dedup", testEventDedup},
		{"fix dedup without id", testFixDedup},
		{"retention", testRetention},
		{"duplicate id with other data", testDedupConflict},
		{"event dedup window", testEventDedupWindow},
		{"event dedup marks stay compact", testEventDedupCompact},
		{"pagination", testPagination},
		{"bad cursor", testBadCursor},
		{"tenant isolation", testTenantIsolation},
		{"10000 fixes in one group", testBigGroup},
		{"10000 fixes in many groups, chunked", testChunked},
		{"coordinate extremes", testExtremes},
		{"invalid input", testInvalidInput},
		{"ping", testPing},
		{"event outbox", testEventOutbox},
		{"latest since", testLatestSince},
		{"device quota", testDeviceQuota},
		{"device quota, many new devices in one call", testDeviceQuotaManyNew},
		{"fence and rule quota overrides", testQuotaOverrides},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := New(client, Options{})
			sc.run(t, s, newTenant(strings.ReplaceAll(sc.name, " ", "-")))
		})
	}
}

func save(t *testing.T, s *Store, tenant string, now time.Time, groups ...Group) SaveResult {
	t.Helper()
	res, err := s.Save(context.Background(), tenant, groups, now)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	return res
}

func allHistory(t *testing.T, s *Store, tenant, device string) []fix.Fix {
	t.Helper()
	page, err := s.History(context.Background(), tenant, device, time.Time{}, time.Time{}, MaxLimit, "")
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if page.Next != "" {
		t.Fatalf("History of %s has more than %d points", device, MaxLimit)
	}
	return page.Fixes
}

func timesOf(fixes []fix.Fix) []string {
	out := make([]string, len(fixes))
	for i, f := range fixes {
		out[i] = fix.FormatTime(f.TS)
	}
	return out
}

func latest(t *testing.T, s *Store, tenant, device string) fix.Fix {
	t.Helper()
	f, ok, err := s.Latest(context.Background(), tenant, device)
	if err != nil || !ok {
		t.Fatalf("Latest(%s) = ok %v, err %v; want a fix", device, ok, err)
	}
	return f
}

func testRoundTrip(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	// Three devices along a meridian in Berlin: ~0 m, ~111 m and ~1112 m north.
	a := mkFix("dev-a", at(0), 52.5200, 13.4050)
	a.Alt, a.Acc, a.Heading, a.Battery = fix.Float(34), fix.Float(5), fix.Float(90), fix.Float(0.8)
	b := mkFix("dev-b", at(time.Second), 52.5210, 13.4050)
	c := mkFix("dev-c", at(2*time.Second), 52.5300, 13.4050)
	res := save(t, s, tenant, at(time.Minute), Group{Source: "/gw", ID: "e1", Fixes: []fix.Fix{a, b, c}})
	if res.Accepted != 3 || res.Duplicates != 0 || len(res.PerGroup) != 1 || !sameCounts(res.PerGroup[0], GroupResult{Accepted: 3}) {
		t.Fatalf("Save = %+v, want 3 accepted", res)
	}

	got := latest(t, s, tenant, "dev-a")
	if !got.TS.Equal(a.TS) || got.Lat != a.Lat || got.Lon != a.Lon || *got.Alt != 34 || *got.Acc != 5 ||
		*got.Heading != 90 || *got.Battery != 0.8 || *got.Speed != 1.5 || got.Attrs["src"] != "test" || got.Device != "dev-a" {
		t.Errorf("Latest(dev-a) = %+v, want %+v", got, a)
	}
	// The stored form is exactly json.Marshal of the fix (ms-precision UTC ts).
	wantJSON, _ := json.Marshal(a)
	if raw, err := s.client.HGet(ctx, s.mustKeys(t, tenant).last(), "dev-a").Result(); err != nil || raw != string(wantJSON) {
		t.Errorf("stored JSON = %s, %v; want %s", raw, err, wantJSON)
	}
	if _, ok, err := s.Latest(ctx, tenant, "nobody"); ok || err != nil {
		t.Errorf("Latest(nobody) = ok %v, err %v; want not found", ok, err)
	}

	tests := []struct {
		radius float64
		limit  int
		want   []string
	}{
		{50, 10, []string{"dev-a"}},
		{200, 10, []string{"dev-a", "dev-b"}},
		{2000, 10, []string{"dev-a", "dev-b", "dev-c"}},
		{2000, 2, []string{"dev-a", "dev-b"}},
	}
	for _, tt := range tests {
		near, err := s.Nearby(ctx, tenant, 52.5200, 13.4050, tt.radius, tt.limit)
		if err != nil {
			t.Fatalf("Nearby(%g m): %v", tt.radius, err)
		}
		var names []string
		for _, n := range near {
			names = append(names, n.Fix.Device)
		}
		if strings.Join(names, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Nearby(%g m, limit %d) = %v, want %v", tt.radius, tt.limit, names, tt.want)
		}
		for _, n := range near {
			if n.Fix.Device == "dev-b" && math.Abs(n.DistanceM-111.2) > 1 {
				t.Errorf("distance to dev-b = %g m, want ~111.2", n.DistanceM)
			}
		}
	}
	if near, err := s.Nearby(ctx, tenant, 0, 0, 1000, 10); err != nil || len(near) != 0 {
		t.Errorf("Nearby(empty area) = %v, %v; want none", near, err)
	}

	if h := allHistory(t, s, tenant, "dev-b"); len(h) != 1 || !h[0].TS.Equal(b.TS) || h[0].Lat != b.Lat {
		t.Errorf("History(dev-b) = %+v, want [%+v]", h, b)
	}
	devs, err := s.Devices(ctx, tenant)
	if err != nil || strings.Join(devs, ",") != "dev-a,dev-b,dev-c" {
		t.Errorf("Devices = %v, %v; want dev-a,dev-b,dev-c", devs, err)
	}
}

func testOutOfOrder(t *testing.T, s *Store, tenant string) {
	now := at(time.Hour)
	// One batch in disorder, then a late fix in a later request.
	save(t, s, tenant, now, Group{Fixes: []fix.Fix{
		mkFix("d", at(30*time.Second), 1.3, 1),
		mkFix("d", at(10*time.Second), 1.1, 1),
	}})
	if f := latest(t, s, tenant, "d"); !f.TS.Equal(at(30 * time.Second)) {
		t.Fatalf("latest after disordered batch = %s, want the 30s fix", fix.FormatTime(f.TS))
	}
	res := save(t, s, tenant, now, Group{Fixes: []fix.Fix{mkFix("d", at(20*time.Second), 1.2, 1)}})
	if res.Accepted != 1 {
		t.Fatalf("late fix: %+v, want accepted", res)
	}
	f := latest(t, s, tenant, "d")
	if !f.TS.Equal(at(30*time.Second)) || f.Lat != 1.3 {
		t.Errorf("latest moved backwards to %s lat %g", fix.FormatTime(f.TS), f.Lat)
	}
	near, err := s.Nearby(context.Background(), tenant, 1.3, 1, 10, 1)
	if err != nil || len(near) != 1 || near[0].Fix.Lat != 1.3 {
		t.Errorf("geo position = %+v, %v; want the 30s fix at lat 1.3", near, err)
	}
	want := []string{fix.FormatTime(at(10 * time.Second)), fix.FormatTime(at(20 * time.Second)), fix.FormatTime(at(30 * time.Second))}
	if got := timesOf(allHistory(t, s, tenant, "d")); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("history = %v, want %v", got, want)
	}
	// A newer fix does move it.
	save(t, s, tenant, now, Group{Fixes: []fix.Fix{mkFix("d", at(40*time.Second), 1.4, 1)}})
	if f := latest(t, s, tenant, "d"); f.Lat != 1.4 {
		t.Errorf("latest after newer fix: lat %g, want 1.4", f.Lat)
	}
}

func testEventDedup(t *testing.T, s *Store, tenant string) {
	now := at(time.Hour)
	g := Group{Source: "/gateway/1", ID: "evt-42", Fixes: []fix.Fix{mkFix("d", at(0), 1, 1), mkFix("d", at(time.Second), 1, 1)}}
	first := save(t, s, tenant, now, g)
	if !sameCounts(first.PerGroup[0], GroupResult{Accepted: 2}) {
		t.Fatalf("first delivery = %+v", first)
	}
	// Redelivery, even with different content, is dropped as a whole.
	g.Fixes = append(g.Fixes, mkFix("d", at(2*time.Second), 1, 1))
	second := save(t, s, tenant, now, g)
	if !sameCounts(second.PerGroup[0], GroupResult{Duplicate: true, DupFixes: 3}) || second.Accepted != 0 || second.Duplicates != 3 {
		t.Fatalf("redelivery = %+v, want a duplicate group", second)
	}
	if h := allHistory(t, s, tenant, "d"); len(h) != 2 {
		t.Errorf("history has %d points, want 2 (stored once)", len(h))
	}
	// Same id from another source is another event; in one request, the
	// second copy of an event is the duplicate.
	other := Group{Source: "/gateway/2", ID: "evt-42", Fixes: []fix.Fix{mkFix("d", at(5*time.Second), 1, 1)}}
	res := save(t, s, tenant, now, other, other)
	if !sameCounts(res.PerGroup[0], GroupResult{Accepted: 1}) || !res.PerGroup[1].Duplicate {
		t.Errorf("other source twice = %+v, want accepted then duplicate", res.PerGroup)
	}
	// Only Source without ID is not deduplicated as an event.
	noID := Group{Source: "/gateway/1", Fixes: []fix.Fix{mkFix("d", at(7*time.Second), 1, 1)}}
	save(t, s, tenant, now, noID)
	res = save(t, s, tenant, now, noID)
	if !sameCounts(res.PerGroup[0], GroupResult{DupFixes: 1}) {
		t.Errorf("group without id resent = %+v, want a duplicate fix, not a duplicate event", res.PerGroup[0])
	}
}

func testFixDedup(t *testing.T, s *Store, tenant string) {
	now := at(time.Hour)
	f := mkFix("d", at(0), 1, 1)
	res := save(t, s, tenant, now, Group{Fixes: []fix.Fix{f, f}})
	if res.Accepted != 1 || res.Duplicates != 1 || !sameCounts(res.PerGroup[0], GroupResult{Accepted: 1, DupFixes: 1}) {
		t.Fatalf("same fix twice in one batch = %+v", res)
	}
	if st := res.PerGroup[0].Stored; len(st) != 2 || !st[0] || st[1] {
		t.Fatalf("stored flags = %v, want [true false]", st)
	}
	// Resend in another request; same ms with a sub-ms difference is the same point.
	g := f
	g.TS = g.TS.Add(300 * time.Microsecond)
	g.Lat = 2
	res = save(t, s, tenant, now, Group{Fixes: []fix.Fix{f, g}})
	if res.Accepted != 0 || res.Duplicates != 2 {
		t.Fatalf("resend = %+v, want 2 duplicates", res)
	}
	if h := allHistory(t, s, tenant, "d"); len(h) != 1 || h[0].Lat != 1 {
		t.Errorf("history = %+v, want the first fix once", h)
	}
	// The same ts for another device is not a duplicate.
	res = save(t, s, tenant, now, Group{Fixes: []fix.Fix{mkFix("e", at(0), 1, 1)}})
	if res.Accepted != 1 {
		t.Errorf("other device same ts = %+v, want accepted", res)
	}
}

// testDedupConflict: an event id resent with the same data is a plain
// duplicate; with other data it is a duplicate too (CloudEvents) but flagged
// as a conflict, once per such group; a too-old fix in a duplicate event is
// a duplicate, not too old.
func testDedupConflict(t *testing.T, s *Store, tenant string) {
	now := base
	at := func(sec int) time.Time { return now.Add(time.Duration(sec) * time.Second) }
	first := Group{Source: "src", ID: "e1", Fixes: []fix.Fix{mkFix("d", at(-60), 1, 1), mkFix("d", at(-30), 1, 2)}}
	cases := []struct {
		name          string
		groups        []Group
		accepted, dup int
		conflicts     int
		perGroup      []bool // Conflict per group
	}{
		{"first delivery", []Group{first}, 2, 0, 0, []bool{false}},
		{"redelivery, same data", []Group{first}, 0, 2, 0, []bool{false}},
		{"same id, other data, next to a new event", []Group{
			{Source: "src", ID: "e1", Fixes: []fix.Fix{mkFix("d", at(-10), 5, 5)}},
			{Source: "src", ID: "e2", Fixes: []fix.Fix{mkFix("d", at(-5), 1, 3)}},
		}, 1, 1, 1, []bool{true, false}},
		{"same id, other data, with a fix beyond retention", []Group{
			{Source: "src", ID: "e2", Fixes: []fix.Fix{mkFix("d", now.Add(-30*24*time.Hour), 1, 1)}},
		}, 0, 1, 1, []bool{true}},
	}
	for _, tc := range cases {
		res := save(t, s, tenant, now, tc.groups...)
		if res.Accepted != tc.accepted || res.Duplicates != tc.dup || res.Conflicts != tc.conflicts || res.TooOld != 0 {
			t.Fatalf("%s: Save = %+v, want accepted %d duplicates %d conflicts %d", tc.name, res, tc.accepted, tc.dup, tc.conflicts)
		}
		for i, want := range tc.perGroup {
			if res.PerGroup[i].Conflict != want {
				t.Fatalf("%s: group %d conflict = %v, want %v", tc.name, i, res.PerGroup[i].Conflict, want)
			}
		}
	}
	if h := allHistory(t, s, tenant, "d"); len(h) != 3 {
		t.Fatalf("history = %v, want the 3 fixes first stored", timesOf(h))
	}
}

func testRetention(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	s = New(s.client, Options{HistoryRetention: time.Hour})
	now := base
	res := save(t, s, tenant, now, Group{Fixes: []fix.Fix{
		mkFix("d", now.Add(-3*time.Hour), 1, 1),
		mkFix("d", now.Add(-50*time.Minute), 1, 2),
		mkFix("d", now.Add(-10*time.Minute), 1, 3),
	}})
	// The 3h-old fix is beyond retention: counted as too old, not accepted.
	if res.Accepted != 2 || res.TooOld != 1 || res.PerGroup[0].TooOld != 1 ||
		fmt.Sprint(res.PerGroup[0].Stored) != "[false true true]" {
		t.Fatalf("Save = %+v, want 2 accepted and the first fix too old", res)
	}
	if got := len(allHistory(t, s, tenant, "d")); got != 2 {
		t.Fatalf("history has %d points, want 2 (the 3h-old one not stored)", got)
	}
	// Half an hour later, the 50-minute-old point has left retention.
	save(t, s, tenant, now.Add(30*time.Minute), Group{Fixes: []fix.Fix{mkFix("d", now.Add(25*time.Minute), 1, 4)}})
	h := allHistory(t, s, tenant, "d")
	if want := []string{fix.FormatTime(now.Add(-10 * time.Minute)), fix.FormatTime(now.Add(25 * time.Minute))}; strings.Join(timesOf(h), " ") != strings.Join(want, " ") {
		t.Errorf("history = %v, want %v", timesOf(h), want)
	}
	// The key expires when its newest point leaves retention, rounded up to
	// the next minute (late, never early).
	ttl, err := s.client.PTTL(ctx, s.mustKeys(t, tenant).history("d")).Result()
	wantTTL := now.Add(25 * time.Minute).Add(time.Hour).Sub(now.Add(30 * time.Minute))
	if err != nil || ttl < wantTTL-time.Second || ttl > wantTTL+time.Minute {
		t.Errorf("history PTTL = %v, %v; want about %v", ttl, err, wantTTL)
	}
	// The latest position is kept though history is trimmed.
	if f := latest(t, s, tenant, "d"); f.Lon != 4 {
		t.Errorf("latest lon = %g, want 4", f.Lon)
	}
}

func testPagination(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	const n = 25
	var fixes []fix.Fix
	for i := n - 1; i >= 0; i-- { // stored in reverse to show order is by time
		fixes = append(fixes, mkFix("d", at(time.Duration(i)*time.Second), 1, float64(i)))
	}
	save(t, s, tenant, at(time.Hour), Group{Fixes: fixes})

	tests := []struct {
		name      string
		from, to  time.Time
		limit     int
		wantFirst int // index of the first point
		wantN     int
		wantPages int
	}{
		{"unbounded", time.Time{}, time.Time{}, 10, 0, 25, 3},
		{"exact pages", time.Time{}, time.Time{}, 5, 0, 25, 5},
		{"one page", time.Time{}, time.Time{}, 100, 0, 25, 1},
		{"limit 1", time.Time{}, time.Time{}, 1, 0, 25, 25},
		{"bounded inclusive", at(3 * time.Second), at(12 * time.Second), 4, 3, 10, 3},
		{"sub-ms bounds", at(3*time.Second + time.Microsecond), at(12*time.Second - time.Microsecond), 4, 4, 8, 2},
		{"from only", at(20 * time.Second), time.Time{}, 2, 20, 5, 3},
		{"to only", time.Time{}, at(4 * time.Second), 2, 0, 5, 3},
		{"empty range", at(time.Hour), time.Time{}, 10, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []fix.Fix
			cursor, pages := "", 0
			for {
				page, err := s.History(ctx, tenant, "d", tt.from, tt.to, tt.limit, cursor)
				if err != nil {
					t.Fatalf("page %d: %v", pages+1, err)
				}
				pages++
				if len(page.Fixes) > tt.limit {
					t.Fatalf("page %d has %d fixes, limit %d", pages, len(page.Fixes), tt.limit)
				}
				got = append(got, page.Fixes...)
				if page.Next == "" {
					break
				}
				if pages > n+1 {
					t.Fatal("pagination does not end")
				}
				cursor = page.Next
			}
			if len(got) != tt.wantN || pages != tt.wantPages {
				t.Fatalf("got %d fixes in %d pages, want %d in %d", len(got), pages, tt.wantN, tt.wantPages)
			}
			for i, f := range got { // every point exactly once, in order
				if want := at(time.Duration(tt.wantFirst+i) * time.Second); !f.TS.Equal(want) {
					t.Fatalf("fix %d at %s, want %s", i, fix.FormatTime(f.TS), fix.FormatTime(want))
				}
			}
		})
	}
}

func testBadCursor(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	save(t, s, tenant, at(time.Hour), Group{Fixes: []fix.Fix{mkFix("d", at(0), 1, 1), mkFix("d", at(time.Second), 1, 1)}})
	page, err := s.History(ctx, tenant, "d", time.Time{}, time.Time{}, 1, "")
	if err != nil || page.Next == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	tests := []struct {
		name     string
		cursor   string
		from, to time.Time
	}{
		{"not base64", "!!!", time.Time{}, time.Time{}},
		{"wrong prefix", encodeRaw("x1:5"), time.Time{}, time.Time{}},
		{"not a number", encodeRaw("h1:abc"), time.Time{}, time.Time{}},
		{"negative", encodeRaw("h1:-5"), time.Time{}, time.Time{}},
		{"leading zero", encodeRaw("h1:01"), time.Time{}, time.Time{}},
		{"overflow", encodeRaw("h1:99999999999999999999"), time.Time{}, time.Time{}},
		{"before from", page.Next, at(time.Minute), time.Time{}},
		{"after to", page.Next, time.Time{}, at(-time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.History(ctx, tenant, "d", tt.from, tt.to, 1, tt.cursor)
			if !errors.Is(err, locate.ErrBadCursor) {
				t.Errorf("History(cursor %q) error = %v, want ErrBadCursor", tt.cursor, err)
			}
		})
	}
	// The good cursor still works.
	next, err := s.History(ctx, tenant, "d", time.Time{}, time.Time{}, 1, page.Next)
	if err != nil || len(next.Fixes) != 1 || !next.Fixes[0].TS.Equal(at(time.Second)) || next.Next != "" {
		t.Errorf("second page = %+v, %v", next, err)
	}
}

func testTenantIsolation(t *testing.T, s *Store, tenantA string) {
	ctx := context.Background()
	tenantB := tenantA + "-b"
	save(t, s, tenantA, at(time.Hour), Group{Source: "/s", ID: "same", Fixes: []fix.Fix{mkFix("shared", at(0), 10, 10)}})
	// The same event id and device in tenant B are B's own.
	res := save(t, s, tenantB, at(time.Hour), Group{Source: "/s", ID: "same", Fixes: []fix.Fix{mkFix("shared", at(0), 20, 20), mkFix("only-b", at(0), 10, 10)}})
	if res.Accepted != 2 {
		t.Fatalf("tenant B save = %+v, want both accepted", res)
	}
	if f := latest(t, s, tenantA, "shared"); f.Lat != 10 {
		t.Errorf("A sees lat %g for shared, want its own 10", f.Lat)
	}
	if _, ok, _ := s.Latest(ctx, tenantA, "only-b"); ok {
		t.Error("A sees B's device in Latest")
	}
	near, err := s.Nearby(ctx, tenantA, 10, 10, 1000, 10)
	if err != nil || len(near) != 1 || near[0].Fix.Device != "shared" {
		t.Errorf("A's Nearby = %+v, %v; want only its own device", near, err)
	}
	if h := allHistory(t, s, tenantA, "only-b"); len(h) != 0 {
		t.Errorf("A sees B's history: %+v", h)
	}
	if h := allHistory(t, s, tenantA, "shared"); len(h) != 1 || h[0].Lat != 10 {
		t.Errorf("A's history of shared = %+v", h)
	}
	if devs, _ := s.Devices(ctx, tenantA); strings.Join(devs, ",") != "shared" {
		t.Errorf("A's devices = %v", devs)
	}
}

func bigBatch(n, devices int, start time.Time) []fix.Fix {
	fixes := make([]fix.Fix, n)
	for i := range fixes {
		fixes[i] = mkFix(fmt.Sprintf("dev-%03d", i%devices), start.Add(time.Duration(i/devices)*time.Millisecond),
			48+float64(i%devices)/100, 11+float64(i)/1e5)
	}
	return fixes
}

func testBigGroup(t *testing.T, s *Store, tenant string) {
	fixes := bigBatch(fix.MaxBatch, 100, at(0))
	res := save(t, s, tenant, at(time.Hour), Group{Source: "/bulk", ID: "1", Fixes: fixes})
	if res.Accepted != fix.MaxBatch || res.Duplicates != 0 {
		t.Fatalf("Save = accepted %d dup %d, want %d accepted", res.Accepted, res.Duplicates, fix.MaxBatch)
	}
	if h := allHistory(t, s, tenant, "dev-042"); len(h) != 100 {
		t.Errorf("dev-042 history has %d points, want 100", len(h))
	}
	// The latest of each device is its last fix in the batch.
	if f := latest(t, s, tenant, "dev-042"); !f.TS.Equal(at(99 * time.Millisecond)) {
		t.Errorf("latest of dev-042 at %s, want +99ms", fix.FormatTime(f.TS))
	}
	if devs, _ := s.Devices(context.Background(), tenant); len(devs) != 100 {
		t.Errorf("%d devices, want 100", len(devs))
	}
	res = save(t, s, tenant, at(time.Hour), Group{Fixes: fixes})
	if res.Duplicates != fix.MaxBatch {
		t.Errorf("resend = %+v, want all duplicates", res.Duplicates)
	}
}

func testChunked(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	fixes := bigBatch(fix.MaxBatch, 50, at(0))
	var groups []Group
	for i := 0; i < len(fixes); i += 2500 {
		groups = append(groups, Group{Source: "/bulk", ID: fmt.Sprint(i), Fixes: fixes[i : i+2500]})
	}
	groups = append(groups, groups[0]) // a redelivery in the same request
	keys := s.mustKeys(t, tenant)
	prepared, _ := s.prepare(groups, at(time.Hour))
	if chunks, err := s.encode(keys, prepared, at(time.Hour)); err != nil || len(chunks) < 2 {
		t.Fatalf("encode: %d chunks, %v; the test needs several", len(chunks), err)
	}
	// A cold script cache exercises the NOSCRIPT fallback of the pipeline.
	if err := s.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res := save(t, s, tenant, at(time.Hour), groups...)
	if res.Accepted != fix.MaxBatch || res.Duplicates != 2500 || !res.PerGroup[4].Duplicate {
		t.Fatalf("Save = accepted %d dup %d last %+v", res.Accepted, res.Duplicates, res.PerGroup[4])
	}
	for i := 0; i < 4; i++ {
		if !sameCounts(res.PerGroup[i], GroupResult{Accepted: 2500}) || len(res.PerGroup[i].Stored) != 2500 {
			t.Errorf("group %d = %+v", i, res.PerGroup[i])
		}
	}
	if h := allHistory(t, s, tenant, "dev-007"); len(h) != 200 {
		t.Errorf("dev-007 history has %d points, want 200", len(h))
	}
}

func testExtremes(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	corners := []fix.Fix{
		mkFix("ne", at(0), fix.MaxLat, 180),
		mkFix("sw", at(0), -fix.MaxLat, -180),
		mkFix("n", at(0), 85.05, 0),
		mkFix("s", at(0), -85.05, 0),
	}
	res := save(t, s, tenant, at(time.Hour), Group{Fixes: corners})
	if res.Accepted != len(corners) {
		t.Fatalf("Save = %+v", res)
	}
	for _, c := range corners {
		f := latest(t, s, tenant, c.Device)
		if f.Lat != c.Lat || f.Lon != c.Lon {
			t.Errorf("%s stored at %g,%g, want %g,%g", c.Device, f.Lat, f.Lon, c.Lat, c.Lon)
		}
		near, err := s.Nearby(ctx, tenant, c.Lat, c.Lon, 1000, 1)
		if err != nil || len(near) != 1 || near[0].Fix.Device != c.Device {
			t.Errorf("Nearby(%s) = %+v, %v", c.Device, near, err)
		}
	}
}

func testInvalidInput(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	good := mkFix("d", at(0), 1, 1)
	bad := mkFix("d", at(time.Second), 91, 1)
	_, err := s.Save(ctx, tenant, []Group{{Fixes: []fix.Fix{good}}, {Fixes: []fix.Fix{bad}}}, at(time.Hour))
	var fe *fix.FieldError
	if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &fe) || fe.Field != "lat" {
		t.Fatalf("Save(lat 91) error = %v, want ErrInvalidArgument with a lat FieldError", err)
	}
	if _, ok, _ := s.Latest(ctx, tenant, "d"); ok {
		t.Error("a rejected request stored its valid fix")
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"tenant with brace", func() error {
			_, err := s.Save(ctx, "a}b", []Group{{Fixes: []fix.Fix{good}}}, at(time.Hour))
			return err
		}},
		{"group over fix.MaxBatch", func() error {
			_, err := s.Save(ctx, tenant, []Group{{Fixes: make([]fix.Fix, fix.MaxBatch+1)}}, at(time.Hour))
			return err
		}},
		{"empty tenant", func() error { _, _, err := s.Latest(ctx, "", "d"); return err }},
		{"control char tenant", func() error { _, err := s.Devices(ctx, "a\nb"); return err }},
		{"nearby limit 0", func() error { _, err := s.Nearby(ctx, tenant, 0, 0, 10, 0); return err }},
		{"nearby radius 0", func() error { _, err := s.Nearby(ctx, tenant, 0, 0, 0, 10); return err }},
		{"nearby lat NaN", func() error { _, err := s.Nearby(ctx, tenant, math.NaN(), 0, 10, 10); return err }},
		{"nearby lat 89", func() error { _, err := s.Nearby(ctx, tenant, 89, 0, 10, 10); return err }},
		{"nearby lon 181", func() error { _, err := s.Nearby(ctx, tenant, 0, 181, 10, 10); return err }},
		{"history limit too big", func() error {
			_, err := s.History(ctx, tenant, "d", time.Time{}, time.Time{}, MaxLimit+1, "")
			return err
		}},
		{"history from after to", func() error {
			_, err := s.History(ctx, tenant, "d", at(time.Second), at(0), 10, "")
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: error = %v, want ErrInvalidArgument", tt.name, err)
		}
	}
	// An empty request is fine and writes nothing.
	if res, err := s.Save(ctx, tenant, nil, at(0)); err != nil || res.Accepted != 0 {
		t.Errorf("Save(nil) = %+v, %v", res, err)
	}
}

func testPing(t *testing.T, s *Store, _ string) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func (s *Store) mustKeys(t *testing.T, tenant string) tenantKeys {
	t.Helper()
	k, err := s.keys(tenant)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPingFailsWhenRedisIsDown(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL+"?dial_timeout=500ms")
	s := New(client, Options{})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping while up: %v", err)
	}
	r.Stop()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded with Redis stopped")
	}
	r.Restart(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	s := New(nil, Options{})
	if o := s.Options(); o.HistoryRetention != 7*24*time.Hour || o.DedupTTL != 24*time.Hour || o.KeyPrefix != "gt" {
		t.Errorf("defaults = %+v", o)
	}
	k, err := New(nil, Options{KeyPrefix: "x"}).keys("acme")
	if err != nil || k.history("d1") != "x:{acme}:h:d1" || k.geo() != "x:{acme}:geo" {
		t.Errorf("keys = %+v, %v", k, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New with a braced prefix did not panic")
		}
	}()
	New(nil, Options{KeyPrefix: "a{b}"})
}

// sameCounts compares the counts of two GroupResults (not the flags).
func sameCounts(a, b GroupResult) bool {
	return a.Duplicate == b.Duplicate && a.Accepted == b.Accepted && a.DupFixes == b.DupFixes
}

func testLatestSince(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	save(t, s, tenant, at(time.Minute), Group{Source: "/gw", ID: "e1", Fixes: []fix.Fix{
		mkFix("old", at(0), 52.5, 13.4), mkFix("mid", at(time.Second), 52.6, 13.4), mkFix("new", at(2*time.Second), 52.7, 13.4),
		mkFix("new", at(time.Second/2), 52.8, 13.4), // a late fix does not become the latest
	}})
	devicesOf := func(raw []json.RawMessage) []string {
		var out []string
		for _, r := range raw {
			var f fix.Fix
			if err := json.Unmarshal(r, &f); err != nil {
				t.Fatal(err)
			}
			out = append(out, f.Device)
		}
		return out
	}
	cases := []struct {
		name     string
		since    time.Time
		limit    int
		want     []string
		wantMore bool
	}{
		{"every device, newest first", time.Time{}, 10, []string{"new", "mid", "old"}, false},
		{"after a time, exclusive", at(time.Second), 10, []string{"new"}, false},
		{"nothing newer", at(time.Hour), 10, nil, false},
		{"limited, newest kept", time.Time{}, 2, []string{"new", "mid"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := s.LatestSince(ctx, tenant, tc.since, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(devicesOf(got), tc.want) || more != tc.wantMore {
				t.Fatalf("LatestSince = %v more %v, want %v more %v", devicesOf(got), more, tc.want, tc.wantMore)
			}
		})
	}
	if got, _, err := s.LatestSince(ctx, newTenant("empty"), time.Time{}, 10); err != nil || len(got) != 0 {
		t.Fatalf("empty tenant: %v, %v", got, err)
	}
	if _, _, err := s.LatestSince(ctx, tenant, time.Time{}, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("limit 0: %v, want ErrInvalidArgument", err)
	}
}
