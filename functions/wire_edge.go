package functions

import (
	"context"
	"log/slog"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	edgeingest "github.com/geotrack/geotrack/functions/edge-ingest"
	"github.com/geotrack/geotrack/functions/forwarder"
	"github.com/geotrack/geotrack/functions/ingest"
	"github.com/geotrack/geotrack/functions/osmand"
	"github.com/geotrack/geotrack/functions/owntracks"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/forward"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/redisstore"
)

func init() {
	add(Spec{
		Name:   "edge-ingest",
		Config: &edgeingest.Config{},
		Edge:   true,
		Emits:  []string{events.TypeEdgeStored},
		Build: func(ctx context.Context, d *Deps) (*Built, error) {
			var cfg edgeingest.Config
			if err := config.Load(&cfg); err != nil {
				return nil, err
			}
			acc, ready, verifier, stop, err := edgeAcceptor(ctx, d, cfg.Redis, cfg.Config, cfg.SinkConfig, cfg.Edge)
			if err != nil {
				return nil, err
			}
			return &Built{Handler: ingest.New(Parser(), acc, verifier), Ready: ready, Close: stop}, nil
		},
	})
	protocolSpec("owntracks", &owntracks.Config{}, func(p intake.Parser, a intake.Acceptor, v httpkit.Verifier) handler.FunctionHandler {
		return owntracks.New(p, a, v)
	})
	protocolSpec("osmand", &osmand.Config{}, func(p intake.Parser, a intake.Acceptor, v httpkit.Verifier) handler.FunctionHandler {
		return osmand.New(p, a, v)
	})

	add(Spec{
		Name:       "forwarder",
		Config:     &forwarder.Config{},
		Edge:       true,
		Subscribes: []string{events.TypeEdgeStored},
		Schedule:   "*/1 * * * *",
		Build: func(ctx context.Context, d *Deps) (*Built, error) {
			var cfg forwarder.Config
			if err := config.Load(&cfg); err != nil {
				return nil, err
			}
			client, err := d.Redis(cfg.RedisURL, cfg.RedisTLSCAFile)
			if err != nil {
				return nil, err
			}
			token, err := config.Secret(forwarder.TokenSecret, forwarder.TokenEnv)
			if err != nil {
				return nil, err
			}
			ob := outbox.New(client, outbox.Options{MaxLen: cfg.OutboxMaxLen, Metrics: metrics.Default})
			fw, err := forward.New(ob, forward.Config{
				URL: cfg.CloudIngestURL, Token: token, NodeID: cfg.NodeID, BatchSize: cfg.BatchSize,
				RatePerSecond: cfg.RatePerSecond, MaxBackoff: cfg.MaxBackoff, Gzip: cfg.Gzip, Metrics: metrics.Default,
			})
			if err != nil {
				return nil, err
			}
			built := &Built{Ready: pinger(client)}
			if cfg.Interval <= 0 {
				built.Handler = forwarder.New(fw, nil)
				return built, nil
			}
			wake := make(chan struct{}, 1)
			loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			done := make(chan struct{})
			go func() { defer close(done); fw.Run(loopCtx, wake, cfg.Interval) }()
			built.Handler = forwarder.New(fw, wake)
			built.Close = func() error { cancel(); <-done; return nil }
			return built, nil
		},
	})
}

// protocolSpec registers a device-protocol function: cloud pipeline by
// default, the edge pipeline with EDGE_MODE=true.
func protocolSpec(name string, zero *edge.ProtocolConfig,
	build func(intake.Parser, intake.Acceptor, httpkit.Verifier) handler.FunctionHandler) {
	add(Spec{
		Name:   name,
		Config: zero,
		Edge:   true,
		Emits:  []string{events.TypeLocationUpdated, events.TypeEdgeStored},
		Build: func(ctx context.Context, d *Deps) (*Built, error) {
			var cfg edge.ProtocolConfig
			if err := config.Load(&cfg); err != nil {
				return nil, err
			}
			if cfg.EdgeMode {
				acc, ready, verifier, stop, err := edgeAcceptor(ctx, d, cfg.Redis, cfg.Config, cfg.SinkConfig, cfg.Edge)
				if err != nil {
					return nil, err
				}
				return &Built{Handler: build(Parser(), acc, verifier), Ready: ready, Close: stop}, nil
			}
			pipeline, ready, verifier, err := cloudPipeline(d, cfg.Redis, cfg.Config, cfg.SinkConfig,
				redisstore.Options{HistoryRetention: cfg.HistoryRetention, DedupTTL: cfg.DedupTTL}, "urn:geotrack:"+name)
			if err != nil {
				return nil, err
			}
			return &Built{Handler: build(Parser(), pipeline, verifier), Ready: ready}, nil
		},
	})
}

// edgeAcceptor builds the edge pipeline and starts its idle-flush loop; stop
// ends the loop.
func edgeAcceptor(ctx context.Context, d *Deps, rc config.Redis, ac auth.Config, sc events.SinkConfig, ec edge.Edge) (
	intake.Acceptor, func(context.Context) error, httpkit.Verifier, func() error, error) {
	settings, err := edge.ParseSettings(ec.FilterSettings, ec.DeviceSettings)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	store, ready, verifier, err := hotStore(d, rc, ac, redisstore.Options{HistoryRetention: ec.HistoryRetention})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	sink, err := d.EventSink(sc)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	client, err := d.Redis(rc.RedisURL, rc.RedisTLSCAFile)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if ec.FlushInterval <= 0 {
		ec.FlushInterval = 5 * time.Second
	}
	ob := outbox.New(client, outbox.Options{MaxLen: ec.OutboxMaxLen, Metrics: metrics.Default})
	pipeline := edge.NewPipeline(edge.Ports{
		Store:  store,
		States: redisstore.NewFilterStates(client),
		Raw:    redisstore.NewRawLog(client, ec.RawRetention),
		Outbox: ob,
		Sink:   sink,
	}, settings, ec)
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ec.FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-t.C:
				if _, err := pipeline.FlushIdle(loopCtx); err != nil && loopCtx.Err() == nil {
					slog.Warn("edge idle flush", "err", err)
				}
			}
		}
	}()
	return pipeline, ready, verifier, func() error { cancel(); <-done; return nil }, nil
}
