package redisstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/privacy"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestEraseDevice seeds every key family a device leaves (and the same
// for a device whose id shares a prefix with it, and another tenant) and
// checks that only the erased device's traces go.
func TestEraseDevice(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	ctx := context.Background()
	s := New(client, Options{})
	now := time.Now()
	for _, tenant := range []string{"acme", "globex"} {
		for _, dev := range []string{"d1", "d10"} {
			var fixes []fix.Fix
			for i := range 30 {
				fixes = append(fixes, fix.Fix{Device: dev, TS: now.Add(-time.Duration(i) * 7 * time.Minute), Lat: 52, Lon: 13})
			}
			if _, err := s.Save(ctx, tenant, []Group{{ID: "ev-" + dev, Source: "urn:" + dev, Fixes: fixes}}, now); err != nil {
				t.Fatal(err)
			}
			base := "gt:{" + tenant + "}:"
			client.HSet(ctx, base+"prefs", dev, `{"retention":"24h"}`, "@version", 1)
			client.HSet(ctx, base+"rulestate", "r1\x1f"+dev, "{}")
			client.Set(ctx, base+"mv:"+dev, "{}", 0)
			client.Set(ctx, base+"gfstate:"+dev, "{}", 0)
			client.HSet(ctx, base+"alert:a-"+dev, "device", dev, "rule", "r1")
			client.ZAdd(ctx, base+"alerts", redisZ(1, "a-"+dev))
			client.RPush(ctx, base+"alerts:q:r1\x1f"+dev, "a-"+dev)
			client.ZAdd(ctx, base+"alerts:due", redisZ(1, "r1\x1f"+dev))
			client.XAdd(ctx, xadd(base+"eventlog", "ce", fmt.Sprintf(`{"type":"io.geotrack.geofence.entered","subject":%q}`, dev)))
			client.XAdd(ctx, xadd(base+"events", "data", fmt.Sprintf(`{"device":%q}`, dev)))
		}
		client.HSet(ctx, "gt:{"+tenant+"}:fences", "d1", `{"id":"d1"}`) // a fence whose id looks like a device
	}
	before := keysAndFields(t, client, "d10")

	p := NewPrivacy(client, "")
	erased, err := p.EraseDevice(ctx, "acme", "d1")
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"h", "hb", "last", "lastts", "geo", "devices", "prefs", "rulestate", "mv", "gfstate", "alert", "alerts:q", "alerts:due", "eventlog", "events"} {
		if erased[fam] == 0 {
			t.Errorf("nothing erased of %s: %v", fam, erased)
		}
	}
	if left := keysAndFields(t, client, "d1"); len(left) > 0 {
		var acme []string
		for _, k := range left {
			if strings.Contains(k, "{acme}") && !strings.Contains(k, "fences") {
				acme = append(acme, k)
			}
		}
		if len(acme) > 0 {
			t.Errorf("acme still names d1: %q", acme)
		}
	}
	// CloudEvent dedup marks (sm/sd hashes) hold only a fingerprint of
	// source+id, a data digest and a time slot: nothing names the device, and
	// they expire after DedupTTL. A redelivered event of the erased device is
	// still a duplicate meanwhile, which is what erasure wants. They must
	// survive the erasure of d1 (d10's and other tenants' marks share them).
	if n, _ := client.Keys(ctx, "gt:{acme}:sd:*").Result(); len(n) == 0 {
		t.Error("the tenant's dedup marks were deleted with d1")
	}
	if after := keysAndFields(t, client, "d10"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("d10 touched:\n before %q\n after  %q", before, after)
	}
	if _, ok, _ := s.Latest(ctx, "globex", "d1"); !ok {
		t.Error("globex's d1 erased with acme's")
	}
	if v, _ := client.HGet(ctx, "gt:{acme}:fences", "d1").Result(); v == "" {
		t.Error("a fence whose id is the device id was deleted")
	}
	if v, _ := client.HGet(ctx, "gt:{acme}:prefs", "@version").Int(); v != 2 {
		t.Errorf("preferences version %d, want 2 (bumped so caches reload)", v)
	}
	again, err := p.EraseDevice(ctx, "acme", "d1")
	if err != nil || len(again) != 0 {
		t.Errorf("second erasure: %v %v, want nothing left to erase", again, err)
	}

	// Tombstones and receipts name the device only by digest.
	at := time.UnixMilli(now.UnixMilli())
	if err := p.PutTombstone(ctx, "acme", "d1", at, "r1"); err != nil {
		t.Fatal(err)
	}
	stones, err := p.Tombstones(ctx, "acme")
	if err != nil || !stones[privacy.DeviceDigest("acme", "d1")].Equal(at) || len(stones) != 1 {
		t.Fatalf("tombstones %v %v", stones, err)
	}
	if err := p.SaveReceipt(ctx, "acme", "r1", []byte(`{"id":"r1"}`)); err != nil {
		t.Fatal(err)
	}
	if raw, ok, err := p.LoadReceipt(ctx, "acme", "r1"); err != nil || !ok || string(raw) != `{"id":"r1"}` {
		t.Errorf("receipt %s %v %v", raw, ok, err)
	}
	if _, ok, err := p.LoadReceipt(ctx, "globex", "r1"); err != nil || ok {
		t.Errorf("globex reads acme's receipt: %v %v", ok, err)
	}
}

// keysAndFields lists every key, field, member and entry naming device
// exactly (as the last key segment, a field, a member, a value or a JSON
// string), sorted.
func keysAndFields(t *testing.T, c redis.UniversalClient, device string) []string {
	t.Helper()
	ctx := context.Background()
	names := func(s string) bool {
		return s == device || strings.HasSuffix(s, ":"+device) || strings.HasSuffix(s, "\x1f"+device) || strings.Contains(s, `"`+device+`"`)
	}
	var out []string
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if names(k) {
			out = append(out, k)
			continue
		}
		var items []string
		switch c.Type(ctx, k).Val() {
		case "string":
			items = []string{c.Get(ctx, k).Val()}
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				items = append(items, f, v)
			}
		case "set":
			items = c.SMembers(ctx, k).Val()
		case "zset":
			items = c.ZRange(ctx, k, 0, -1).Val()
		case "list":
			items = c.LRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				for _, v := range m.Values {
					items = append(items, fmt.Sprint(v))
				}
			}
		}
		for _, it := range items {
			if names(it) {
				out = append(out, k+"|"+it)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestContainsWord(t *testing.T) {
	for _, tc := range []struct {
		s, device string
		want      bool
	}{
		{"seen:urn:d1\x1fev", "d1", true},
		{"seen:urn:d10\x1fev", "d1", false},
		{"seen:urn:xd1\x1fev", "d1", false},
		{"seen:src\x1fd1", "d1", true},
		{"seen:src\x1fd10-d1", "d1", false},
		{"seen:src/d1/x\x1fd10", "d1", true},
		{"seen:truck:00\x1fe", "truck:00", true},
	} {
		if got := containsWord(tc.s, tc.device); got != tc.want {
			t.Errorf("containsWord(%q, %q) = %v", tc.s, tc.device, got)
		}
	}
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

func xadd(stream, field, value string) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: stream, Values: []any{field, value}}
}
