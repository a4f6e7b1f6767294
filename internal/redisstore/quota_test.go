package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/fix"
)

// testDeviceQuota: with a device quota, new devices beyond it are refused
// (nothing of them stored, no device set entry), known devices and the rest
// of the call proceed; the operator's override wins over the default, also
// when it is below what the tenant holds; another tenant counts its own.
func testDeviceQuota(t *testing.T, plain *Store, tenant string) {
	ctx := context.Background()
	s := New(plain.client, Options{DeviceQuota: 3})
	policies := NewPolicies(plain.client, "")
	other := tenant + "-other"
	one := func(device string, d time.Duration) fix.Fix { return mkFix(device, at(d), 1, 1) }

	type step struct {
		name         string
		quota        int // operator override to set before the call (-1: leave)
		tenant       string
		groups       []Group
		accepted     int
		overQuota    int
		wantQuota    int      // SaveResult.DeviceQuota when overQuota > 0
		stored       [][]bool // per group
		wantDevices  []string // the tenant's device set afterwards
		groupTooFull []bool   // per group: duplicate event expected
	}
	steps := []step{
		{name: "two devices fit", quota: -1, tenant: tenant,
			groups:   []Group{{Fixes: []fix.Fix{one("d1", 0), one("d2", 0)}}},
			accepted: 2, stored: [][]bool{{true, true}}, wantDevices: []string{"d1", "d2"}},
		{name: "the third fits, the fourth and fifth do not; d1 still accepted", quota: -1, tenant: tenant,
			groups:   []Group{{Source: "/gw", ID: "e1", Fixes: []fix.Fix{one("d3", time.Second), one("d4", time.Second), one("d1", time.Second), one("d5", time.Second), one("d4", 2*time.Second)}}},
			accepted: 2, overQuota: 3, wantQuota: 3, stored: [][]bool{{true, false, true, false, false}}, wantDevices: []string{"d1", "d2", "d3"}},
		{name: "a request of only a new device is refused whole", quota: -1, tenant: tenant,
			groups:    []Group{{Source: "/gw", ID: "e2", Fixes: []fix.Fix{one("d6", 3*time.Second)}}},
			overQuota: 1, wantQuota: 3, stored: [][]bool{{false}}, wantDevices: []string{"d1", "d2", "d3"}},
		{name: "another tenant counts its own devices", quota: -1, tenant: other,
			groups:   []Group{{Fixes: []fix.Fix{one("d4", 0), one("d5", 0), one("d6", 0)}}},
			accepted: 3, stored: [][]bool{{true, true, true}}, wantDevices: []string{"d4", "d5", "d6"}},
		{name: "the override raises the quota; the refused event is not a duplicate", quota: 4, tenant: tenant,
			groups:   []Group{{Source: "/gw", ID: "e2", Fixes: []fix.Fix{one("d6", 3*time.Second)}}},
			accepted: 1, stored: [][]bool{{true}}, wantDevices: []string{"d1", "d2", "d3", "d6"}},
		{name: "an override below the holding refuses new ones only", quota: 1, tenant: tenant,
			groups:   []Group{{Fixes: []fix.Fix{one("d2", 4*time.Second), one("d7", 4*time.Second)}}},
			accepted: 1, overQuota: 1, wantQuota: 1, stored: [][]bool{{true, false}}, wantDevices: []string{"d1", "d2", "d3", "d6"}},
		{name: "override removed: back to the default of 3, still full", quota: 0, tenant: tenant,
			groups:   []Group{{Fixes: []fix.Fix{one("d8", 5*time.Second)}}, {Fixes: []fix.Fix{one("d3", 5*time.Second)}}},
			accepted: 1, overQuota: 1, wantQuota: 3, stored: [][]bool{{false}, {true}}, wantDevices: []string{"d1", "d2", "d3", "d6"}},
	}
	for _, st := range steps {
		if st.quota >= 0 {
			if err := policies.SetQuota(ctx, tenant, QuotaDevices, st.quota); err != nil {
				t.Fatalf("%s: SetQuota: %v", st.name, err)
			}
		}
		res := save(t, s, st.tenant, at(time.Minute), st.groups...)
		if res.Accepted != st.accepted || res.OverQuota != st.overQuota {
			t.Fatalf("%s: accepted %d, over quota %d; want %d, %d", st.name, res.Accepted, res.OverQuota, st.accepted, st.overQuota)
		}
		if st.overQuota > 0 && res.DeviceQuota != st.wantQuota {
			t.Fatalf("%s: device quota %d, want %d", st.name, res.DeviceQuota, st.wantQuota)
		}
		for gi, gr := range res.PerGroup {
			if gr.Duplicate || !slices.Equal(gr.Stored, st.stored[gi]) {
				t.Fatalf("%s: group %d duplicate %v stored %v; want false, %v", st.name, gi, gr.Duplicate, gr.Stored, st.stored[gi])
			}
			if gr.Accepted+gr.DupFixes+gr.OverQuota != len(st.groups[gi].Fixes) {
				t.Fatalf("%s: group %d counts %+v do not add up to %d fixes", st.name, gi, gr, len(st.groups[gi].Fixes))
			}
		}
		devices, err := s.Devices(ctx, st.tenant)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(devices)
		if !slices.Equal(devices, st.wantDevices) {
			t.Fatalf("%s: devices %v, want %v", st.name, devices, st.wantDevices)
		}
	}
	// Nothing of a refused device was stored.
	for _, d := range []string{"d4", "d5", "d7", "d8"} {
		if h := allHistory(t, s, tenant, d); len(h) != 0 {
			t.Fatalf("refused device %s has history %v", d, timesOf(h))
		}
		if _, ok, err := s.Latest(ctx, tenant, d); err != nil || ok {
			t.Fatalf("refused device %s has a latest position (%v, %v)", d, ok, err)
		}
	}
	if h := allHistory(t, s, tenant, "d1"); len(h) != 2 {
		t.Fatalf("d1 has %d points, want 2", len(h))
	}
	// An edge node's store (DeviceQuota < 0) keeps what it forwards, even
	// with an override in its Redis: the cloud enforces.
	if err := policies.SetQuota(ctx, tenant, QuotaDevices, 1); err != nil {
		t.Fatal(err)
	}
	edge := New(plain.client, Options{DeviceQuota: -1})
	if res := save(t, edge, tenant, at(time.Minute), Group{Fixes: []fix.Fix{one("d9", 6*time.Second)}}); res.Accepted != 1 || res.OverQuota != 0 {
		t.Fatalf("edge store: accepted %d, over quota %d; want 1, 0", res.Accepted, res.OverQuota)
	}
}

// testDeviceQuotaManyNew: one call of many new devices (more than the
// script's chunk of 500) admits exactly up to the quota, in call order.
func testDeviceQuotaManyNew(t *testing.T, plain *Store, tenant string) {
	s := New(plain.client, Options{DeviceQuota: 700})
	fixes := make([]fix.Fix, 1000)
	for i := range fixes {
		fixes[i] = mkFix(fmt.Sprintf("dev%04d", i), at(0), 1, 1)
	}
	res := save(t, s, tenant, at(time.Minute), Group{Fixes: fixes})
	if res.Accepted != 700 || res.OverQuota != 300 || res.DeviceQuota != 700 {
		t.Fatalf("accepted %d, over quota %d, quota %d; want 700, 300, 700", res.Accepted, res.OverQuota, res.DeviceQuota)
	}
	for i, ok := range res.PerGroup[0].Stored {
		if ok != (i < 700) {
			t.Fatalf("fix %d stored %v", i, ok)
		}
	}
	if n, err := s.client.SCard(context.Background(), s.mustKeys(t, tenant).devices()).Result(); err != nil || n != 700 {
		t.Fatalf("device set holds %d (%v), want 700", n, err)
	}
}

// testQuotaOverrides: the fence and rule quota overrides are read back, the
// rule override caps PutRule (replacing a rule still works at the cap), and
// setting a quota keeps the rate overrides.
func testQuotaOverrides(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	policies := NewPolicies(s.client, "")
	if q, err := s.FenceQuota(ctx, tenant); err != nil || q != 0 {
		t.Fatalf("fence quota before any override: %d, %v", q, err)
	}
	for _, f := range []QuotaField{QuotaFences, QuotaRules} {
		if err := policies.SetQuota(ctx, tenant, f, 2); err != nil {
			t.Fatal(err)
		}
	}
	if q, err := s.FenceQuota(ctx, tenant); err != nil || q != 2 {
		t.Fatalf("fence quota: %d, %v; want 2", q, err)
	}
	alerts := NewAlerts(s.client, 0)
	rule := func(id string) alert.Rule {
		return alert.Rule{ID: id, Name: id, On: []string{"location.updated"}}
	}
	for _, id := range []string{"r1", "r2", "r1"} {
		if err := alerts.PutRule(ctx, tenant, rule(id)); err != nil {
			t.Fatalf("PutRule %s: %v", id, err)
		}
	}
	err := alerts.PutRule(ctx, tenant, rule("r3"))
	if !errors.Is(err, alert.ErrTooManyRules) {
		t.Fatalf("third rule: %v, want ErrTooManyRules", err)
	}
	if err := policies.SetQuota(ctx, tenant, QuotaRules, 0); err != nil {
		t.Fatal(err)
	}
	if err := alerts.PutRule(ctx, tenant, rule("r3")); err != nil {
		t.Fatalf("third rule after the override was removed: %v", err)
	}
	for _, bad := range []struct {
		field QuotaField
		n     int
	}{{"cars", 1}, {QuotaDevices, -1}} {
		if err := policies.SetQuota(ctx, tenant, bad.field, bad.n); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("SetQuota(%s, %d): %v, want ErrInvalidArgument", bad.field, bad.n, err)
		}
	}
	q, err := policies.Quotas(ctx, tenant)
	if err != nil || q != (Quotas{Fences: 2}) {
		t.Fatalf("quotas %+v, %v; want fences 2 only", q, err)
	}
}
