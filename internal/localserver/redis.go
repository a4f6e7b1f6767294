package localserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisInstallHint is how to get redis-server when it is missing.
const redisInstallHint = "install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"

// RedisConfig says how to start a redis-server.
type RedisConfig struct {
	// Dir holds the data and redis.log; it is created if missing.
	Dir string
	// Port to listen on; 0 picks a free one (retried if taken meanwhile).
	Port int
	// AppendOnly turns on the append-only file (appendfsync always), so data
	// survives Restart and Kill.
	AppendOnly bool
	// Password starts the server with requirepass; URL then carries it.
	Password string
	// Cluster starts a cluster-enabled node (see StartRedisCluster).
	Cluster bool
	// Args are appended raw, e.g. "--maxmemory", "10mb".
	Args []string
}

// Redis is one redis-server started by StartRedis.
type Redis struct {
	Addr     string // 127.0.0.1:port
	URL      string // redis://[:password@]127.0.0.1:port/0
	Port     int
	PID      int // of the current process; changes on Restart
	Dir      string
	Password string

	srv server
}

// StartRedis starts a redis-server on 127.0.0.1 and waits until it answers
// PING. The caller stops it with Stop.
func StartRedis(ctx context.Context, cfg RedisConfig) (*Redis, error) {
	bin, err := findBinary("redis-server", []string{"/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"}, redisInstallHint)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("redis-server dir: %w", err)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	r := &Redis{Dir: dir, Password: cfg.Password}
	logPath := filepath.Join(dir, "redis.log")
	bus := 0
	args := func(port int) []string {
		appendOnly := "no"
		if cfg.AppendOnly {
			appendOnly = "yes"
		}
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", dir,
			"--save", "",
			"--appendonly", appendOnly,
			"--appendfsync", "always",
			"--daemonize", "no",
			"--logfile", logPath,
		}
		if cfg.Password != "" {
			args = append(args, "--requirepass", cfg.Password)
		}
		if cfg.Cluster {
			// The cluster bus gets its own free port (cluster-port, Redis >= 7)
			// instead of port+10000, which may be taken or beyond 65535. It is
			// re-picked with the main port and kept on Restart.
			if port != r.Port || bus == 0 {
				bus, _ = FreePort()
			}
			args = append(args, "--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "5000",
				"--cluster-port", strconv.Itoa(bus))
		}
		return append(args, cfg.Args...)
	}
	r.srv = server{
		name:    "redis-server",
		bin:     bin,
		dir:     dir,
		logPath: logPath,
		args:    args,
		ready:   func(ctx context.Context, addr string, pid int) error { return answersAs(ctx, addr, cfg.Password, pid) },
	}
	if err := r.launch(ctx, cfg.Port); err != nil {
		return nil, err
	}
	return r, nil
}

// Stop terminates the server (SIGTERM, SIGKILL after a grace period) and
// reaps it. It is idempotent; the data dir is kept for Restart.
func (r *Redis) Stop() { r.srv.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (r *Redis) Kill() { r.srv.signal(syscall.SIGKILL) }

// Restart stops the server if it runs and starts it again on the same port
// and dir, so AOF data written before is loaded again.
func (r *Redis) Restart(ctx context.Context) error {
	r.Stop()
	return r.launch(ctx, r.Port)
}

// Running reports whether the server process is alive (not yet reaped).
func (r *Redis) Running() bool { return r.srv.running() }

// LogTail returns the last n lines of the server log, for failure messages.
func (r *Redis) LogTail(n int) string { return r.srv.logTail(n) }

// launch starts the server on port, or on a fresh free port when port is 0.
func (r *Redis) launch(ctx context.Context, port int) error {
	return r.srv.launch(ctx, port, func(port, pid int, addr string) {
		r.Port, r.PID, r.Addr = port, pid, addr
		if r.Password != "" {
			r.URL = "redis://:" + r.Password + "@" + addr + "/0"
		} else {
			r.URL = "redis://" + addr + "/0"
		}
	})
}

// newClient is a client for readiness checks: one connection, no retries.
func newClient(addr, password string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, PoolSize: 1})
}

// Ping reports nil once a Redis server at addr (host:port) answers PING;
// LOADING replies (AOF replay) are errors, so a caller polling keeps waiting.
func Ping(ctx context.Context, addr, password string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	c := newClient(addr, password)
	defer c.Close()
	return c.Ping(ctx).Err()
}

// answersAs reports nil once the Redis server at addr is process pid: PING
// alone would be answered by another server already on a fixed port.
func answersAs(ctx context.Context, addr, password string, pid int) error {
	// A plain dial first: go-redis logs every refused connection.
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	c := newClient(addr, password)
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	want := "process_id:" + strconv.Itoa(pid)
	for _, line := range strings.Split(info, "\n") {
		if strings.TrimSpace(line) == want {
			// INFO answers while the AOF loads; PING says LOADING until done.
			return c.Ping(ctx).Err()
		}
	}
	return fmt.Errorf("%s is answered by another redis-server, not pid %d: %w", addr, pid, ErrPortInUse)
}
