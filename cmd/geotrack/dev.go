package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/localserver"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/poll"
)

func init() {
	register(command{name: "dev", summary: "run every function in one process at http://127.0.0.1:8080/function/<name>", run: runDev})
}

func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	startRedis := fs.Bool("start-redis", false, "start a local redis-server (data in .dev/redis) when nothing answers at REDIS_URL")
	startMinIO := fs.Bool("start-minio", false, "start a local minio (data in .dev/minio) for the archive tier when S3_ENDPOINT is unset")
	simulate := fs.Int("simulate", 0, "stream a simulated fleet of N devices into ingest")
	rate := fs.Float64("rate", 1, "fixes per second per simulated device")
	var verbose bool
	fs.BoolVar(&verbose, "verbose", false, "log every request and event delivery (LOG_LEVEL=debug)")
	fs.BoolVar(&verbose, "v", false, "short for --verbose")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// One console format for the functions and the runner: text, at info
	// (request lines are debug) unless LOG_LEVEL or --verbose say otherwise.
	setenvDefault("LOG_FORMAT", "text")
	if verbose {
		os.Setenv("LOG_LEVEL", "debug")
	}
	setenvDefault("LOG_LEVEL", "info")
	logger, err := httpkit.NewLogger(os.Stderr, os.Getenv("LOG_LEVEL"), os.Getenv("LOG_FORMAT"))
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	logger = slog.New(quietRequests{logger.Handler()})
	slog.SetDefault(logger)

	// Both checks come before anything is printed: a second `make dev` must
	// fail clearly, not print tokens of a server it is not running.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("dev: %s is already in use (is another geotrack dev running? stop it, or pass --addr 127.0.0.1:8081): %w", *addr, err)
	}
	defer ln.Close()
	setenvDefault("REDIS_URL", "redis://127.0.0.1:6379/0")
	// Alerts on a laptop: webhooks to local receivers, and no cron-connector
	// to run the silence sweep, so notify runs it itself.
	setenvDefault("WEBHOOK_ALLOW_PRIVATE", "true")
	setenvDefault("SILENCE_SWEEP_INTERVAL", "30s")
	stopRedis, err := ensureRedis(ctx, os.Getenv("REDIS_URL"), *startRedis)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer stopRedis()
	stopMinIO, err := ensureMinIO(ctx, *startMinIO)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer stopMinIO()

	secret := os.Getenv(auth.SecretEnv)
	secretFrom := "$" + auth.SecretEnv
	if secret == "" {
		if secret, err = devSecret(); err != nil {
			return err
		}
		os.Setenv(auth.SecretEnv, secret)
		secretFrom = devSecretPath + " (kept across restarts; delete it to rotate)"
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
		opts.Logger = logger
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
		h := built.Serve(opts)
		prefix := "/function/" + spec.Name
		router.handlers[spec.Name] = h
		mux.Handle(prefix, http.StripPrefix(prefix, h))
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
	opts, err := httpkit.OptionsFromEnv("dev")
	if err != nil {
		return err
	}
	opts.Logger = logger
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
	go func() {
		// The welcome comes last, once the runner answers, so it is what
		// the console shows after start-up.
		if err := poll.Until(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
			return poll.HTTPOK(ctx, base+"/_/ready")
		}); err != nil {
			slog.Warn("dev runner not ready", "err", err)
			return
		}
		printWelcome(os.Stdout, base, []byte(secret), secretFrom)
		if *simulate > 0 {
			runDevSimulation(ctx, base+"/function/ingest", []byte(secret), *simulate, *rate)
		}
	}()
	return httpkit.ServeListener(ctx, ln, mux, opts)
}

// quietRequests logs the functions' successful request lines at debug: with
// a simulated fleet they would fill the console, and the fleet summary says
// the same once every 10 s. Failed requests (4xx/5xx) stay visible.
type quietRequests struct{ slog.Handler }

func (q quietRequests) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo && r.Message == "request" && requestSucceeded(r) {
		if !q.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietRequests) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietRequests{q.Handler.WithAttrs(attrs)}
}

func (q quietRequests) WithGroup(name string) slog.Handler {
	return quietRequests{q.Handler.WithGroup(name)}
}

func requestSucceeded(r slog.Record) bool {
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "status" {
			ok = a.Value.Kind() == slog.KindInt64 && a.Value.Int64() < 400
			return false
		}
		return true
	})
	return ok
}

func setenvDefault(key, value string) {
	if os.Getenv(key) == "" {
		os.Setenv(key, value)
	}
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
	slog.Debug("event delivered", "function", name, "type", e.Type(), "id", e.ID(), "status", rec.Code)
}

func (r *devRouter) Close() error { return nil }

// ensureRedis checks that a Redis server answers at REDIS_URL and, if
// allowed and nothing listens there, starts one with its data in .dev/redis.
// Something listening that is not a usable Redis is an error.
func ensureRedis(ctx context.Context, rawURL string, start bool) (func(), error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// A plain TCP dial first: go-redis would log every failed dial.
	if conn, err := net.DialTimeout("tcp", opts.Addr, time.Second); err == nil {
		conn.Close()
		if err := localserver.Ping(ctx, opts.Addr, opts.Password); err != nil {
			return nil, fmt.Errorf("%s is taken by something that is not a Redis server this runner can use (%v): stop it or set REDIS_URL", opts.Addr, err)
		}
		slog.Info("using the Redis server already running", "addr", opts.Addr)
		return func() {}, nil
	}
	if !start {
		return nil, fmt.Errorf("nothing answers at %s: start Redis or pass --start-redis", rawURL)
	}
	host, portText, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, err
	}
	if host != "127.0.0.1" && host != "localhost" {
		return nil, fmt.Errorf("--start-redis only starts a local server; %s is not local", opts.Addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL port %q: %w", portText, err)
	}
	r, err := localserver.StartRedis(ctx, localserver.RedisConfig{Dir: filepath.Join(".dev", "redis"), Port: port,
		AppendOnly: true, Password: opts.Password})
	if err != nil {
		return nil, err
	}
	slog.Info("started redis-server", "pid", r.PID, "addr", r.Addr, "dir", r.Dir)
	return r.Stop, nil
}

// devMinIODir keeps the dev archive, its credentials and its KMS key
// across restarts (objects encrypted with SSE-S3 need the same key).
var devMinIODir = filepath.Join(".dev", "minio")

// ensureMinIO starts a local minio for the archive tier when S3_ENDPOINT is
// unset and start is set, and points the archiver at it (a pass a minute,
// as no cron-connector runs here). Without minio installed the runner goes
// on without an archive tier, and says so.
func ensureMinIO(ctx context.Context, start bool) (func(), error) {
	if os.Getenv("S3_ENDPOINT") != "" {
		setenvDefault("ARCHIVE_INTERVAL", "1m")
		return func() {}, nil
	}
	if !start {
		return func() {}, nil
	}
	if err := os.MkdirAll(devMinIODir, 0o700); err != nil {
		return nil, err
	}
	secret, err := devFileSecret(filepath.Join(devMinIODir, "root-password"), 24)
	if err != nil {
		return nil, err
	}
	kmsKey, err := devFileSecret(filepath.Join(devMinIODir, "kms-key"), 32)
	if err != nil {
		return nil, err
	}
	m, err := localserver.StartMinIO(ctx, localserver.MinIOConfig{Dir: devMinIODir, AccessKey: "geotrack", SecretKey: secret, KMSKey: kmsKey})
	if err != nil {
		slog.Warn("no archive tier: minio did not start (install it with scripts/install-tools.sh)", "err", err)
		return func() {}, nil
	}
	slog.Info("started minio", "pid", m.PID, "endpoint", m.Endpoint, "dir", m.Dir)
	os.Setenv("S3_ENDPOINT", m.Endpoint)
	os.Setenv("S3_ACCESS_KEY", m.AccessKey)
	os.Setenv("S3_SECRET_KEY", m.SecretKey)
	setenvDefault("ARCHIVE_INTERVAL", "1m")
	return m.Stop, nil
}

// devFileSecret returns the base64 of n random bytes kept in path,
// creating it on first use.
func devFileSecret(path string, n int) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := base64.StdEncoding.EncodeToString(b)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev: %w", err)
	}
	return s, nil
}

func printWelcome(w io.Writer, base string, secret []byte, secretFrom string) {
	viewer, _ := auth.Sign(secret, auth.Principal{Tenant: "demo", Role: auth.RoleViewer}, 24*time.Hour)
	device, _ := auth.Sign(secret, auth.Principal{Tenant: "demo", Role: auth.RoleDevice, Device: "truck-7"}, 24*time.Hour)
	now := time.Now().UTC().Format(time.RFC3339)
	var b strings.Builder
	fmt.Fprintf(&b, "\ngeotrack dev: functions at %s/function/<name>\n", base)
	fmt.Fprintf(&b, "JWT secret: %s\n", secretFrom)
	fmt.Fprintf(&b, "geotrack token/replay/import/simulate find it there when run from this folder.\n\n")
	// The fragment logs the browser in and never reaches a server log.
	fmt.Fprintf(&b, "Dashboard (viewer of tenant demo): %s/function/dashboard/#token=%s\n\n", base, viewer)
	fmt.Fprintf(&b, "export PATH=$PWD/bin:$PATH\n")
	fmt.Fprintf(&b, "export VIEWER=%s\nexport DEVICE=%s\n\n", viewer, device)
	fmt.Fprintf(&b, "# report a position as device truck-7\n")
	fmt.Fprintf(&b, "curl -s -X POST %s/function/ingest -H \"Authorization: Bearer $DEVICE\" -H 'Content-Type: application/json' \\\n  -d '{\"device\":\"truck-7\",\"ts\":\"%s\",\"lat\":51.5007,\"lon\":-0.1246,\"speed\":12.3}'\n", base, now)
	fmt.Fprintf(&b, "# read it back\n")
	fmt.Fprintf(&b, "curl -s '%s/function/position?device=truck-7' -H \"Authorization: Bearer $VIEWER\"\n", base)
	fmt.Fprintf(&b, "curl -s '%s/function/nearby?lat=51.5074&lon=-0.1278&radius=5000&limit=10' -H \"Authorization: Bearer $VIEWER\"\n", base)
	fmt.Fprintf(&b, "curl -s '%s/function/track?device=truck-7&format=geojson' -H \"Authorization: Bearer $VIEWER\"\n", base)
	fmt.Fprintf(&b, "# replay a recorded run as device runner-1, moved to the present, 10x faster\n")
	fmt.Fprintf(&b, "geotrack replay testdata/tracks/run-with-laps.gpx --device runner-1 --url %s/function/ingest --now --speed 10\n\n", base)
	fmt.Fprint(w, b.String())
}
