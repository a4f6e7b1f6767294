package httpkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/metrics"
)

// handlerFunc lets a test write a function as a closure.
type handlerFunc func(handler.Request) (handler.Response, error)

func (f handlerFunc) Handle(r handler.Request) (handler.Response, error) { return f(r) }

func ok(body string) handlerFunc {
	return func(handler.Request) (handler.Response, error) {
		return handler.Response{Body: []byte(body)}, nil
	}
}

// logBuffer collects JSON log lines from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns every log line decoded.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the log records whose msg is msg.
func (l *logBuffer) find(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range l.records(t) {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

type fixture struct {
	srv  *httptest.Server
	logs *logBuffer
	reg  *metrics.Registry
}

// start serves fn through Mux on a loopback httptest server with a fresh
// registry and a debug-level JSON logger captured for assertions.
func start(t *testing.T, fn handler.FunctionHandler, opts Options) *fixture {
	t.Helper()
	f := &fixture{logs: &logBuffer{}, reg: metrics.NewRegistry()}
	opts.Logger = slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Metrics = f.reg
	if opts.Name == "" {
		opts.Name = "testfn"
	}
	f.srv = httptest.NewServer(Mux(opts.Name, fn, opts))
	t.Cleanup(f.srv.Close)
	return f
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(t *testing.T, method, path string, body io.Reader, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// scrape parses /metrics into "name{labels}" → value.
func (f *fixture) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	r := f.do(t, http.MethodGet, PathMetrics, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("/metrics: status %d", r.status)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(r.body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:sp]] = v
	}
	return out
}

func wantJSONError(t *testing.T, r reply, status int, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %q)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type = %q, want application/json", ct)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if body.Error != msg {
		t.Fatalf("error = %q, want %q", body.Error, msg)
	}
}

type recorded struct {
	status int
	body   string
}

// httptestRecorder serves one in-process GET of path.
func httptestRecorder(h http.Handler, path string) recorded {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return recorded{status: rec.Code, body: rec.Body.String()}
}

// formatLe spells a bucket bound as the exposition does.
func formatLe(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
