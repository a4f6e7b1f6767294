package main

// This file: the processes of a benchmark run: a private redis-server and `geotrack serve` subprocesses, their readiness, RSS and cold starts.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/geotrack/geotrack/internal/localserver"
	"github.com/geotrack/geotrack/internal/poll"
)

// redisServer is a private, non-persistent redis-server for the run.
type redisServer struct {
	*localserver.Redis
	url  string
	once sync.Once
}

func startRedisServer(ctx context.Context) (*redisServer, error) {
	dir, err := os.MkdirTemp("", "geotrack-bench-redis-")
	if err != nil {
		return nil, err
	}
	r, err := localserver.StartRedis(ctx, localserver.RedisConfig{Dir: dir, Args: []string{"--protected-mode", "yes"}})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench ingest: %w", err)
	}
	return &redisServer{Redis: r, url: r.URL}, nil
}

// stop ends the server by its PID (SIGTERM, then SIGKILL) and removes its dir.
func (r *redisServer) stop() {
	r.once.Do(func() {
		r.Stop()
		os.RemoveAll(r.Dir)
	})
}

func stopProcess(p *os.Process, done <-chan struct{}) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-done
	}
}

// servedFunction is one `geotrack serve <function>` subprocess.
type servedFunction struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  *tailBuffer
	once sync.Once
}

func launchServed(exe, name string, env []string) (*servedFunction, error) {
	return launchOnPort(exe, []string{"serve", name}, env)
}

// launchOnPort runs exe with args and PORT set to a free loopback port.
func launchOnPort(exe string, args, env []string) (*servedFunction, error) {
	port, err := loopbackPort()
	if err != nil {
		return nil, err
	}
	name := strings.Join(args, " ")
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), env...), "PORT="+strconv.Itoa(port))
	s := &servedFunction{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/", port), done: make(chan struct{}), log: &tailBuffer{max: 8192}}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start geotrack serve %s: %w", name, err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	return s, nil
}

// startServed launches the function and waits until it is ready.
func startServed(ctx context.Context, exe, name string, env []string) (*servedFunction, error) {
	return startOnPort(ctx, exe, []string{"serve", name}, env)
}

// startOnPort launches exe with args (see launchOnPort) and waits until it
// is ready.
func startOnPort(ctx context.Context, exe string, args, env []string) (*servedFunction, error) {
	s, err := launchOnPort(exe, args, env)
	if err != nil {
		return nil, err
	}
	if _, err := s.waitReady(ctx, 30*time.Second, 5*time.Millisecond); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls /_/ready every interval until a 200 and returns when
// that came.
func (s *servedFunction) waitReady(ctx context.Context, timeout, interval time.Duration) (time.Time, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	var readyAt time.Time
	err := poll.Until(ctx, timeout, interval, func(ctx context.Context) error {
		select {
		case <-s.done:
			return poll.Abort(errors.New("exited before ready"))
		default:
		}
		resp, err := client.Get(s.url + "_/ready")
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		readyAt = time.Now()
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("geotrack serve not ready: %w: %s", err, s.log.String())
	}
	return readyAt, nil
}

func (s *servedFunction) stop() {
	s.once.Do(func() { stopProcess(s.cmd.Process, s.done) })
}

// rssKiB reads VmRSS of the process from /proc (0 where there is none).
func (s *servedFunction) rssKiB() int64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// tailBuffer keeps the last max bytes written, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

func loopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// coldStarts times exec → first 200 on /_/ready, n times, one at a time.
func coldStarts(ctx context.Context, exe, name string, env []string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for range n {
		began := time.Now()
		s, err := launchServed(exe, name, env)
		if err != nil {
			return out, err
		}
		readyAt, err := s.waitReady(ctx, 30*time.Second, 200*time.Microsecond)
		s.stop()
		if err != nil {
			return out, err
		}
		out = append(out, readyAt.Sub(began))
	}
	return out, nil
}
