package httpkit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/metrics"
)

func TestProbes(t *testing.T) {
	var mu sync.Mutex
	var readyErr error
	var readyDeadline time.Duration
	ready := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if d, ok := ctx.Deadline(); ok {
			readyDeadline = time.Until(d)
		}
		return readyErr
	}
	setReady := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		readyErr = err
	}
	called := false
	fn := handlerFunc(func(handler.Request) (handler.Response, error) {
		called = true
		return handler.Response{}, nil
	})
	f := start(t, fn, Options{Ready: ready})

	tests := []struct {
		name     string
		readyErr error
		path     string
		status   int
		body     string
	}{
		{"health", nil, PathHealth, 200, "OK"},
		{"healthz", nil, PathHealthz, 200, "OK"},
		{"ready", nil, PathReady, 200, "OK"},
		{"readyz", nil, PathReadyz, 200, "OK"},
		{"not ready", errors.New("redis: connection refused"), PathReady, 503, "redis: connection refused"},
		{"not readyz", errors.New("redis: connection refused"), PathReadyz, 503, "redis: connection refused"},
		{"health while not ready", errors.New("redis down"), PathHealth, 200, "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setReady(tt.readyErr)
			r := f.do(t, http.MethodGet, tt.path, nil, nil)
			if r.status != tt.status || r.body != tt.body {
				t.Fatalf("%s = %d %q, want %d %q", tt.path, r.status, r.body, tt.status, tt.body)
			}
		})
	}
	if called {
		t.Error("a probe reached the function")
	}
	mu.Lock()
	defer mu.Unlock()
	if readyDeadline <= 0 || readyDeadline > readyTimeout {
		t.Errorf("Ready got a deadline %v away, want within %v", readyDeadline, readyTimeout)
	}
}

func TestReadyWithoutCheckAndDraining(t *testing.T) {
	opts := Options{Metrics: metrics.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}
	p := newProbes(FunctionHandler(ok("fn"), opts), opts)
	rec := httptestRecorder(p, PathReady)
	if rec.status != 200 || rec.body != "OK" {
		t.Fatalf("nil Ready: %d %q, want 200 OK", rec.status, rec.body)
	}
	p.draining.Store(true)
	if rec := httptestRecorder(p, PathReady); rec.status != 503 {
		t.Fatalf("draining: /_/ready = %d, want 503", rec.status)
	}
	if rec := httptestRecorder(p, PathHealth); rec.status != 200 {
		t.Fatalf("draining: /_/health = %d, want 200 (the process is up)", rec.status)
	}
}

func TestFunctionGetsEveryOtherPath(t *testing.T) {
	f := start(t, ok("fn"), Options{})
	for _, path := range []string{"/", "/function/x", "//double", "/_/unknown", "/metrics/extra", "/healthz/"} {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, "PROPFIND"} {
			if r := f.do(t, method, path, nil, nil); r.status != 200 || r.body != "fn" {
				t.Errorf("%s %s = %d %q, want the function", method, path, r.status, r.body)
			}
		}
	}
}

func TestHTTPMetrics(t *testing.T) {
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		if r.QueryString == "fail" {
			return handler.Response{}, errors.New("boom")
		}
		return handler.Response{Body: []byte("ok")}, nil
	})
	f := start(t, fn, Options{Name: `we"ird\fn`})
	for range 3 {
		f.do(t, http.MethodPost, "/", strings.NewReader("x"), nil)
	}
	f.do(t, http.MethodGet, "/?fail", nil, nil)
	f.do(t, "PROPFIND", "/", nil, nil)

	m := f.scrape(t)
	const fl = `function="we\"ird\\fn"`
	want := map[string]float64{
		`geotrack_http_requests_total{` + fl + `,method="POST",code="200"}`:   3,
		`geotrack_http_requests_total{` + fl + `,method="GET",code="500"}`:    1,
		`geotrack_http_requests_total{` + fl + `,method="other",code="200"}`:  1,
		`geotrack_http_errors_total{` + fl + `}`:                              1,
		`geotrack_http_inflight{` + fl + `}`:                                  0,
		`geotrack_http_request_duration_seconds_count{` + fl + `}`:            5,
		`geotrack_http_request_duration_seconds_bucket{` + fl + `,le="+Inf"}`: 5,
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("missing series %s", k)
			continue
		}
		if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	prev := -1.0
	for _, le := range DurationBuckets {
		k := `geotrack_http_request_duration_seconds_bucket{` + fl + `,le="` + formatLe(le) + `"}`
		v, ok := m[k]
		if !ok {
			t.Fatalf("missing bucket %s", k)
		}
		if v < prev {
			t.Fatalf("bucket %s = %v is below the previous %v: not cumulative", k, v, prev)
		}
		prev = v
	}
	if _, ok := m["go_goroutines"]; ok {
		t.Error("a fresh registry should not carry the process metrics")
	}
}

func TestMetricsShareRegistry(t *testing.T) {
	// The dev runner serves several functions from one process and registry.
	f := start(t, ok("a"), Options{Name: "a"})
	b := FunctionHandler(ok("b"), Options{Name: "b", Metrics: f.reg, Logger: slog.New(slog.DiscardHandler)})
	rec := httptestRecorder(b, "/")
	if rec.status != 200 {
		t.Fatalf("second function: %d", rec.status)
	}
	f.do(t, http.MethodGet, "/", nil, nil)
	m := f.scrape(t)
	for _, fn := range []string{"a", "b"} {
		if m[`geotrack_http_requests_total{function="`+fn+`",method="GET",code="200"}`] != 1 {
			t.Errorf("function %s not counted once in the shared registry: %v", fn, m)
		}
	}
}

func TestNotFoundIsJSON(t *testing.T) {
	cases := []struct{ hint, path, want string }{
		{"", "/nope", "no route for /nope"},
		{"functions are at /function/<name>", "/functon/ingest", "no route for /functon/ingest: functions are at /function/<name>"},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		NotFound(tc.hint).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusNotFound || ct != "application/json" {
			t.Fatalf("%s: %d %s, want 404 application/json", tc.path, rec.Code, ct)
		}
		var body struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.want {
			t.Fatalf("%s: body %q (%v), want error %q", tc.path, rec.Body, err, tc.want)
		}
	}
}
