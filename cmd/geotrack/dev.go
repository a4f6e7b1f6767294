package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
)

func init() {
	register(command{name: "dev", summary: "run every function in one process at http://127.0.0.1:8080/function/<name>", run: runDev})
}

func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	startRedis := fs.Bool("start-redis", false, "start a local redis-server (data in .dev/redis) when nothing answers at REDIS_URL")
	simulate := fs.Int("simulate", 0, "stream a simulated fleet of N devices into ingest")
	rate := fs.Float64("rate", 1, "fixes per second per simulated device")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Getenv("REDIS_URL") == "" {
		os.Setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
	}
	stopRedis, err := ensureRedis(ctx, os.Getenv("REDIS_URL"), *startRedis)
	if err != nil {
		return err
	}
	defer stopRedis()

	secret := os.Getenv(auth.SecretEnv)
	if secret == "" {
		secret = randomHex(24)
		os.Setenv(auth.SecretEnv, secret)
		fmt.Printf("GEOTRACK_JWT_SECRET was unset; using %s for this run\n", secret)
	}
	// The edge functions run too: their forwarder sends to this runner's
	// own ingest with a service token of the demo tenant.
	if os.Getenv("CLOUD_INGEST_URL") == "" {
		os.Setenv("CLOUD_INGEST_URL", "http://"+*addr+"/function/ingest")
		os.Setenv("FORWARD_INTERVAL", "5s")
		if os.Getenv("EDGE_SERVICE_TOKEN") == "" {
			tok, err := auth.Sign([]byte(secret), auth.Principal{Tenant: "demo", Role: auth.RoleService}, 30*24*time.Hour)
			if err != nil {
				return err
			}
			os.Setenv("EDGE_SERVICE_TOKEN", tok)
		}
	}
	base := "http://" + *addr
	router := &devRouter{subscribers: functions.Subscribers(), secret: []byte(secret), handlers: map[string]http.Handler{}}
	reg := metrics.NewProcessRegistry() // one /metrics for every function of the runner
	// The router is the sink of the event relay, as NATS or a broker would
	// be: emitted events go through the event outbox as in production.
	deps := &functions.Deps{Sink: router, Metrics: reg}
	defer deps.Close()

	mux := http.NewServeMux()
	mux.Handle("/", httpkit.NotFound("functions are at /function/<name>"))
	var ready []func(context.Context) error
	for _, spec := range functions.Pack() {
		opts, err := httpkit.OptionsFromEnv(spec.Name)
		if err != nil {
			return err
		}
		opts.Metrics = reg
		built, err := spec.Build(ctx, deps)
		if err != nil {
			slog.Warn("function not started", "function", spec.Name, "err", err)
			continue
		}
		opts.Ready = built.Ready
		if built.Ready != nil {
			ready = append(ready, built.Ready)
		}
		h := httpkit.FunctionHandler(built.Handler, opts)
		prefix := "/function/" + spec.Name
		router.handlers[spec.Name] = h
		mux.Handle(prefix, http.StripPrefix(prefix, h))
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
	opts, err := httpkit.OptionsFromEnv("dev")
	if err != nil {
		return err
	}
	opts.Metrics = reg
	if os.Getenv("SHUTDOWN_DELAY") == "" {
		opts.ShutdownDelay = 0 // no load balancer to wait for on a laptop
	}
	opts.Ready = func(ctx context.Context) error {
		for _, r := range ready {
			if err := r(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	printWelcome(base, []byte(secret))
	if *simulate > 0 {
		go runDevSimulation(ctx, base+"/function/ingest", []byte(secret), *simulate, *rate)
	}
	return httpkit.ServeHandler(ctx, mux, opts, *addr)
}

// devRouter stands in for the NATS connector / Knative Trigger during
// development: it delivers each emitted event, in structured mode with the
// X-Topic header as the connector does, to the functions that subscribe to
// its type (functions.Subscribers, which stack.yml's topics are tested
// against).
type devRouter struct {
	subscribers map[string][]string
	handlers    map[string]http.Handler
	secret      []byte
}

func (r *devRouter) Send(ctx context.Context, e event.Event) error {
	targets := r.subscribers[e.Type()]
	if len(targets) == 0 {
		slog.DebugContext(ctx, "event has no subscriber", "type", e.Type(), "id", e.ID())
		return nil
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s: %w", e.Type(), err)
	}
	tenant, _ := e.Extensions()[events.ExtTenant].(string)
	for _, name := range targets {
		h := r.handlers[name]
		if h == nil {
			continue
		}
		go r.deliver(name, h, e, body, tenant)
	}
	return nil
}

func (r *devRouter) deliver(name string, h http.Handler, e event.Event, body []byte, tenant string) {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", events.MediaStructured)
	req.Header.Set("X-Topic", e.Type())
	if tenant != "" {
		tok, err := auth.Sign(r.secret, auth.Principal{Tenant: tenant, Role: auth.RoleService}, time.Minute)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	slog.Info("event delivered", "function", name, "type", e.Type(), "id", e.ID(), "status", rec.Code)
}

func (r *devRouter) Close() error { return nil }

// ensureRedis checks REDIS_URL and, if allowed, starts a local redis-server.
func ensureRedis(ctx context.Context, rawURL string, start bool) (func(), error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// A plain TCP dial first: go-redis would log every failed dial.
	if conn, err := net.DialTimeout("tcp", opts.Addr, time.Second); err == nil {
		conn.Close()
		return func() {}, nil
	}
	if !start {
		return nil, fmt.Errorf("nothing answers at %s: start Redis or pass --start-redis", rawURL)
	}
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, err
	}
	if host != "127.0.0.1" && host != "localhost" {
		return nil, fmt.Errorf("--start-redis only starts a local server; %s is not local", opts.Addr)
	}
	dir, err := filepath.Abs(filepath.Join(".dev", "redis"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server (apt-get install redis-server): %w", err)
	}
	fmt.Printf("started redis-server (pid %d) on %s, data in %s\n", cmd.Process.Pid, opts.Addr, dir)
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	probe := redis.NewClient(opts)
	defer probe.Close()
	for i := 0; i < 100; i++ {
		if conn, err := net.DialTimeout("tcp", opts.Addr, 100*time.Millisecond); err == nil {
			conn.Close()
			if probe.Ping(ctx).Err() == nil {
				return stop, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("redis-server on %s did not answer", opts.Addr)
}

func printWelcome(base string, secret []byte) {
	viewer, _ := auth.Sign(secret, auth.Principal{Tenant: "demo", Role: auth.RoleViewer}, 24*time.Hour)
	device, _ := auth.Sign(secret, auth.Principal{Tenant: "demo", Role: auth.RoleDevice, Device: "truck-7"}, 24*time.Hour)
	now := time.Now().UTC().Format(time.RFC3339)
	var b strings.Builder
	fmt.Fprintf(&b, "\ngeotrack dev: functions at %s/function/<name>\n\n", base)
	fmt.Fprintf(&b, "export VIEWER=%s\nexport DEVICE=%s\n\n", viewer, device)
	fmt.Fprintf(&b, "# report a position as device truck-7\n")
	fmt.Fprintf(&b, "curl -s -X POST %s/function/ingest -H \"Authorization: Bearer $DEVICE\" -H 'Content-Type: application/json' \\\n  -d '{\"device\":\"truck-7\",\"ts\":\"%s\",\"lat\":51.5007,\"lon\":-0.1246,\"speed\":12.3}'\n", base, now)
	fmt.Fprintf(&b, "# read it back\n")
	fmt.Fprintf(&b, "curl -s '%s/function/position?device=truck-7' -H \"Authorization: Bearer $VIEWER\"\n", base)
	fmt.Fprintf(&b, "curl -s '%s/function/nearby?lat=51.5074&lon=-0.1278&radius=5000&limit=10' -H \"Authorization: Bearer $VIEWER\"\n", base)
	fmt.Fprintf(&b, "curl -s '%s/function/track?device=truck-7&format=geojson' -H \"Authorization: Bearer $VIEWER\"\n\n", base)
	fmt.Print(b.String())
}
