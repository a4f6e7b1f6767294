package httpkit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// readyTimeout bounds one call of Options.Ready.
const readyTimeout = 2 * time.Second

// Probe and metrics paths. The /_/ ones are what the OpenFaaS watchdog
// serves; /healthz and /readyz are the Kubernetes convention.
const (
	PathHealth  = "/_/health"
	PathReady   = "/_/ready"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
)

// probes routes the system paths and passes everything else to next.
type probes struct {
	next     http.Handler
	opts     Options
	metrics  http.Handler
	draining atomic.Bool
}

func newProbes(next http.Handler, opts Options) *probes {
	opts = opts.withDefaults()
	return &probes{next: next, opts: opts, metrics: opts.Metrics.Handler()}
}

// Mux serves fn with the system routes: /_/health and /healthz (200 "OK"
// while the process is up), /_/ready and /readyz (opts.Ready, 200 "OK" or
// 503 with the error text), /metrics, and fn on every other path and method.
func Mux(name string, fn handler.FunctionHandler, opts Options) http.Handler {
	if name != "" {
		opts.Name = name
	}
	opts = opts.withDefaults() // one metrics registry for the handler and /metrics
	return newProbes(FunctionHandler(fn, opts), opts)
}

func (p *probes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.draining.Load() {
		// The server closes the connection after this response, so a client
		// never sends its next request into a connection about to be closed.
		w.Header().Set("Connection", "close")
	}
	var h http.HandlerFunc
	switch r.URL.Path {
	case PathHealth, PathHealthz:
		h = p.health
	case PathReady, PathReadyz:
		h = p.ready
	case PathMetrics:
		h = p.metrics.ServeHTTP
	default:
		p.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	h(rec, r)
	p.opts.Logger.LogAttrs(r.Context(), slog.LevelDebug, "request",
		slog.String("function", p.opts.Name),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rec.status),
		slog.Int("bytes", rec.bytes),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
}

func (p *probes) health(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "OK")
}

func (p *probes) ready(w http.ResponseWriter, r *http.Request) {
	if p.draining.Load() {
		writeText(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	if p.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := p.opts.Ready(ctx); err != nil {
			p.opts.Logger.Warn("not ready", slog.String("function", p.opts.Name), slog.Any("error", err))
			writeText(w, http.StatusServiceUnavailable, err.Error())
			return
		}
	}
	if p.opts.ReadyDetail != nil {
		if d := p.opts.ReadyDetail(); d != "" {
			writeText(w, http.StatusOK, "OK\n"+d)
			return
		}
	}
	writeText(w, http.StatusOK, "OK")
}

// NotFound answers with the uniform JSON error, 404, naming the path and
// adding hint (e.g. where the functions are), so an unknown path gets the
// same kind of body as every other error.
func NotFound(hint string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := fmt.Sprintf("no route for %s", r.URL.Path)
		if hint != "" {
			msg += ": " + hint
		}
		writeError(w, http.StatusNotFound, msg)
	})
}

func writeText(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg)) // a probe that hung up needs no answer
}

// recorder notes the status and size of a system route's response.
type recorder struct {
	http.ResponseWriter
	status, bytes int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
