package testenv

import (
	"context"
	"testing"

	"github.com/geotrack/geotrack/internal/localserver"
)

// RedisOption configures StartRedis.
type RedisOption func(*localserver.RedisConfig)

// WithAppendOnly turns on the append-only file (appendfsync always), so data
// survives Restart and Kill, for durability tests.
func WithAppendOnly() RedisOption {
	return func(c *localserver.RedisConfig) { c.AppendOnly = true }
}

// WithPassword starts the server with requirepass; URL then carries it.
func WithPassword(password string) RedisOption {
	return func(c *localserver.RedisConfig) { c.Password = password }
}

// WithArgs appends raw redis-server arguments, e.g. "--maxmemory", "10mb".
func WithArgs(args ...string) RedisOption {
	return func(c *localserver.RedisConfig) { c.Args = append(c.Args, args...) }
}

// Redis is one redis-server started by StartRedis. Its fields (Addr, URL,
// Port, PID, Dir, Password) and Stop, Kill, Running and LogTail come from
// localserver.Redis.
type Redis struct {
	*localserver.Redis
}

// StartRedis starts a redis-server on a free loopback port in a temp dir and
// waits until it answers PING. It is stopped by t.Cleanup.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	cfg := localserver.RedisConfig{Dir: t.TempDir()}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := localserver.StartRedis(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stopOnCleanup(t, "redis-server", r.Addr, r.Stop, r.LogTail)
	return &Redis{Redis: r}
}

// Restart stops the server if it runs and starts it again on the same port
// and dir, so AOF data written before is loaded again.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	if err := r.Redis.Restart(context.Background()); err != nil {
		t.Fatalf("testenv: restart: %v", err)
	}
}

// stopOnCleanup stops a server when t ends and logs the tail of its log if
// t failed.
func stopOnCleanup(t testing.TB, name, addr string, stop func(), logTail func(int) string) {
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("testenv: %s %s log tail:\n%s", name, addr, logTail(30))
		}
	})
}
