package httpkit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/metrics"
)

// DurationBuckets are the request duration histogram bounds, in seconds:
// from 0.5 ms (a cache hit) to 10 s (the default handler timeout).
var DurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// httpMetrics are one function's series; the families are shared by every
// function registered in the same registry.
type httpMetrics struct {
	name     string
	requests *metrics.CounterVec
	duration *metrics.Histogram
	errors   *metrics.Counter
	inflight *metrics.Gauge
}

func newHTTPMetrics(r *metrics.Registry, name string) *httpMetrics {
	return &httpMetrics{
		name: name,
		requests: r.NewCounterVec("geotrack_http_requests_total",
			"HTTP requests served, by function, method and status code.", "function", "method", "code"),
		duration: r.NewHistogramVec("geotrack_http_request_duration_seconds",
			"Time from request start to response written, by function.", DurationBuckets, "function").With(name),
		errors: r.NewCounterVec("geotrack_http_errors_total",
			"HTTP requests answered with a 5xx status, by function.", "function").With(name),
		inflight: r.NewGaugeVec("geotrack_http_inflight",
			"Requests admitted and not yet finished by the handler, by function.", "function").With(name),
	}
}

func (m *httpMetrics) observe(method string, status int, d time.Duration) {
	m.requests.With(m.name, methodLabel(method), strconv.Itoa(status)).Inc()
	m.duration.Observe(d.Seconds())
	if status >= 500 {
		m.errors.Inc()
	}
}

// methodLabel keeps the method label's cardinality bounded: clients can send
// any token as a method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
