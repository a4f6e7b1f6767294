package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestCluster runs the store scenarios of store_test.go against a real
// 3-master Redis Cluster: the Lua script must only touch keys of one slot.
func TestCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	// Both accepted cluster URL forms give a cluster client.
	for _, u := range []string{c.URL, "redis://" + strings.Join(c.Addrs, ",") + "?cluster=true"} {
		client, err := Open(u)
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		if _, ok := client.(*redis.ClusterClient); !ok {
			t.Fatalf("Open(%s) = %T, want *redis.ClusterClient", u, client)
		}
		if err := client.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("Ping via %s: %v", u, err)
		}
		client.Close()
	}
	client, err := Open(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	runScenarios(t, client)
	runGeofenceScenarios(t, client)

	t.Run("tenants spread over shards", func(t *testing.T) {
		// Different tenants' keys land on different masters, each tenant's on one.
		ctx := context.Background()
		s := New(client, Options{})
		cc := client.(*redis.ClusterClient)
		masters := map[string]bool{}
		for _, tenant := range []string{"acme", "globex", "initech", "umbrella", "hooli", "stark"} {
			save(t, s, tenant, time.Now(), Group{Fixes: []fix.Fix{mkFix("d1", base, 1, 1), mkFix("d2", base, 2, 2)}})
			k := s.mustKeys(t, tenant)
			var owner string
			for _, key := range []string{k.geo(), k.last(), k.lastTS(), k.devices(), k.history("d1"), k.history("d2")} {
				node, err := cc.MasterForKey(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				addr := node.Options().Addr
				if owner != "" && addr != owner {
					t.Fatalf("tenant %s: key %s on %s, others on %s", tenant, key, addr, owner)
				}
				owner = addr
			}
			masters[owner] = true
		}
		if len(masters) < 2 {
			t.Errorf("6 tenants all on %v; hash tags should spread tenants", masters)
		}
	})
}

// openClient opens url's client (a single server or a Cluster) for t and
// closes it when t ends.
func openClient(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	client, err := Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}
