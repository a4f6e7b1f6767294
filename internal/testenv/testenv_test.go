package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartRedisPing(t *testing.T) {
	r := StartRedis(t)
	if reply, err := do(r.Addr, "", "PING"); err != nil || reply != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", reply, err)
	}
	if want := "redis://" + r.Addr + "/0"; r.URL != want {
		t.Errorf("URL = %q, want %q", r.URL, want)
	}
	if !strings.HasPrefix(r.Addr, "127.0.0.1:") || r.PID <= 0 || r.Dir == "" {
		t.Errorf("Redis = %+v: want loopback addr, a PID and a dir", r)
	}
	// Defaults: no persistence at all.
	for param, want := range map[string]string{"appendonly": "no", "save": "", "bind": "127.0.0.1"} {
		if got := configGet(t, r, param); got != want {
			t.Errorf("CONFIG GET %s = %q, want %q", param, got, want)
		}
	}
}

func TestStopReapsProcess(t *testing.T) {
	r := StartRedis(t)
	pid := r.PID
	r.Stop()
	if r.Running() {
		t.Fatal("Running() after Stop")
	}
	// The process is reaped, so the PID no longer exists (not even a zombie).
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("pid %d still exists after Stop", pid)
	}
	if _, err := do(r.Addr, "", "PING"); err == nil {
		t.Error("PING answered after Stop")
	}
	r.Stop() // idempotent
}

func TestRestartKeepsAOFData(t *testing.T) {
	tests := []struct {
		name string
		down func(r *Redis)
	}{
		{"graceful stop", (*Redis).Stop},
		{"kill -9", (*Redis).Kill},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := StartRedis(t, WithAppendOnly())
			addr, dir, oldPID := r.Addr, r.Dir, r.PID
			if reply, err := do(r.Addr, "", "SET", "k", "durable"); err != nil || reply != "OK" {
				t.Fatalf("SET = %q, %v", reply, err)
			}
			tt.down(r)
			r.Restart(t)
			if r.Addr != addr || r.Dir != dir {
				t.Errorf("Restart moved the server: %s %s -> %s %s", addr, dir, r.Addr, r.Dir)
			}
			if r.PID == oldPID {
				t.Errorf("PID unchanged (%d) after Restart", r.PID)
			}
			if got, err := do(r.Addr, "", "GET", "k"); err != nil || got != "durable" {
				t.Fatalf("GET after restart = %q, %v; want durable", got, err)
			}
		})
	}
}

func TestRestartWithoutAOFLosesData(t *testing.T) {
	r := StartRedis(t)
	if _, err := do(r.Addr, "", "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	r.Restart(t)
	// GET of a missing key is a nil bulk ($-1), which command reports as an error.
	if got, err := do(r.Addr, "", "GET", "k"); err == nil {
		t.Fatalf("GET after restart without AOF = %q, want the key gone", got)
	}
}

func TestPassword(t *testing.T) {
	r := StartRedis(t, WithPassword("s3cret"))
	if _, err := do(r.Addr, "", "SET", "k", "v"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("SET without AUTH: err = %v, want NOAUTH", err)
	}
	if reply, err := do(r.Addr, "s3cret", "PING"); err != nil || reply != "PONG" {
		t.Errorf("PING with AUTH = %q, %v", reply, err)
	}
	if want := "redis://:s3cret@" + r.Addr + "/0"; r.URL != want {
		t.Errorf("URL = %q, want %q", r.URL, want)
	}
}

func TestWithArgs(t *testing.T) {
	r := StartRedis(t, WithArgs("--maxmemory", "12mb"))
	if got := configGet(t, r, "maxmemory"); got != fmt.Sprint(12<<20) {
		t.Errorf("maxmemory = %q, want %d", got, 12<<20)
	}
}

func TestCluster(t *testing.T) {
	c := StartRedisCluster(t, 3)
	if len(c.Addrs) != 3 || len(c.Nodes) != 3 {
		t.Fatalf("Addrs = %v, Nodes = %d; want 3 each", c.Addrs, len(c.Nodes))
	}
	if want := "redis+cluster://" + strings.Join(c.Addrs, ","); c.URL != want {
		t.Errorf("URL = %q, want %q", c.URL, want)
	}
	for _, addr := range c.Addrs {
		info, err := do(addr, "", "CLUSTER", "INFO")
		if err != nil {
			t.Fatalf("%s: CLUSTER INFO: %v", addr, err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want) {
				t.Errorf("%s: CLUSTER INFO lacks %q:\n%s", addr, want, info)
			}
		}
	}
	// A key lands on exactly one master; the others redirect with MOVED.
	var stored, moved int
	for _, addr := range c.Addrs {
		_, err := do(addr, "", "SET", "{tenant}:k", "v")
		switch {
		case err == nil:
			stored++
		case strings.HasPrefix(err.Error(), "MOVED"):
			moved++
		default:
			t.Errorf("%s: SET: %v", addr, err)
		}
	}
	if stored != 1 || moved != 2 {
		t.Errorf("SET stored on %d nodes, MOVED from %d; want 1 and 2", stored, moved)
	}
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("FreePort %d cannot be bound: %v", port, err)
	}
	l.Close()
}

func TestWaitHTTP(t *testing.T) {
	ready := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ready:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	go func() {
		time.Sleep(200 * time.Millisecond)
		close(ready)
	}()
	WaitHTTP(t, srv.URL, 10*time.Second)
	select {
	case <-ready:
	default:
		t.Fatal("WaitHTTP returned before the server answered 200")
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, so failure paths of helpers can be checked.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Helper() {}

func runFatal(t *testing.T, fn func(tb testing.TB)) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.msg
}

func TestFailuresAreFatalNotSkips(t *testing.T) {
	tests := []struct {
		name string
		fn   func(tb testing.TB)
		want string
	}{
		{"too few masters", func(tb testing.TB) { StartRedisCluster(tb, 2) }, "at least 3 masters"},
		{"bad redis arg", func(tb testing.TB) { StartRedis(tb, WithArgs("--no-such-option", "1")) }, "start redis-server"},
		{"http never ready", func(tb testing.TB) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusTeapot)
			}))
			defer srv.Close()
			WaitHTTP(tb, srv.URL, 300*time.Millisecond)
		}, "418"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := runFatal(t, tt.fn)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("Fatalf message = %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func configGet(t *testing.T, r *Redis, param string) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password})
	defer c.Close()
	kv, err := c.ConfigGet(context.Background(), param).Result()
	if err != nil {
		t.Fatalf("CONFIG GET %s: %v", param, err)
	}
	return kv[param]
}

// do sends one command and returns its reply as text.
func do(addr, password string, args ...string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
	defer c.Close()
	cmdArgs := make([]any, len(args))
	for i, a := range args {
		cmdArgs[i] = a
	}
	return c.Do(context.Background(), cmdArgs...).Text()
}

func TestEventually(t *testing.T) {
	calls := 0
	Eventually(t, "third call", 10*time.Second, func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}
	msg := runFatal(t, func(tb testing.TB) { Eventually(tb, "never", 20*time.Millisecond, func() bool { return false }) })
	if !strings.Contains(msg, "waiting for never") {
		t.Fatalf("Fatalf message = %q, want it to name what was awaited", msg)
	}
}
