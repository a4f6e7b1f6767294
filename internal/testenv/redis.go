package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// RedisOption configures StartRedis.
type RedisOption func(*redisConfig)

type redisConfig struct {
	appendOnly bool
	password   string
	args       []string
	clusterBus bool
}

// WithAppendOnly turns on the append-only file (appendfsync always), so data
// survives Restart and Kill, for durability tests.
func WithAppendOnly() RedisOption {
	return func(c *redisConfig) { c.appendOnly = true }
}

// WithPassword starts the server with requirepass; URL then carries it.
func WithPassword(password string) RedisOption {
	return func(c *redisConfig) { c.password = password }
}

// WithArgs appends raw redis-server arguments, e.g. "--maxmemory", "10mb".
func WithArgs(args ...string) RedisOption {
	return func(c *redisConfig) { c.args = append(c.args, args...) }
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

// StartRedis starts a redis-server on a free loopback port in a temp dir and
// waits until it answers PING. It is stopped by t.Cleanup.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	var cfg redisConfig
	for _, o := range opts {
		o(&cfg)
	}
	r := &Redis{Dir: t.TempDir(), Password: cfg.password}
	logPath := filepath.Join(r.Dir, "redis.log")
	bus := 0
	args := func(port int) []string {
		appendOnly := "no"
		if cfg.appendOnly {
			appendOnly = "yes"
		}
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", r.Dir,
			"--save", "",
			"--appendonly", appendOnly,
			"--appendfsync", "always",
			"--daemonize", "no",
			"--logfile", logPath,
		}
		if cfg.password != "" {
			args = append(args, "--requirepass", cfg.password)
		}
		if cfg.clusterBus {
			// The cluster bus gets its own free port (cluster-port, Redis >= 7)
			// instead of port+10000, which may be taken or beyond 65535. It is
			// re-picked with the main port and kept on Restart.
			if port != r.Port || bus == 0 {
				bus, _ = freePort()
			}
			args = append(args, "--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "5000",
				"--cluster-port", strconv.Itoa(bus))
		}
		return append(args, cfg.args...)
	}
	r.srv = server{
		name:    "redis-server",
		bin:     redisBinary(t, "redis-server"),
		dir:     r.Dir,
		logPath: logPath,
		args:    args,
		ready:   func(addr string) error { return pong(addr, cfg.password) },
	}
	r.srv.stopOnCleanup(t)
	r.launch(t, 0)
	return r
}

// Stop terminates the server (SIGTERM, SIGKILL after a grace period) and
// reaps it. It is idempotent; the data dir is kept for Restart.
func (r *Redis) Stop() { r.srv.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (r *Redis) Kill() { r.srv.signal(syscall.SIGKILL) }

// Restart stops the server if it runs and starts it again on the same port
// and dir, so AOF data written before is loaded again.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	r.launch(t, r.Port)
}

// Running reports whether the server process is alive (not yet reaped).
func (r *Redis) Running() bool { return r.srv.running() }

// LogTail returns the last n lines of the server log, for failure messages.
func (r *Redis) LogTail(n int) string { return r.srv.logTail(n) }

// launch starts the server on port, or on a fresh free port when port is 0.
func (r *Redis) launch(t testing.TB, port int) {
	t.Helper()
	r.srv.launch(t, port, func(port, pid int, addr string) {
		r.Port, r.PID, r.Addr = port, pid, addr
		if r.Password != "" {
			r.URL = "redis://:" + r.Password + "@" + addr + "/0"
		} else {
			r.URL = "redis://" + addr + "/0"
		}
	})
}

// pong reports nil once PING answers +PONG; LOADING replies (AOF replay)
// are errors, so waitReady keeps waiting.
func pong(addr, password string) error {
	reply, err := command(addr, password, "PING")
	if err == nil && reply != "PONG" {
		err = fmt.Errorf("PING replied %q", reply)
	}
	return err
}

// redisBinary finds name on PATH or in the usual Debian/Homebrew places.
func redisBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("testenv: %s not found on PATH or in /usr/bin: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)", name)
	return ""
}
