package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterReadyTimeout bounds cluster creation plus gossip convergence.
const clusterReadyTimeout = 60 * time.Second

// Cluster is a Redis Cluster of masters only, started by StartRedisCluster.
type Cluster struct {
	Addrs []string // 127.0.0.1:port of every master
	// URL is the cluster form redisstore.Open accepts:
	// redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...
	URL   string
	Nodes []*Redis
}

// StartRedisCluster starts masters (at least 3, as redis-cli requires)
// cluster-enabled redis-servers, joins them with
// `redis-cli --cluster create ... --cluster-replicas 0` and waits until every
// node reports cluster_state:ok and knows all the others. Every node is
// stopped by t.Cleanup.
func StartRedisCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("testenv: a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	cli := redisBinary(t, "redis-cli")
	c := &Cluster{}
	for i := 0; i < masters; i++ {
		node := StartRedis(t, func(c *redisConfig) { c.clusterBus = true })
		c.Nodes = append(c.Nodes, node)
		c.Addrs = append(c.Addrs, node.Addr)
	}
	c.URL = "redis+cluster://" + strings.Join(c.Addrs, ",")

	ctx, cancel := context.WithTimeout(context.Background(), clusterReadyTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(ctx, masters); err != nil {
		t.Fatalf("testenv: cluster not ready: %v\nredis-cli output:\n%s", err, out)
	}
	return c
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

func (c *Cluster) waitOK(ctx context.Context, masters int) error {
	want := "cluster_known_nodes:" + strconv.Itoa(masters)
	for _, addr := range c.Addrs {
		var last string
		for {
			info, err := command(addr, "", "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, want) {
				break
			}
			if err != nil {
				last = err.Error()
			} else {
				last = info
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w; last CLUSTER INFO: %s", addr, ctx.Err(), last)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}
