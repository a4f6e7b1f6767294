package functions

import (
	"context"
	"log/slog"
	"time"

	"github.com/geotrack/geotrack/functions/alerts"
	"github.com/geotrack/geotrack/functions/notify"
	"github.com/geotrack/geotrack/functions/rules"
	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/backoff"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/webhook"
)

// The alert functions (issue 9 §3): rules, notify, alerts.

func buildRules(ctx context.Context, d *Deps) (*Built, error) {
	var cfg rules.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	store := redisstore.NewAlerts(client, 0)
	return &Built{Handler: rules.New(store, verifier, alert.URLPolicy{AllowPrivate: cfg.AllowPrivate}), Ready: pinger(client)}, nil
}

func buildAlerts(ctx context.Context, d *Deps) (*Built, error) {
	var cfg alerts.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	// An edge node's alert.fired goes to the sink when the cloud first
	// stores its record (alert_import.lua), through the event outbox as
	// notify's; notify subscribes to no alert.fired, so nothing fires or
	// delivers again. No sink, nothing queued.
	relay, err := d.EventRelay(cfg.Redis, cfg.SinkConfig)
	if err != nil {
		return nil, err
	}
	store := redisstore.NewAlerts(client, cfg.AlertRetention)
	if relay != nil {
		store.WithEventOutbox(cfg.OutboxMaxLen, relay.Wake)
	}
	return &Built{Handler: alerts.New(store, verifier), Ready: pinger(client)}, nil
}

func buildNotify(ctx context.Context, d *Deps) (*Built, error) {
	var cfg notify.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	// io.geotrack.alert.fired goes to the sink through the event outbox,
	// queued with the alert; no sink, nothing queued.
	relay, err := d.EventRelay(cfg.Redis, cfg.SinkConfig)
	if err != nil {
		return nil, err
	}
	store := redisstore.NewAlerts(client, cfg.AlertRetention).AtEdge(cfg.EdgeNodeID)
	if relay != nil {
		store.WithEventOutbox(cfg.OutboxMaxLen, relay.Wake)
	}
	engine := alert.NewEngine(store, cfg.Source).AtEdge(cfg.EdgeNodeID)
	dispatcher := webhook.NewDispatcher(store, webhook.Config{
		Client:  webhook.NewClient(cfg.Timeout, cfg.AllowPrivate),
		Retry:   backoff.Policy{Min: cfg.RetryMin, Max: cfg.RetryMax},
		Horizon: cfg.Horizon, Timeout: cfg.Timeout, Metrics: d.Metrics,
	})
	built := &Built{Ready: pinger(client)}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var stops []chan struct{}
	var wake chan struct{}
	if cfg.DeliveryInterval > 0 {
		wake = make(chan struct{}, 1)
		done := make(chan struct{})
		stops = append(stops, done)
		go func() { defer close(done); dispatcher.Run(loopCtx, wake, cfg.DeliveryInterval) }()
	}
	if cfg.SilenceInterval > 0 {
		done := make(chan struct{})
		stops = append(stops, done)
		go func() { defer close(done); sweepEvery(loopCtx, engine, cfg.SilenceInterval, wake) }()
	}
	built.Close = func() error {
		cancel()
		for _, done := range stops {
			<-done
		}
		return nil
	}
	signer, err := d.EventSigner()
	if err != nil {
		return nil, err
	}
	built.Handler = notify.New(engine, dispatcher, wake, verifier, signer, d.Metrics) // nil wake: deliver inline
	return built, nil
}

// sweepEvery runs the silence sweep in the process (the edge, dev), as the
// forwarder runs its drain: no cron-connector needed there.
func sweepEvery(ctx context.Context, engine *alert.Engine, interval time.Duration, wake chan<- struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sum, err := engine.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			slog.Warn("silence sweep", "err", err)
		}
		if sum.Fired > 0 && wake != nil {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
}
