package localserver

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/poll"
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
// cluster-enabled redis-servers in dir/node-N, joins them with
// `redis-cli --cluster create ... --cluster-replicas 0` and waits until every
// node reports cluster_state:ok and knows all the others. On error the nodes
// started are stopped; otherwise the caller stops them with Stop.
func StartRedisCluster(ctx context.Context, dir string, masters int) (c *Cluster, err error) {
	if masters < 3 {
		return nil, fmt.Errorf("a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	cli, err := findBinary("redis-cli", []string{"/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"}, redisInstallHint)
	if err != nil {
		return nil, err
	}
	c = &Cluster{}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for i := 0; i < masters; i++ {
		node, err := StartRedis(ctx, RedisConfig{Dir: filepath.Join(dir, "node-"+strconv.Itoa(i)), Cluster: true})
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, node)
		c.Addrs = append(c.Addrs, node.Addr)
	}
	c.URL = "redis+cluster://" + strings.Join(c.Addrs, ",")

	ctx, cancel := context.WithTimeout(ctx, clusterReadyTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitOK(ctx, masters); err != nil {
		return nil, fmt.Errorf("cluster not ready: %w\nredis-cli output:\n%s", err, out)
	}
	return c, nil
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
		client := newClient(addr, "")
		err := poll.Until(ctx, 0, 50*time.Millisecond, func(ctx context.Context) error {
			info, err := client.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
				return fmt.Errorf("CLUSTER INFO: %s", info)
			}
			return nil
		})
		client.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
	}
	return nil
}
