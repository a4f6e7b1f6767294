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
