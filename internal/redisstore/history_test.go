package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestHistoryBuckets runs the bucketed-history scenarios against a single
// redis-server; TestHistoryBucketsOnCluster against a 3-master cluster.
func TestHistoryBuckets(t *testing.T) {
	r := testenv.StartRedis(t)
	client, err := Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	runHistoryScenarios(t, client)
}

func TestHistoryBucketsOnCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	client, err := Open(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	runHistoryScenarios(t, client)
}

func runHistoryScenarios(t *testing.T, client redis.UniversalClient) {
	scenarios := []struct {
		name string
		opts Options
		run  func(t *testing.T, s *Store, tenant string)
	}{
		{"every field round trips", Options{}, testFieldsRoundTrip},
		{"late fixes deduplicated across buckets", Options{}, testLateDedupAcrossBuckets},
		{"late fixes looked up by their offset's bytes", Options{}, testLateDedupByOffsetBytes},
		{"pagination across buckets", Options{}, testPaginationAcrossBuckets},
		{"trim archived", Options{KeepOld: true}, testTrimArchived},
		{"trim history inside a bucket", Options{}, testTrimInsideBucket},
		{"keep old stores old fixes without expiry", Options{KeepOld: true, HistoryRetention: time.Hour}, testKeepOld},
		{"bucket sealed when the device moves on", Options{}, testSealed},
		{"points stored as JSON before buckets", Options{}, testLegacyMembers},
		{"many JSON points paged with new ones", Options{}, testLegacyPaged},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, New(client, sc.opts), newTenant(strings.ReplaceAll(sc.name, " ", "-")))
		})
	}
}

func testFieldsRoundTrip(t *testing.T, s *Store, tenant string) {
	negZero := math.Copysign(0, -1)
	in := []fix.Fix{
		{Device: "d", TS: at(1 * time.Second), Lat: 52.5200066, Lon: 13.404954},
		{Device: "d", TS: at(2 * time.Second), Lat: negZero, Lon: negZero, Speed: fix.Float(negZero)},
		{Device: "d", TS: at(3 * time.Second), Lat: 1.0 / 3, Lon: -179.99999999, Alt: fix.Float(100000), Acc: fix.Float(1e300),
			Speed: fix.Float(3e8), Heading: fix.Float(359.999), Battery: fix.Float(1)},
		{Device: "d", TS: at(4*time.Second + 7*time.Millisecond), Lat: -fix.MaxLat, Lon: 180, Alt: fix.Float(-12000), Acc: fix.Float(0),
			Heading: fix.Float(0), Battery: fix.Float(0.873), Attrs: map[string]string{"src": "gpx", "note": "ünïcode \"q\""}},
	}
	res := save(t, s, tenant, at(time.Minute), Group{Fixes: in})
	if res.Accepted != len(in) {
		t.Fatalf("Save = %+v", res)
	}
	got := allHistory(t, s, tenant, "d")
	if len(got) != len(in) {
		t.Fatalf("history has %d points, want %d", len(got), len(in))
	}
	for i := range in {
		if !sameFix(got[i], in[i]) {
			t.Errorf("point %d\n got %v\nwant %v", i, describe(got[i]), describe(in[i]))
		}
	}
}

// testLateDedupByOffsetBytes covers save.lua's lookup of a late fix: its
// ts offset's bytes searched in the bucket, and the records walked when
// they are found (a resend, or the bytes inside another record) or after a
// few lookups in one call.
func testLateDedupByOffsetBytes(t *testing.T, s *Store, tenant string) {
	now := at(time.Hour)
	b0 := base.Truncate(bucketWidth).Add(bucketWidth) // a bucket's start, before now
	var stored []fix.Fix
	for i := 1; i <= 20; i++ {
		stored = append(stored, mkFix("d", b0.Add(time.Duration(i)*time.Second), 1, 1))
	}
	// Latitude 0.64 is 6,400,000 × 1e-7: its int32 bytes 00 61 a8 00
	// hold the offset of b0+25s (25,000 ms = 00 61 a8), which is not stored.
	stored = append(stored, mkFix("d", b0.Add(30*time.Second), 0.64, 1), mkFix("d", b0.Add(time.Minute), 1, 1))
	if res := save(t, s, tenant, now, Group{Fixes: stored}); res.Accepted != len(stored) {
		t.Fatalf("first Save = %+v", res)
	}
	late := func(d time.Duration) fix.Fix { return mkFix("d", b0.Add(d), 2, 2) }
	steps := []struct {
		name  string
		fixes []fix.Fix
		want  string // Stored per fix
	}{
		{"a new late fix", []fix.Fix{late(10500 * time.Millisecond)}, "[true]"},
		{"a resend", []fix.Fix{stored[4]}, "[false]"},
		{"a new late fix whose offset's bytes are inside another record", []fix.Fix{late(25 * time.Second)}, "[true]"},
		{"the same, sent again", []fix.Fix{late(25 * time.Second)}, "[false]"},
		{"the first new late fix, sent again", []fix.Fix{late(10500 * time.Millisecond)}, "[false]"},
		{"more late fixes in one call than lookups before a walk",
			[]fix.Fix{late(1500 * time.Millisecond), stored[0], late(2500 * time.Millisecond), stored[1], late(3500 * time.Millisecond),
				stored[2], late(4500 * time.Millisecond), stored[3], late(5500 * time.Millisecond), stored[19]},
			"[true false true false true false true false true false]"},
	}
	accepted := len(stored)
	for _, st := range steps {
		res := save(t, s, tenant, now, Group{Fixes: st.fixes})
		if got := fmt.Sprint(res.PerGroup[0].Stored); got != st.want {
			t.Errorf("%s: stored %s, want %s", st.name, got, st.want)
		}
		accepted += res.Accepted
	}
	if n := len(allHistory(t, s, tenant, "d")); n != accepted || accepted != len(stored)+7 {
		t.Errorf("history has %d points, accepted %d, want %d", n, accepted, len(stored)+7)
	}
	if f := latest(t, s, tenant, "d"); !f.TS.Equal(b0.Add(time.Minute)) {
		t.Errorf("latest = %s, want the one-minute point", fix.FormatTime(f.TS))
	}
}

func testLateDedupAcrossBuckets(t *testing.T, s *Store, tenant string) {
	now := at(time.Hour)
	var first []fix.Fix
	for i := 0; i < 30; i++ { // 30 minutes: three or four buckets
		first = append(first, mkFix("d", at(time.Duration(i)*time.Minute), 1, float64(i)))
	}
	if res := save(t, s, tenant, now, Group{Fixes: first}); res.Accepted != 30 {
		t.Fatalf("first Save = %+v", res)
	}
	// Resent one by one and in a batch, mixed with new late points: only
	// the new ones are stored; the latest stays.
	for _, i := range []int{0, 9, 10, 29} {
		if res := save(t, s, tenant, now, Group{Fixes: []fix.Fix{first[i]}}); res.Accepted != 0 || res.Duplicates != 1 {
			t.Errorf("resend of point %d = %+v, want a duplicate", i, res)
		}
	}
	mixed := []fix.Fix{first[3], mkFix("d", at(3*time.Minute+time.Second), 2, 2), first[17], mkFix("d", at(17*time.Minute+time.Millisecond), 2, 3)}
	res := save(t, s, tenant, now, Group{Fixes: mixed})
	if res.Accepted != 2 || fmt.Sprint(res.PerGroup[0].Stored) != "[false true false true]" {
		t.Errorf("mixed resend = %+v, want the two new points stored", res)
	}
	if n := len(allHistory(t, s, tenant, "d")); n != 32 {
		t.Errorf("history has %d points, want 32", n)
	}
	if f := latest(t, s, tenant, "d"); !f.TS.Equal(at(29 * time.Minute)) {
		t.Errorf("latest = %s, want the 29-minute point", fix.FormatTime(f.TS))
	}
}

func testPaginationAcrossBuckets(t *testing.T, s *Store, tenant string) {
	const n = 2500 // 1 Hz: five buckets
	var fixes []fix.Fix
	for i := n - 1; i >= 0; i-- { // newest first: readers sort
		fixes = append(fixes, mkFix("d", at(time.Duration(i)*time.Second), 1, float64(i)/1000))
	}
	save(t, s, tenant, at(time.Hour), Group{Fixes: fixes})
	ctx := context.Background()
	from, to := at(100*time.Second), at(2400*time.Second)
	var all []fix.Fix
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
		p, err := s.History(ctx, tenant, "d", from, to, 333, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Fixes...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(all) != 2301 {
		t.Fatalf("pages hold %d points, want 2301", len(all))
	}
	for i, f := range all {
		if want := at(time.Duration(100+i) * time.Second); !f.TS.Equal(want) {
			t.Fatalf("point %d at %s, want %s", i, fix.FormatTime(f.TS), fix.FormatTime(want))
		}
	}
}

func testTrimArchived(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	var fixes []fix.Fix
	for i := 0; i < 40; i++ {
		fixes = append(fixes, mkFix("d", at(time.Duration(i)*time.Minute), 1, 1))
	}
	save(t, s, tenant, at(time.Hour), Group{Fixes: fixes})
	before := at(25*time.Minute + 30*time.Second) // inside a bucket: 26 points before it
	// The archiver read 26 points; a late one arrived since: nothing goes.
	save(t, s, tenant, at(time.Hour), Group{Fixes: []fix.Fix{mkFix("d", at(5*time.Second), 2, 2)}})
	err := s.TrimArchived(ctx, tenant, "d", before, 26)
	if !errors.Is(err, ErrHistoryChanged) {
		t.Fatalf("TrimArchived with a late point = %v, want ErrHistoryChanged", err)
	}
	if n := len(allHistory(t, s, tenant, "d")); n != 41 {
		t.Fatalf("refused trim left %d points, want 41", n)
	}
	if err := s.TrimArchived(ctx, tenant, "d", before, 27); err != nil {
		t.Fatalf("TrimArchived: %v", err)
	}
	h := allHistory(t, s, tenant, "d")
	if len(h) != 14 || !h[0].TS.Equal(at(26*time.Minute)) {
		t.Fatalf("after trim: %d points from %v, want 14 from the 26th minute", len(h), timesOf(h[:1]))
	}
	if err := s.TrimArchived(ctx, tenant, "d", before, 0); err != nil {
		t.Errorf("TrimArchived of nothing: %v", err)
	}
	if err := s.TrimArchived(ctx, tenant, "d", before, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("TrimArchived(-1) = %v, want ErrInvalidArgument", err)
	}
	if err := s.TrimArchived(ctx, tenant, "nobody", before, 0); err != nil {
		t.Errorf("TrimArchived of a device without history: %v", err)
	}
}

func testTrimInsideBucket(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	var fixes []fix.Fix
	for i := 0; i < 120; i++ {
		fixes = append(fixes, mkFix("d", at(time.Duration(i)*5*time.Second), 1, 1))
	}
	save(t, s, tenant, at(time.Hour), Group{Fixes: fixes})
	for _, cut := range []time.Duration{17 * time.Second, 4 * time.Minute, 10 * time.Minute} {
		if err := s.TrimHistory(ctx, tenant, "d", at(cut)); err != nil {
			t.Fatal(err)
		}
		h := allHistory(t, s, tenant, "d")
		want := 120 - int((cut+5*time.Second-1)/(5*time.Second))
		if len(h) != want || len(h) > 0 && h[0].TS.Before(at(cut)) {
			t.Fatalf("trim before %v: %d points from %v, want %d", cut, len(h), timesOf(h[:min(1, len(h))]), want)
		}
	}
	// Trimmed to empty: the index holds no bucket of it.
	if err := s.TrimHistory(ctx, tenant, "d", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.client.ZCard(ctx, s.mustKeys(t, tenant).history("d")).Result(); err != nil || n != 0 {
		t.Errorf("index after trimming everything: %d entries, %v", n, err)
	}
}

func testKeepOld(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	now := at(0)
	old := []fix.Fix{mkFix("d", now.Add(-72*time.Hour), 1, 1), mkFix("d", now.Add(-5*time.Hour), 1, 2), mkFix("d", now, 1, 3)}
	res := save(t, s, tenant, now, Group{Fixes: old})
	if res.Accepted != 3 || res.TooOld != 0 {
		t.Fatalf("Save with KeepOld = %+v, want all 3 stored", res)
	}
	if n := len(allHistory(t, s, tenant, "d")); n != 3 {
		t.Fatalf("history has %d points, want 3", n)
	}
	k := s.mustKeys(t, tenant)
	n, _ := bucketOf(now.Add(-72 * time.Hour).UnixMilli())
	for _, key := range []string{k.history("d"), k.bucket("d", n)} {
		if ttl, err := s.client.PTTL(ctx, key).Result(); err != nil || ttl != -1 {
			t.Errorf("PTTL %s = %v, %v; want no expiry", key, ttl, err)
		}
	}
	// A resend of an old point is still a duplicate.
	if res := save(t, s, tenant, now, Group{Fixes: old[:1]}); res.Duplicates != 1 {
		t.Errorf("resend of an old point = %+v, want a duplicate", res)
	}
	// History written before keep old was turned on loses its expiry once
	// keep old writes to it, so it cannot expire before it is archived.
	plain := New(s.client, Options{HistoryRetention: time.Hour})
	save(t, plain, tenant, now, Group{Fixes: []fix.Fix{mkFix("e", now.Add(-time.Minute), 1, 1)}})
	if ttl, _ := s.client.PTTL(ctx, k.history("e")).Result(); ttl <= 0 {
		t.Fatalf("PTTL without keep old = %v, want an expiry", ttl)
	}
	save(t, s, tenant, now, Group{Fixes: []fix.Fix{mkFix("e", now.Add(time.Minute), 1, 2)}})
	if ttl, err := s.client.PTTL(ctx, k.history("e")).Result(); err != nil || ttl != -1 {
		t.Errorf("PTTL after a keep-old write = %v, %v; want no expiry", ttl, err)
	}
}

func testSealed(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	_, start := bucketOf(at(0).UnixMilli())
	t0 := time.UnixMilli(start)
	// One fix per call, as one-fix requests arrive: APPEND grows greedily.
	for i := 0; i < 600; i++ {
		save(t, s, tenant, at(time.Hour), Group{Fixes: []fix.Fix{{Device: "d", TS: t0.Add(time.Duration(i) * time.Second), Lat: 1, Lon: 2}}})
	}
	k := s.mustKeys(t, tenant)
	key := k.bucket("d", start/bucketMS)
	size := func() (int64, int64) {
		n, err := s.client.StrLen(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		u, err := s.client.MemoryUsage(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n, u
	}
	n, open := size()
	if n != 600*12 {
		t.Fatalf("bucket holds %d bytes, want 600 records of 12", n)
	}
	// The next bucket's first fix seals this one at its exact size.
	save(t, s, tenant, at(time.Hour), Group{Fixes: []fix.Fix{{Device: "d", TS: t0.Add(bucketWidth), Lat: 1, Lon: 2}}})
	n2, sealed := size()
	if n2 != n || sealed >= open || float64(sealed) > float64(n)*1.15+100 {
		t.Errorf("sealed bucket: %d bytes of data in %d of memory (open: %d); want about the data's size", n2, sealed, open)
	}
	if ttl, err := s.client.PTTL(ctx, key).Result(); err != nil || ttl <= 0 {
		t.Errorf("sealed bucket PTTL = %v, %v; want its expiry kept", ttl, err)
	}
}

func testLegacyMembers(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	k := s.mustKeys(t, tenant)
	// Points written by the JSON layout before an upgrade stay readable
	// and trimmable.
	old := mkFix("d", at(30*time.Second), 3, 3)
	if err := s.client.ZAdd(ctx, k.history("d"), redis.Z{Score: float64(old.TS.UnixMilli()), Member: string(old.AppendJSON(nil))}).Err(); err != nil {
		t.Fatal(err)
	}
	save(t, s, tenant, at(time.Hour), Group{Fixes: []fix.Fix{mkFix("d", at(10*time.Second), 1, 1), mkFix("d", at(50*time.Second), 5, 5)}})
	h := allHistory(t, s, tenant, "d")
	if got := fmt.Sprint(timesOf(h)); got != fmt.Sprint([]string{fix.FormatTime(at(10 * time.Second)), fix.FormatTime(at(30 * time.Second)), fix.FormatTime(at(50 * time.Second))}) || h[1].Lat != 3 {
		t.Fatalf("history = %v", got)
	}
	if err := s.TrimArchived(ctx, tenant, "d", at(40*time.Second), 2); err != nil {
		t.Fatalf("TrimArchived over a legacy point: %v", err)
	}
	if h := allHistory(t, s, tenant, "d"); len(h) != 1 || h[0].Lat != 5 {
		t.Errorf("after trim: %v", timesOf(h))
	}
}

func testLegacyPaged(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	k := s.mustKeys(t, tenant)
	// 900 old-layout points on even seconds, 900 new ones on odd seconds.
	var zs []redis.Z
	var fresh []fix.Fix
	for i := 0; i < 900; i++ {
		old := mkFix("d", at(time.Duration(2*i)*time.Second), 1, 1)
		zs = append(zs, redis.Z{Score: float64(old.TS.UnixMilli()), Member: string(old.AppendJSON(nil))})
		fresh = append(fresh, mkFix("d", at(time.Duration(2*i+1)*time.Second), 2, 2))
	}
	if err := s.client.ZAdd(ctx, k.history("d"), zs...).Err(); err != nil {
		t.Fatal(err)
	}
	save(t, s, tenant, at(time.Hour), Group{Fixes: fresh})
	var all []fix.Fix
	cursor := ""
	for pages := 0; pages < 20; pages++ {
		p, err := s.History(ctx, tenant, "d", time.Time{}, time.Time{}, 250, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Fixes...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(all) != 1800 {
		t.Fatalf("pages hold %d points, want 1800", len(all))
	}
	for i, f := range all {
		if !f.TS.Equal(at(time.Duration(i) * time.Second)) {
			t.Fatalf("point %d at %s, want %s", i, fix.FormatTime(f.TS), fix.FormatTime(at(time.Duration(i)*time.Second)))
		}
	}
}
