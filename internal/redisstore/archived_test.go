package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

func TestTrimArchivedRemovesOnlyWhatWasArchived(t *testing.T) {
	ctx := context.Background()
	r := testenv.StartRedis(t)
	client, err := redisstore.Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	store := redisstore.New(client, redisstore.Options{HistoryRetention: 30 * 24 * time.Hour})
	var fixes []fix.Fix
	for i := range 10 {
		fixes = append(fixes, fix.Fix{Device: "d1", TS: now.Add(-time.Duration(10-i) * time.Hour), Lat: 1, Lon: 2})
	}
	if _, err := store.Save(ctx, "acme", []redisstore.Group{{Fixes: fixes}}, now); err != nil {
		t.Fatal(err)
	}
	before := now.Add(-5 * time.Hour) // 5 points are older
	cases := []struct {
		name     string
		archived int
		wantErr  error
		wantLeft int
	}{
		{"count differs: a late fix", 4, redisstore.ErrHistoryChanged, 10},
		{"count differs the other way", 6, redisstore.ErrHistoryChanged, 10},
		{"count matches", 5, nil, 5},
		{"nothing left to trim, zero archived", 0, nil, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := store.TrimArchived(ctx, "acme", "d1", before, c.archived)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			page, err := store.History(ctx, "acme", "d1", time.Time{}, time.Time{}, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Fixes) != c.wantLeft {
				t.Fatalf("%d points left, want %d", len(page.Fixes), c.wantLeft)
			}
		})
	}
	if err := store.TrimArchived(ctx, "bad{tenant}", "d1", before, 0); err == nil {
		t.Fatal("invalid tenant accepted")
	}
}

func TestTenantsFindsEveryTenantWithDevices(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	testenv.OnSingleAndCluster(t, func(t *testing.T, url string) {
		client, err := redisstore.Open(url)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		store := redisstore.New(client, redisstore.Options{})
		want := []string{"acme", "globex", "ten*ant [x]", "ünï"}
		for _, tenant := range want {
			if _, err := store.Save(ctx, tenant, []redisstore.Group{{Fixes: []fix.Fix{{Device: "d", TS: now, Lat: 1, Lon: 1}}}}, now); err != nil {
				t.Fatal(err)
			}
		}
		got, err := store.Tenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("tenants %q, want %q", got, want)
		}
	})
}
