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
// ctx cancellation, SIGTERM or SIGINT it stops accepting connections, reports
// not ready, waits up to opts.ShutdownTimeout for in-flight requests and
// returns nil; it returns an error if the drain timed out or serving failed.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, opts Options) error {
	opts = opts.withDefaults()
	log := opts.Logger.With(slog.String("function", opts.Name))
	p := newProbes(h, opts)
	srv := &http.Server{
		Handler:           p,
		ReadTimeout:       opts.ReadTimeout,
		ReadHeaderTimeout: opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", slog.String("addr", ln.Addr().String()))

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	p.draining.Store(true)
	log.Info("shutting down: draining in-flight requests", slog.Duration("timeout", opts.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
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
