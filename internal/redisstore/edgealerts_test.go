package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestLastFixesNameTheEdge: the silence sweep learns each device's latest
// fix time and, for a fix an edge node marked, that node; on a single Redis
// and on a cluster (both keys are in the tenant's slot).
func TestLastFixesNameTheEdge(t *testing.T) {
	testenv.OnSingleAndCluster(t, func(t *testing.T, url string) { lastFixesNameTheEdge(t, openClient(t, url)) })
}

func lastFixesNameTheEdge(t *testing.T, client redis.UniversalClient) {
	ctx := context.Background()
	s := New(client, Options{})
	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	save(t, s, "acme", t0.Add(time.Minute), Group{Fixes: []fix.Fix{
		{Device: "cloud-1", TS: t0, Lat: 1, Lon: 1},
		{Device: "edge-1", TS: t0.Add(time.Second), Lat: 1, Lon: 1, Attrs: map[string]string{fix.AttrEdgeAlerts: "site-1", "x": "y"}},
	}})
	got, err := NewAlerts(client, time.Hour).LastFixes(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["cloud-1"].At.Equal(t0) || got["cloud-1"].Edge != "" ||
		!got["edge-1"].At.Equal(t0.Add(time.Second)) || got["edge-1"].Edge != "site-1" {
		t.Fatalf("last fixes: %+v", got)
	}
}

// TestSyncedAlertsMark: the edge's sync mark round-trips and is absent at
// first.
func TestSyncedAlertsMark(t *testing.T) {
	client := openClient(t, testenv.StartRedis(t).URL)
	ctx := context.Background()
	m := SyncedAlerts{Client: client}
	if _, ok, err := m.LoadMark(ctx); ok || err != nil {
		t.Fatalf("empty Redis: ok %v err %v", ok, err)
	}
	want := edge.SyncMark{Tenant: "acme", FenceVersion: 7, RulesETag: `"abc"`}
	if err := m.SaveMark(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := m.LoadMark(ctx); !ok || err != nil || got != want {
		t.Fatalf("mark: %+v %v %v, want %+v", got, ok, err, want)
	}
}
