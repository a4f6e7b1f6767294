package testenv

import (
	"context"
	"testing"

	"github.com/geotrack/geotrack/internal/localserver"
)

// Cluster is a Redis Cluster of masters only, started by StartRedisCluster;
// Addrs, URL, Nodes and Stop come from localserver.Cluster.
type Cluster struct {
	*localserver.Cluster
}

// StartRedisCluster starts masters (at least 3, as redis-cli requires)
// cluster-enabled redis-servers, joins them and waits until every node
// reports cluster_state:ok and knows all the others. Every node is stopped
// by t.Cleanup.
func StartRedisCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	c, err := localserver.StartRedisCluster(context.Background(), t.TempDir(), masters)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for _, n := range c.Nodes {
		stopOnCleanup(t, "redis-server", n.Addr, n.Stop, n.LogTail)
	}
	return &Cluster{Cluster: c}
}

// OnSingleAndCluster runs test against a single redis-server and against a
// 3-master Redis Cluster, as subtests "single" and "cluster", each server
// started inside its subtest (so -run selects one) and stopped with it.
// Code under test must work on both: a Cluster refuses a script whose keys
// span slots.
func OnSingleAndCluster(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("single", func(t *testing.T) { test(t, StartRedis(t).URL) })
	t.Run("cluster", func(t *testing.T) { test(t, StartRedisCluster(t, 3).URL) })
}
