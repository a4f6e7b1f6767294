package httpkit

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// plainHandler is FunctionHandler's runtime for a function written as an
// http.Handler because it needs the request path, which the go-http SDK's
// Request does not carry (the dashboard serves files).
type plainHandler struct {
	h        http.Handler
	opts     Options
	metrics  *httpMetrics
	inflight atomic.Int64
}

// PlainHandler serves h with what FunctionHandler adds to a go-http
// function: X-Call-Id, the in-flight limit (429), the handler timeout as the
// request context's deadline, the body limit, a panic answered with 500,
// the HTTP metrics and the access log. opts.Name labels metrics and logs.
func PlainHandler(h http.Handler, opts Options) http.Handler {
	opts = opts.withDefaults()
	return &plainHandler{h: h, opts: opts, metrics: newHTTPMetrics(opts.Metrics, opts.Name)}
}

func (p *plainHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := callIDFrom(r.Header.Get("X-Call-Id"))
	w.Header().Set("X-Call-Id", id)
	log := p.opts.Logger.With(slog.String("function", p.opts.Name), slog.String("call_id", id))
	rec := &plainRecorder{errorCapture: errorCapture{ResponseWriter: w}}
	p.serve(rec, r, log)

	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(start)
	p.metrics.observe(r.Method, status, elapsed)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int("bytes", rec.bytes),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	}
	if status >= 400 {
		attrs = append(attrs, slog.String("error", rec.reason()))
	}
	log.LogAttrs(r.Context(), accessLevel(r.URL.Path, status), "request", attrs...)
}

func (p *plainHandler) serve(w *plainRecorder, r *http.Request, log *slog.Logger) {
	if n := p.inflight.Add(1); n > int64(p.opts.MaxInflight) {
		p.inflight.Add(-1)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many requests in flight")
		return
	}
	p.metrics.inflight.Inc()
	defer func() {
		p.metrics.inflight.Dec()
		p.inflight.Add(-1)
	}()
	ctx, cancel := context.WithTimeout(withCall(r.Context(), &call{id: w.Header().Get("X-Call-Id"), log: log}), p.opts.HandlerTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, p.opts.MaxBodyBytes)
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("handler panicked", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if w.status == 0 {
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}
	}()
	p.h.ServeHTTP(w, r)
}

// plainRecorder notes the status, size and the start of an error body.
type plainRecorder struct {
	errorCapture
	bytes int
}

func (r *plainRecorder) Write(b []byte) (int, error) {
	n, err := r.errorCapture.Write(b)
	r.bytes += n
	return n, err
}
