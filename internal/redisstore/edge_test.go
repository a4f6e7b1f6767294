package redisstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestEdgeKeys: filter states and the raw log of the edge survive a round
// trip through a real Redis, and only devices with undecided fixes are idle.
func TestEdgeKeys(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	held := fix.Fix{Device: "d1", TS: now.Add(-time.Minute), Lat: 1, Lon: 2}

	t.Run("filter states", func(t *testing.T) {
		fs := NewFilterStates(client)
		states := map[string]edgefilter.State{
			"d1": {Version: edgefilter.StateVersion, Anchor: &held, Pending: []fix.Fix{held}}, // undecided fixes
			"d2": {Version: edgefilter.StateVersion, Last: &held},                             // nothing pending
		}
		if err := fs.Save(ctx, "acme", states, now); err != nil {
			t.Fatal(err)
		}
		got, err := fs.Load(ctx, "acme", []string{"d1", "d2", "d3"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || len(got["d1"].Pending) != 1 || got["d2"].Last == nil || !got["d2"].Last.TS.Equal(held.TS) {
			t.Fatalf("loaded %+v", got)
		}
		if other, err := fs.Load(ctx, "globex", []string{"d1"}); err != nil || len(other) != 0 {
			t.Fatalf("another tenant sees %v, %v", other, err)
		}
		cases := []struct {
			name   string
			cutoff time.Time
			want   map[string][]string
		}{
			{"quiet since before the cutoff", now.Add(time.Second), map[string][]string{"acme": {"d1"}}},
			{"pushed after the cutoff", now.Add(-time.Second), map[string][]string{}},
		}
		for _, tc := range cases {
			idle, err := fs.Idle(ctx, tc.cutoff, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(idle) != len(tc.want) || !slices.Equal(idle["acme"], tc.want["acme"]) {
				t.Errorf("%s: idle %v, want %v", tc.name, idle, tc.want)
			}
		}
		// Once d1's fixes are decided it is no longer idle.
		if err := fs.Save(ctx, "acme", map[string]edgefilter.State{"d1": {Version: edgefilter.StateVersion, Last: &held}}, now); err != nil {
			t.Fatal(err)
		}
		if idle, err := fs.Idle(ctx, now.Add(time.Hour), 10); err != nil || len(idle) != 0 {
			t.Fatalf("idle after flush: %v, %v", idle, err)
		}
	})

	t.Run("raw log", func(t *testing.T) {
		if err := NewRawLog(client, 0).Append(ctx, "acme", []fix.Fix{held}, now); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadRaw(ctx, client, time.Time{}, "", 10); err != nil || len(got) != 0 {
			t.Fatalf("retention 0 kept %v, %v", got, err)
		}
		other := fix.Fix{Device: "d2", TS: now, Lat: 3, Lon: 4}
		if err := NewRawLog(client, time.Hour).Append(ctx, "acme", []fix.Fix{held, other}, time.Now()); err != nil {
			t.Fatal(err)
		}
		all, err := ReadRaw(ctx, client, time.Time{}, "", 10)
		if err != nil || len(all) != 2 || all[0].Tenant != "acme" || all[0].Fix.Device != "d1" {
			t.Fatalf("all: %+v, %v", all, err)
		}
		one, err := ReadRaw(ctx, client, time.Time{}, "d2", 10)
		if err != nil || len(one) != 1 || one[0].Fix.Lat != 3 {
			t.Fatalf("device d2: %+v, %v", one, err)
		}
	})
}
