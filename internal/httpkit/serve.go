package httpkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// Serve serves fn under name on addr (opts.Addr, else ":8080", when empty)
// with the routes of Mux, until ctx is cancelled or the process gets SIGTERM
// or SIGINT; then it drains (see ServeListener).
func Serve(ctx context.Context, name string, fn handler.FunctionHandler, opts Options, addr string) error {
	if name != "" {
		opts.Name = name
	}
	opts = opts.withDefaults() // one metrics registry for the handler and /metrics
	return ServeHandler(ctx, FunctionHandler(fn, opts), opts, addr)
}

// ServeHandler is Serve for any handler, e.g. the dev runner's mux with
// several FunctionHandlers under /function/<name>. It adds the system routes
// (probes, /metrics) in front of h, so h should not serve them itself.
func ServeHandler(ctx context.Context, h http.Handler, opts Options, addr string) error {
	opts = opts.withDefaults()
	if addr == "" {
		addr = opts.Addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, h, opts)
}

// ServeListener serves h with the system routes on ln, which it closes. On
// ctx cancellation, SIGTERM or SIGINT it drains, in the order a Kubernetes
// endpoint needs: /_/ready turns 503 at once while the server keeps
// accepting and serving for opts.ShutdownDelay (SIGTERM and ctx only; an
// interactive SIGINT skips it), every response of the drain carrying
// "Connection: close" so clients leave their keep-alive connections cleanly;
// then it stops accepting and waits up to opts.ShutdownTimeout for in-flight
// requests. It returns nil after a clean drain, an error if the drain timed
// out or serving failed.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, opts Options) error {
	opts = opts.withDefaults()
	log := opts.Logger.With(slog.String("function", opts.Name))
	ln, err := tlsListener(ln, opts, log)
	if err != nil {
		return err
	}
	p := newProbes(h, opts)
	srv := &http.Server{
		Handler:           p,
		ReadTimeout:       opts.ReadTimeout,
		ReadHeaderTimeout: opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(signals)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.Bool("tls", opts.TLSCertFile != ""))

	delay := opts.ShutdownDelay
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	case sig := <-signals:
		if sig == os.Interrupt {
			delay = 0 // Ctrl-C at a terminal: no load balancer to wait for
		}
	}

	p.draining.Store(true)
	if delay > 0 {
		log.Info("shutting down: not ready, still serving until endpoints forget this instance",
			slog.String("delay", delay.String()))
		select {
		case <-time.After(delay):
		case <-signals: // a second signal cuts the delay short
		}
	}
	log.Info("shutting down: stopped accepting, draining in-flight requests",
		slog.String("timeout", opts.ShutdownTimeout.String()))
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("serve loop ended with an error", slog.Any("error", serr))
	}
	if err != nil {
		_ = srv.Close() // drop what is left; we are exiting anyway
		return fmt.Errorf("shutdown: in-flight requests not done after %s: %w", opts.ShutdownTimeout, err)
	}
	log.Info("stopped")
	return nil
}
