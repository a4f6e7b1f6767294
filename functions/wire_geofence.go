package functions

import (
	"context"

	eventsfn "github.com/geotrack/geotrack/functions/events"
	geofencedetect "github.com/geotrack/geotrack/functions/geofence-detect"
	"github.com/geotrack/geotrack/functions/geofences"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// Issue 9 (h7): the geofence functions and the event log.

func buildGeofences(ctx context.Context, d *Deps) (*Built, error) {
	var cfg geofences.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	return &Built{Handler: geofences.New(&geofence.Service{Store: store, Quota: cfg.Quota, Overrides: store, Changes: store}, verifier), Ready: ready}, nil
}

func buildGeofenceDetect(ctx context.Context, d *Deps) (*Built, error) {
	var cfg geofencedetect.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config,
		redisstore.Options{HistoryRetention: cfg.HistoryRetention, EventOutboxMaxLen: cfg.OutboxMaxLen})
	if err != nil {
		return nil, err
	}
	relay, err := d.EventRelay(cfg.Redis, cfg.SinkConfig)
	if err != nil {
		return nil, err
	}
	detector := &geofence.Detector{
		Fences: store,
		// No sink, no relay: nothing is queued (the event log still is).
		States:      &redisstore.GeofenceStates{Store: store, Retention: cfg.HistoryRetention, Outbox: relay != nil},
		Evaluator:   geofence.Evaluator{MarginM: cfg.MarginM},
		Source:      cfg.Source,
		ReloadEvery: cfg.ReloadEvery,
	}
	reg := d.Metrics
	if reg == nil {
		reg = metrics.NewRegistry() // kept where nobody serves it
	}
	counted := &countingDetector{Detector: detector,
		fixes: reg.NewCounter("geotrack_geofence_fixes_total", "Fixes geofence-detect evaluated against the tenant's fences."),
		ignored: reg.NewCounter("geotrack_geofence_fixes_ignored_total",
			"Fixes not newer than their device's last evaluated fix (late or redelivered): no transitions."),
		events: reg.NewCounterVec("geotrack_geofence_events_total", "Geofence events committed (outbox and event log), by type.", "type"),
	}
	detector.Committed = func(_ context.Context, tenant string, evs []geofence.Event) {
		for _, e := range evs {
			counted.events.With(e.Type).Inc()
		}
		if relay != nil {
			relay.Wake(tenant)
		}
	}
	signer, err := d.EventSigner()
	if err != nil {
		return nil, err
	}
	return &Built{Handler: geofencedetect.New(counted, verifier, signer), Ready: ready}, nil
}

// countingDetector counts what the detector evaluated, for /metrics.
type countingDetector struct {
	*geofence.Detector
	fixes, ignored *metrics.Counter
	events         *metrics.CounterVec
}

func (c *countingDetector) Detect(ctx context.Context, tenant string, fixes []fix.Fix, traceParent string) (geofence.Result, error) {
	res, err := c.Detector.Detect(ctx, tenant, fixes, traceParent)
	if err == nil {
		c.fixes.Add(float64(res.Fixes))
		c.ignored.Add(float64(res.Ignored))
	}
	return res, err
}

func buildEvents(ctx context.Context, d *Deps) (*Built, error) {
	var cfg eventsfn.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	return &Built{Handler: eventsfn.New(store, verifier), Ready: ready}, nil
}
