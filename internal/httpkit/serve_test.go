package httpkit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/testenv"
)

type outcome struct {
	status int
	body   string
	err    error
}

func get(url string) outcome {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return outcome{status: resp.StatusCode, body: string(b), err: err}
}

// blockingFn blocks requests with query "block" until release is closed.
func blockingFn(entered chan<- struct{}, release <-chan struct{}) handlerFunc {
	return func(r handler.Request) (handler.Response, error) {
		if r.QueryString == "block" {
			entered <- struct{}{}
			<-release
		}
		return handler.Response{Body: []byte("finished")}, nil
	}
}

func testOptions(logs io.Writer) Options {
	return Options{
		Name:    "testfn",
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: metrics.NewRegistry(),
	}
}

// waitRefused waits until a new TCP connection to addr is refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	testenv.Eventually(t, addr+" to refuse connections during shutdown", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	entered, release := make(chan struct{}), make(chan struct{})
	opts := testOptions(&logBuffer{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, FunctionHandler(blockingFn(entered, release), opts), opts) }()

	if o := get("http://" + addr + PathReady); o.status != 200 {
		t.Fatalf("ready before shutdown: %+v", o)
	}
	slow := make(chan outcome, 1)
	go func() { slow <- get("http://" + addr + "/?block") }()
	<-entered

	cancel()
	waitRefused(t, addr)
	select {
	case err := <-served:
		t.Fatalf("ServeListener returned (%v) while a request was in flight", err)
	default:
	}

	close(release)
	if o := <-slow; o.err != nil || o.status != 200 || o.body != "finished" {
		t.Fatalf("in-flight request during drain: %+v, want 200 finished", o)
	}
	if err := <-served; err != nil {
		t.Fatalf("ServeListener after drain: %v", err)
	}
	if o := get("http://" + addr + "/"); o.err == nil {
		t.Fatalf("request after shutdown succeeded: %+v", o)
	}
}

// TestShutdownDelay: during the delay the server is not ready but still
// accepts and serves, on new and on kept-alive connections, telling clients
// to close them; afterwards it stops accepting.
func TestShutdownDelay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	opts := testOptions(&logBuffer{})
	opts.ShutdownDelay = time.Second // long enough for the checks below, which do not wait on it
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, FunctionHandler(ok("x"), opts), opts) }()

	keepAlive := &http.Client{Transport: &http.Transport{}}
	do := func(c *http.Client, path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := do(keepAlive, "/"); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("before shutdown: %d close=%v, want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	cancel()
	// ready turns 503 at once; the drain flag is set before the delay starts.
	err = poll.Until(context.Background(), 5*time.Second, time.Millisecond, func(context.Context) error {
		resp, body := do(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, PathReady)
		if resp.StatusCode == http.StatusServiceUnavailable && body == "shutting down" {
			return nil
		}
		return fmt.Errorf("%d %q", resp.StatusCode, body)
	})
	if err != nil {
		t.Fatalf("ready during the drain: %v, want 503 shutting down", err)
	}
	// The kept-alive connection still works, and is told to close.
	resp, body := do(keepAlive, "/")
	if resp.StatusCode != 200 || body != "x" || !resp.Close {
		t.Fatalf("during the delay on the kept-alive connection: %d %q close=%v, want 200 x close", resp.StatusCode, body, resp.Close)
	}
	// A new connection is still accepted.
	if resp, _ := do(&http.Client{Transport: &http.Transport{}}, "/"); resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("during the delay on a new connection: %d close=%v", resp.StatusCode, resp.Close)
	}
	waitRefused(t, addr)
	if err := <-served; err != nil {
		t.Fatalf("ServeListener after the drain: %v", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	opts := testOptions(&logBuffer{})
	opts.ShutdownTimeout = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, FunctionHandler(blockingFn(entered, release), opts), opts) }()
	slow := make(chan outcome, 1)
	go func() { slow <- get("http://" + ln.Addr().String() + "/?block") }()
	<-entered
	cancel()
	err = <-served
	if err == nil || !strings.Contains(err.Error(), "shutdown: in-flight requests not done") {
		t.Fatalf("ServeListener = %v, want a drain timeout error", err)
	}
	if o := <-slow; o.err == nil {
		t.Fatalf("request cut by the forced close still succeeded: %+v", o)
	}
}

func TestSIGTERMStopsServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(&logBuffer{})
	served := make(chan error, 1)
	go func() { served <- ServeListener(context.Background(), ln, FunctionHandler(ok("x"), opts), opts) }()
	// A served request proves the signal handler is installed: it is set up
	// before the server starts accepting.
	if o := get("http://" + ln.Addr().String() + "/"); o.status != 200 {
		t.Fatalf("first request: %+v", o)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("ServeListener after SIGTERM: %v", err)
	}
}

func TestServeLogsBoundAddress(t *testing.T) {
	logs := &logBuffer{}
	opts := testOptions(logs)
	opts.Ready = func(context.Context) error { return nil }
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, "echo", ok("hello"), opts, "127.0.0.1:0") }()

	var addr string
	testenv.Eventually(t, "a 'listening' log line", 10*time.Second, func() bool {
		for _, r := range logs.find(t, "listening") {
			addr, _ = r["addr"].(string)
			if r["function"] != "echo" {
				t.Errorf("listening line function = %v, want echo", r["function"])
			}
		}
		return addr != ""
	})
	if o := get("http://" + addr + PathReady); o.status != 200 || o.body != "OK" {
		t.Fatalf("ready: %+v", o)
	}
	if o := get("http://" + addr + "/anything"); o.status != 200 || o.body != "hello" {
		t.Fatalf("function: %+v", o)
	}
	if o := get("http://" + addr + PathMetrics); !strings.Contains(o.body, `geotrack_http_requests_total{function="echo",method="GET",code="200"} 1`) {
		t.Fatalf("metrics do not count the function call:\n%s", o.body)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if len(logs.find(t, "stopped")) != 1 {
		t.Error("no 'stopped' log line")
	}
}

func TestServeHandlerListenError(t *testing.T) {
	err := ServeHandler(context.Background(), http.NotFoundHandler(), testOptions(io.Discard), "127.0.0.1:-1")
	if err == nil || !strings.Contains(err.Error(), "listen on 127.0.0.1:-1") {
		t.Fatalf("ServeHandler = %v, want a listen error naming the address", err)
	}
}

func TestServeHandlerAddsSystemRoutes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(io.Discard)
	mux := http.NewServeMux()
	mux.Handle("/function/a/", FunctionHandler(ok("a"), Options{Name: "a", Metrics: opts.Metrics, Logger: opts.Logger}))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, mux, opts) }()
	base := "http://" + ln.Addr().String()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/function/a/x", 200, "a"},
		{PathHealth, 200, "OK"},
		{PathReadyz, 200, "OK"},
		{"/nope", 404, "404 page not found\n"},
	}
	for _, tt := range tests {
		if o := get(base + tt.path); o.status != tt.status || o.body != tt.body {
			t.Errorf("%s = %+v, want %d %q", tt.path, o, tt.status, tt.body)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestTimeoutAnsweredDespiteWriteTimeout covers the default configuration,
// where the write deadline would pass before the handler deadline: the 503
// must still reach the client.
func TestTimeoutAnsweredDespiteWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unblock := make(chan struct{})
	defer close(unblock)
	opts := testOptions(io.Discard)
	opts.WriteTimeout = 10 * time.Millisecond
	opts.HandlerTimeout = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fn := handlerFunc(func(handler.Request) (handler.Response, error) {
		<-unblock
		return handler.Response{}, nil
	})
	go func() { _ = ServeListener(ctx, ln, FunctionHandler(fn, opts), opts) }()
	o := get("http://" + ln.Addr().String() + "/")
	if o.err != nil || o.status != 503 || o.body != `{"error":"handler timeout"}`+"\n" {
		t.Fatalf("got %d %q (err %v), want 503 handler timeout", o.status, o.body, o.err)
	}
}
