package httpkit

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/geotrack/geotrack/internal/metrics"
)

func TestPlainHandler(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/block":
			entered <- struct{}{}
			<-release
		case "/deadline":
			if _, ok := r.Context().Deadline(); !ok {
				http.Error(w, "no deadline", http.StatusTeapot)
				return
			}
		}
		_, _ = w.Write([]byte("path " + r.URL.Path))
	})
	logs := &logBuffer{}
	reg := metrics.NewRegistry()
	opts := Options{Name: "plainfn", MaxInflight: 1, Metrics: reg,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	srv := httptest.NewServer(newProbes(PlainHandler(h, opts), opts))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, logs: logs, reg: reg}

	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/app.js", http.StatusOK, "path /app.js"},
		{"/deadline", http.StatusOK, "path /deadline"},
		{"/panic", http.StatusInternalServerError, `{"error":"internal error"}` + "\n"},
		{PathHealth, http.StatusOK, "OK"},
	}
	for _, c := range cases {
		r := f.do(t, http.MethodGet, c.path, nil, nil)
		if r.status != c.status || r.body != c.body {
			t.Errorf("GET %s = %d %q, want %d %q", c.path, r.status, r.body, c.status, c.body)
		}
		if c.path != PathHealth && r.header.Get("X-Call-Id") == "" {
			t.Errorf("GET %s: no X-Call-Id", c.path)
		}
	}

	blocked := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/block")
		if err == nil {
			resp.Body.Close()
		}
		blocked <- err
	}()
	<-entered
	r := f.do(t, http.MethodGet, "/app.js", nil, nil)
	close(release)
	if err := <-blocked; err != nil {
		t.Fatalf("blocked request: %v", err)
	}
	wantJSONError(t, r, http.StatusTooManyRequests, "too many requests in flight")

	m := f.scrape(t)
	if got := m[`geotrack_http_requests_total{function="plainfn",method="GET",code="200"}`]; got < 2 {
		t.Errorf("200s counted %v, want >= 2", got)
	}
	if got := m[`geotrack_http_errors_total{function="plainfn"}`]; got != 1 {
		t.Errorf("5xx counted %v, want 1", got)
	}
	var logged bool
	for _, rec := range logs.find(t, "request") {
		if rec["path"] == "/panic" && rec["status"] == float64(500) && rec["function"] == "plainfn" {
			logged = true
		}
	}
	if !logged {
		t.Error("no access log line for the panicking request")
	}
}
