package redisstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
)

// testEventDedupWindow: an event id is a duplicate for DedupTTL after it was
// first seen (and at most DedupTTL/2048 longer), then it is a new event
// again; a conflict is flagged within the window, whichever dedup bucket the
// mark sits in.
func testEventDedupWindow(t *testing.T, s *Store, tenant string) {
	ttl := time.Hour
	s = New(s.client, Options{DedupTTL: ttl})
	first := base
	g := func(lat float64) Group {
		return Group{Source: "/gw", ID: "evt-1", Fixes: []fix.Fix{mkFix("d", first.Add(-time.Minute), lat, 1)}}
	}
	cases := []struct {
		name      string
		now       time.Time
		group     Group
		duplicate bool
		conflict  bool
	}{
		{"first delivery", first, g(1), false, false},
		{"redelivery at once", first, g(1), true, false},
		{"redelivery just within the window", first.Add(ttl - time.Second), g(1), true, false},
		{"other data within the window", first.Add(ttl - time.Second), g(2), true, true},
		{"after the window: a new event", first.Add(ttl + ttl/2048 + time.Second), g(1), false, false},
		{"redelivery of that", first.Add(ttl + ttl/2048 + 2*time.Second), g(1), true, false},
		{"its window, from its own mark", first.Add(2*ttl + ttl/2048), g(3), true, true},
		{"after its window", first.Add(2*ttl + 2*ttl/2048 + 2*time.Second), g(1), false, false},
	}
	for _, tc := range cases {
		res := save(t, s, tenant, tc.now, tc.group)
		if gr := res.PerGroup[0]; gr.Duplicate != tc.duplicate || gr.Conflict != tc.conflict {
			t.Fatalf("%s: %+v, want duplicate %v conflict %v", tc.name, gr, tc.duplicate, tc.conflict)
		}
	}
}

// testEventDedupCompact: many event ids fill several generations of small
// listpack HASHes, every one of them is still a duplicate when redelivered,
// and the keys expire with their bucket.
func testEventDedupCompact(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	now := base
	const events = 30000
	groups := make([]Group, events)
	for i := range groups {
		groups[i] = Group{Source: "/gw", ID: fmt.Sprintf("e%d", i),
			Fixes: []fix.Fix{mkFix(fmt.Sprintf("d%d", i%100), now.Add(-time.Duration(i)*time.Millisecond), 1, 1)}}
	}
	if res := save(t, s, tenant, now, groups...); res.Accepted != events || res.Conflicts != 0 {
		t.Fatalf("first delivery: accepted %d conflicts %d, want %d and 0", res.Accepted, res.Conflicts, events)
	}
	// Redelivered with other fixes: every group is a duplicate event (not
	// just duplicate fixes) and a conflict.
	for i := range groups {
		groups[i].Fixes = []fix.Fix{mkFix("other", now.Add(-time.Duration(i)*time.Millisecond), 2, 2)}
	}
	res := save(t, s, tenant, now.Add(time.Minute), groups...)
	dups, conflicts := 0, 0
	for _, gr := range res.PerGroup {
		if gr.Duplicate {
			dups++
		}
		if gr.Conflict {
			conflicts++
		}
	}
	// A 12-bit digest misses a conflict with probability 1/4096.
	if dups != events || res.Accepted != 0 || conflicts < events-events/100 {
		t.Fatalf("redelivery: %d duplicate events, %d accepted, %d conflicts; want %d, 0, ~%d", dups, res.Accepted, conflicts, events, events)
	}

	keys := dedupKeys(t, s, tenant)
	if len(keys) < 2*events/(64*80) {
		t.Fatalf("%d dedup keys for %d marks; want several generations", len(keys), events)
	}
	for _, key := range keys {
		enc, err := s.client.ObjectEncoding(ctx, key).Result()
		if err != nil || enc != "listpack" {
			t.Fatalf("%s: encoding %q, %v; want listpack", key, enc, err)
		}
		ttl, err := s.client.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > 2*DefaultDedupTTL+time.Minute {
			t.Fatalf("%s: PTTL %v, %v; want within (0, 2×DedupTTL]", key, ttl, err)
		}
	}
}

// dedupKeys lists the tenant's dedup keys (on the tenant's node of a cluster).
func dedupKeys(t *testing.T, s *Store, tenant string) []string {
	t.Helper()
	ctx := context.Background()
	k := s.mustKeys(t, tenant)
	var scanner redis.Cmdable = s.client
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, k.geo())
		if err != nil {
			t.Fatal(err)
		}
		scanner = node
	}
	var keys []string
	iter := scanner.Scan(ctx, 0, k.base+"s[dm]:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}
