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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
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
	// container is the podman container's name when the function runs from
	// GEOTRACK_E2E_IMAGE; cmd is then the `podman run` client, which passes
	// SIGTERM on to the function.
	container string
	logs      *bytes.Buffer
	done      chan struct{}
}

// containerCommand is `podman run` of containerImage serving name on port:
// host network (Redis and NATS listen on 127.0.0.1), read-only root
// filesystem, the image's non-root user, and the JWT secret as a mounted
// file rather than an environment variable.
func containerCommand(t *testing.T, name string, port int, env map[string]string) (*exec.Cmd, string) {
	t.Helper()
	secrets := t.TempDir()
	// the function runs as uid 65532: it must be able to enter the folder
	if err := os.Chmod(secrets, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "jwt-secret"), []byte(testSecret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// unique per start: a function restarted on its port must not collide
	// with the container being removed after a kill
	container := fmt.Sprintf("geotrack-e2e-%s-%d-%d-%d", name, port, os.Getpid(), containerStarts.Add(1))
	args := []string{"run", "--rm", "--name", container, "--network=host", "--read-only",
		"-v", secrets + ":/var/openfaas/secrets:ro",
		"-e", fmt.Sprintf("PORT=%d", port), "-e", "LOG_LEVEL=warn", "-e", "SHUTDOWN_DELAY=0"}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-e", k+"="+env[k])
	}
	args = append(args, containerImage, name) // the entrypoint is `geotrack serve`
	t.Cleanup(func() { _ = exec.Command("podman", "rm", "-f", "--ignore", container).Run() })
	return exec.Command("podman", args...), container
}

// containerImage, when GEOTRACK_E2E_IMAGE names an image, makes
// startFunction run every function from that image with podman instead of
// the binary: non-root, read-only root filesystem, the JWT secret mounted at
// /var/openfaas/secrets (scripts/container-e2e.sh builds the image and sets it).
var containerImage = os.Getenv("GEOTRACK_E2E_IMAGE")

// containerStarts numbers the containers started by this test binary.
var containerStarts atomic.Int64

// startFunction runs `geotrack serve name` with env on a free port and waits
// until /_/ready answers 200. It is stopped (SIGTERM, then SIGKILL) by PID at
// the end of the test.
func startFunction(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	port := testenv.FreePort(t)
	if p, ok := env["PORT"]; ok {
		fmt.Sscan(p, &port) // a fixed port, to restart a function where clients expect it
	}
	var cmd *exec.Cmd
	container := ""
	if containerImage != "" {
		cmd, container = containerCommand(t, name, port, env)
	} else {
		cmd = exec.Command(binary, "serve", name)
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
	}
	p := &proc{Name: name, Port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, container: container, logs: &bytes.Buffer{}, done: make(chan struct{})}
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
	if p.container != "" {
		// killing the podman client would leave the container running
		_ = exec.Command("podman", "kill", "--signal", "KILL", p.container).Run()
	}
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

// openRedis is a client of the Redis at url (a single server or a Cluster)
// for t, closed when t ends.
func openRedis(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	client, err := redisstore.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}
