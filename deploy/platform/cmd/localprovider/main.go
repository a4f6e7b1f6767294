// Command localprovider serves the OpenFaaS provider API (faas-provider) and
// runs deployed functions as local `geotrack serve <name>` processes; see
// package localprovider. The real OpenFaaS gateway is pointed at it with
// functions_provider_url.
//
//	localprovider -binary bin/geotrack -port 8081 -prometheus-port 9090 -state /tmp/lp
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	bootstrap "github.com/openfaas/faas-provider"
	"github.com/openfaas/faas-provider/types"

	"github.com/geotrack/geotrack/deploy/platform/localprovider"
)

func main() {
	binary := flag.String("binary", "geotrack", "geotrack executable")
	port := flag.Int("port", 8081, "provider API port (all interfaces: the gateway runs in a container)")
	prometheusPort := flag.Int("prometheus-port", 0, "serve an empty Prometheus query API on this port (0: off)")
	state := flag.String("state", "", "folder for secrets (default: a temporary folder)")
	flag.Parse()
	if err := run(*binary, *port, *prometheusPort, *state); err != nil {
		slog.Error("localprovider", "err", err)
		os.Exit(1)
	}
}

func run(binary string, port, prometheusPort int, state string) error {
	if state == "" {
		dir, err := os.MkdirTemp("", "localprovider-")
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		defer os.RemoveAll(dir)
		state = dir
	}
	p, err := localprovider.New(binary, state)
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if prometheusPort != 0 {
		srv := &http.Server{Addr: fmt.Sprintf(":%d", prometheusPort), Handler: localprovider.PrometheusStub(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.ListenAndServe() }()
		defer srv.Close()
	}
	config := types.FaaSConfig{TCPPort: &port, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	slog.Info("serving the provider API", "port", port)
	bootstrap.Serve(ctx, p.Handlers(config), &config)
	return nil
}
