package functions

import (
	"context"
	"log/slog"
	"time"

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
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/preferences"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// The edge functions: edge-ingest, the forwarder, and the device protocols
// (which feed the cloud pipeline, or the edge pipeline with EDGE_MODE=true).

func buildEdgeIngest(ctx context.Context, d *Deps) (*Built, error) {
	var cfg edgeingest.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	acc, ready, verifier, stop, err := edgeAcceptor(ctx, d, cfg.Redis, cfg.Config, cfg.SinkConfig, cfg.Edge)
	if err != nil {
		return nil, err
	}
	return &Built{Handler: ingest.New(intake.NewService(Parser(), chargedByFixes(acc, verifier)), verifier), Ready: ready, Close: stop, Admit: admission(verifier),
		ReadyDetail: d.preferencesDetail}, nil
}

func buildOwnTracks(ctx context.Context, d *Deps) (*Built, error) {
	var cfg owntracks.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	built, acc, verifier, err := protocolAcceptor(ctx, d, "owntracks", cfg.Redis, cfg.Config, cfg.SinkConfig, cfg.Acceptance)
	if err != nil {
		return nil, err
	}
	fn := owntracks.New(intake.NewService(Parser(), acc), verifier, d.Metrics)
	// Apps whose report settings changed get a setConfiguration in the
	// reply: from the preferences in the cloud, from the synced copy at the
	// edge (none without PREFERENCES_URL).
	client, err := d.Redis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	var source preferences.Source = preferenceService(client)
	if cfg.EdgeMode {
		source = nil
		d.mu.Lock()
		if d.syncer != nil {
			source = d.syncer
		}
		d.mu.Unlock()
	}
	if source != nil {
		fn.WithReconfigurer(preferences.NewReconfigurer(source, redisstore.NewPreferencesStore(client, "")))
	}
	built.Handler, built.Admit = fn, admission(verifier)
	return built, nil
}

func buildOsmAnd(ctx context.Context, d *Deps) (*Built, error) {
	var cfg osmand.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	built, acc, verifier, err := protocolAcceptor(ctx, d, "osmand", cfg.Redis, cfg.Config, cfg.SinkConfig, cfg.Acceptance)
	if err != nil {
		return nil, err
	}
	built.Handler, built.Admit = osmand.New(intake.NewService(Parser(), acc), verifier), admission(verifier)
	return built, nil
}

func buildForwarder(ctx context.Context, d *Deps) (*Built, error) {
	var cfg forwarder.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, err := d.Redis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	token, err := config.Secret(forwarder.TokenSecret, forwarder.TokenEnv)
	if err != nil {
		return nil, err
	}
	ob := outbox.New(client, outbox.Options{MaxLen: cfg.OutboxMaxLen, Metrics: d.Metrics})
	fw, err := forward.New(ob, forward.Config{
		URL: cfg.CloudIngestURL, Token: token, NodeID: cfg.NodeID, BatchSize: cfg.BatchSize,
		RatePerSecond: cfg.RatePerSecond, MaxBackoff: cfg.MaxBackoff, Gzip: cfg.Gzip, Metrics: d.Metrics,
		AlertsURL: cfg.CloudAlertsURL, Alerts: redisstore.NewAlerts(client, 0),
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
}

// protocolAcceptor builds what a device-protocol function accepts into:
// the cloud pipeline by default, the edge pipeline with EDGE_MODE=true. The
// returned Built lacks only its Handler.
func protocolAcceptor(ctx context.Context, d *Deps, name string, rc config.Redis, ac auth.Config, sc events.SinkConfig, acc edge.Acceptance) (
	*Built, intake.Acceptor, httpkit.Verifier, error) {
	if acc.EdgeMode {
		pipeline, ready, verifier, stop, err := edgeAcceptor(ctx, d, rc, ac, sc, acc.Edge)
		if err != nil {
			return nil, nil, nil, err
		}
		return &Built{Ready: ready, Close: stop, ReadyDetail: d.preferencesDetail}, pipeline, verifier, nil
	}
	pipeline, ready, verifier, err := cloudPipeline(d, rc, ac, sc,
		redisstore.Options{HistoryRetention: acc.HistoryRetention, DedupTTL: acc.DedupTTL, KeepOld: acc.ArchiveTier.Enabled(),
			DeviceQuota: acc.DeviceQuota}, "urn:geotrack:"+name)
	if err != nil {
		return nil, nil, nil, err
	}
	return &Built{Ready: ready}, pipeline, verifier, nil
}

// edgeAcceptor builds the edge pipeline and starts its idle-flush loop; stop
// ends the loop.
func edgeAcceptor(ctx context.Context, d *Deps, rc config.Redis, ac auth.Config, sc events.SinkConfig, ec edge.Edge) (
	intake.Acceptor, func(context.Context) error, httpkit.Verifier, func() error, error) {
	settings, err := edge.ParseSettings(ec.FilterSettings, ec.DeviceSettings)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	// DeviceQuota -1: the node keeps a copy of what it forwards; the
	// cloud's ingest enforces the tenant's device quota.
	store, ready, verifier, err := hotStore(d, rc, ac, redisstore.Options{HistoryRetention: ec.HistoryRetention, DeviceQuota: -1})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	sink, err := d.EventSink(sc)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	client, err := d.Redis(rc)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if ec.FlushInterval <= 0 {
		ec.FlushInterval = 5 * time.Second
	}
	syncer, err := d.preferencesSyncer(ctx, client, ec)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := d.startEdgeEraser(ctx, client, ec); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := d.startRevocationSync(ctx, client, ec, ac); err != nil {
		return nil, nil, nil, nil, err
	}
	var prefs edge.Preferences
	if syncer != nil {
		prefs = syncer
	}
	alerts, err := d.edgeAlerts(ctx, client, store, ec)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	pipeline := edge.NewPipeline(edge.Ports{
		Prefs:   prefs,
		Store:   store,
		States:  redisstore.NewFilterStates(client),
		Raw:     redisstore.NewRawLog(client, ec.RawRetention),
		Outbox:  outbox.New(client, outbox.Options{MaxLen: ec.OutboxMaxLen, Metrics: d.Metrics}),
		Sink:    sink,
		Metrics: d.Metrics,
		Alerts:  alerts,
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
