package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// stopGrace is how long a server gets to exit after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// readyTimeout bounds the wait for PING; generous because AOF replay and
	// a shared 2-core CI box can both be slow.
	readyTimeout = 30 * time.Second
	// startAttempts retries start-up when a picked port was taken meanwhile.
	startAttempts = 5
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

	bin  string
	args func(port int) []string

	mu   sync.Mutex
	proc *process
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
}

// StartRedis starts a redis-server on a free loopback port in a temp dir and
// waits until it answers PING. It is stopped by t.Cleanup.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	var cfg redisConfig
	for _, o := range opts {
		o(&cfg)
	}
	r := &Redis{bin: redisBinary(t, "redis-server"), Dir: t.TempDir(), Password: cfg.password}
	bus := 0
	r.args = func(port int) []string {
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
			"--logfile", filepath.Join(r.Dir, "redis.log"),
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
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("testenv: redis %s log tail:\n%s", r.Addr, r.LogTail(30))
		}
	})
	r.launch(t, 0)
	return r
}

// Stop terminates the server (SIGTERM, SIGKILL after a grace period) and
// reaps it. It is idempotent; the data dir is kept for Restart.
func (r *Redis) Stop() { r.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (r *Redis) Kill() { r.signal(syscall.SIGKILL) }

// Restart stops the server if it runs and starts it again on the same port
// and dir, so AOF data written before is loaded again.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	r.launch(t, r.Port)
}

// Running reports whether the server process is alive (not yet reaped).
func (r *Redis) Running() bool {
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// LogTail returns the last n lines of the server log, for failure messages.
func (r *Redis) LogTail(n int) string {
	return tail(filepath.Join(r.Dir, "redis.log"), n)
}

func (r *Redis) signal(sig syscall.Signal) {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
	if p == nil {
		return
	}
	stopProcess(p, sig)
}

func stopProcess(p *process, sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL {
		<-p.done
		return
	}
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// launch starts the process; port 0 picks a fresh free port on each attempt,
// a fixed port (Restart) is retried in place.
func (r *Redis) launch(t testing.TB, port int) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(); err != nil {
				t.Fatalf("testenv: find free port: %v", err)
			}
		}
		proc, err := r.try(p)
		if err == nil {
			return
		}
		lastErr = err
		if proc != nil {
			stopProcess(proc, syscall.SIGKILL)
		}
		if !errors.Is(err, errPortInUse) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testenv: start redis-server: %v\nlog tail:\n%s", lastErr, r.LogTail(30))
}

var errPortInUse = errors.New("port in use")

func (r *Redis) try(port int) (*process, error) {
	logPath := filepath.Join(r.Dir, "redis.log")
	logStart := fileSize(logPath)
	cmd := exec.Command(r.bin, r.args(port)...)
	cmd.Dir = r.Dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", r.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(p, addr, r.Password); err != nil {
		if strings.Contains(readFrom(logPath, logStart), "Address already in use") {
			return p, fmt.Errorf("%s: %w", addr, errPortInUse)
		}
		return p, fmt.Errorf("%s: %w", addr, err)
	}
	r.mu.Lock()
	r.proc = p
	r.Port, r.PID, r.Addr = port, cmd.Process.Pid, addr
	if r.Password != "" {
		r.URL = "redis://:" + r.Password + "@" + addr + "/0"
	} else {
		r.URL = "redis://" + addr + "/0"
	}
	r.mu.Unlock()
	return p, nil
}

// waitReady polls PING until +PONG; LOADING replies (AOF replay) keep waiting.
func waitReady(p *process, addr, password string) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited during start-up (%s)", p.cmd.ProcessState)
		default:
		}
		reply, err := command(addr, password, "PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no PONG within %s: %v", readyTimeout, last)
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

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < offset {
		return ""
	}
	return string(data[offset:])
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
