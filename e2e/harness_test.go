// Package e2e runs geotrack's functions as real processes (the geotrack
// binary, as a container would) against real redis-server processes started
// on free loopback ports, and talks to them over real HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/testenv"
)

const testSecret = "e2e-secret-0123456789abcdef"

// binary is the geotrack executable built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "geotrack-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "geotrack")
	build := exec.Command("go", "build", "-o", binary, "./cmd/geotrack")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build geotrack:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one served function.
type proc struct {
	Name string
	Port int
	URL  string
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

// startFunction runs `geotrack serve name` with env on a free port and waits
// until /_/ready answers 200. It is stopped (SIGTERM, then SIGKILL) by PID at
// the end of the test.
func startFunction(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	port := testenv.FreePort(t)
	if p, ok := env["PORT"]; ok {
		fmt.Sscan(p, &port) // a fixed port, to restart a function where clients expect it
	}
	cmd := exec.Command(binary, "serve", name)
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("PORT=%d", port),
		"GEOTRACK_JWT_SECRET="+testSecret,
		"SECRETS_DIR="+t.TempDir(),
		"LOG_LEVEL=warn",
		"SHUTDOWN_DELAY=0", // tests stop functions often; the fault suite sets its own
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{Name: name, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, logs: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("logs of %s (port %d):\n%s", name, port, tail(p.logs.String(), 3000))
		}
	})
	err := poll.Until(context.Background(), 10*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		select {
		case <-p.done:
			return poll.Abort(errors.New("exited early"))
		default:
		}
		return poll.HTTPOK(ctx, p.URL+"/_/ready")
	})
	if err != nil {
		t.Fatalf("%s not ready: %v\n%s", name, err, p.logs.String())
	}
	return p
}

// kill ends the process with SIGKILL: no draining, no cleanup.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s ignored SIGTERM for 10s", p.Name)
	}
}

// token mints a token signed with the functions' secret.
func token(t *testing.T, tenant string, role auth.Role, device string) string {
	t.Helper()
	tok, err := auth.Sign([]byte(testSecret), auth.Principal{Tenant: tenant, Role: role, Device: device}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is what a call returned.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// call sends one request.
func call(t *testing.T, method, url, tok string, header http.Header, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// snapshot captures every key and its serialised value, to prove that a
// rejected request changed nothing.
func snapshot(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	collect := func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, collect)
	} else {
		err = collect(ctx, c.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("dump %s: %v", k, err)
		}
		fmt.Fprintf(&b, "%s=%x\n", k, v)
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
