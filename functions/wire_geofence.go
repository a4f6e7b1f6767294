package functions

import (
	"context"

	eventsfn "github.com/geotrack/geotrack/functions/events"
	geofencedetect "github.com/geotrack/geotrack/functions/geofence-detect"
	"github.com/geotrack/geotrack/functions/geofences"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/geofence"
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
	return &Built{Handler: geofences.New(&geofence.Service{Store: store, Quota: cfg.Quota}, verifier), Ready: ready}, nil
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
	if relay != nil {
		detector.Committed = func(_ context.Context, tenant string, _ []geofence.Event) { relay.Wake(tenant) }
	}
	return &Built{Handler: geofencedetect.New(detector, verifier), Ready: ready}, nil
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
