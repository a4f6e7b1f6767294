package httpkit

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/geotrack/geotrack/internal/metrics"
)

// Defaults, shared by Options and Env.
const (
	DefaultAddr            = ":8080"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultReadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultHandlerTimeout  = 10 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultShutdownDelay   = 5 * time.Second
	DefaultMaxInflight     = 256
)

// Options configure how a function is served. Zero fields take the defaults
// above.
type Options struct {
	// Name labels metrics and log lines ("function").
	Name string
	// Addr is where Serve listens when its addr argument is empty.
	Addr string
	// MaxBodyBytes bounds the request body; larger bodies get 413.
	MaxBodyBytes int64
	// ReadTimeout and WriteTimeout bound the whole request read and response
	// write, as in http.Server.
	ReadTimeout, WriteTimeout time.Duration
	// HandlerTimeout is the deadline of the handler's context; a handler
	// still running then gets 503 (and its context is cancelled).
	HandlerTimeout time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests on shutdown.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long the server keeps accepting and serving
	// after SIGTERM while /_/ready already answers 503, so that endpoints
	// (Kubernetes, OpenFaaS) stop routing here before the listener closes.
	// Zero (the default of Options) means no delay; Env defaults it to 5s.
	ShutdownDelay time.Duration
	// MaxInflight bounds concurrent requests per function; more get 429.
	MaxInflight int
	// Admit, when set, is asked before the request's body is read whether
	// the request may proceed (a tenant's in-flight cap): an error is the
	// answer (its status, Retry-After; an *Error's Hold and
	// CloseConnection), so an excess request costs no body read nor
	// decode; release, when not nil, is called once the handler has
	// returned, or once a refusal has been answered.
	Admit func(r *http.Request) (release func(), err error)
	// Ready reports whether the function can serve (e.g. Redis reachable);
	// nil means always ready. It is called with a 2s deadline.
	Ready func(ctx context.Context) error
	// ReadyDetail, when set, adds lines to a 200 /_/ready after "OK" (e.g.
	// "preferences_version=3" on an edge node).
	ReadyDetail func() string
	// TrustedProxies are the proxies whose X-Forwarded-For names the client
	// (Remote, the audit trail); empty: the peer is the client.
	TrustedProxies []netip.Prefix
	// TLSCertFile and TLSKeyFile, when both set, make Serve answer HTTPS
	// only, re-reading the pair when either file changes (see tls.go).
	TLSCertFile, TLSKeyFile string
	// Logger is the base logger; nil means slog.Default().
	Logger *slog.Logger
	// Metrics is where the HTTP metrics go and what /metrics serves: one
	// registry per process, shared with the functions it serves. nil means
	// a new one with the process metrics (OptionsFromEnv makes it).
	Metrics *metrics.Registry
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = DefaultHandlerTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewProcessRegistry()
	}
	return o
}
