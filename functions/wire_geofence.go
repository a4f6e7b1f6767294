package functions

import (
	"context"
	"encoding/json"

	eventsfn "github.com/geotrack/geotrack/functions/events"
	geofencedetect "github.com/geotrack/geotrack/functions/geofence-detect"
	"github.com/geotrack/geotrack/functions/geofences"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/httpkit"
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
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{HistoryRetention: cfg.HistoryRetention})
	if err != nil {
		return nil, err
	}
	sink, err := d.EventSink(cfg.SinkConfig)
	if err != nil {
		return nil, err
	}
	detector := &geofence.Detector{
		Fences:      store,
		States:      &redisstore.GeofenceStates{Store: store, Retention: cfg.HistoryRetention},
		Evaluator:   geofence.Evaluator{MarginM: cfg.MarginM},
		Source:      cfg.Source,
		ReloadEvery: cfg.ReloadEvery,
	}
	if events.Enabled(sink) {
		detector.Publish = publishTo(sink)
	}
	return &Built{Handler: geofencedetect.New(detector, verifier), Ready: ready}, nil
}

// publishTo sends committed geofence events to the sink, after the commit
// (they are in the event log already); a failure is logged.
func publishTo(sink events.Sink) func(ctx context.Context, tenant string, evs []geofence.Event) {
	return func(ctx context.Context, tenant string, evs []geofence.Event) {
		log := httpkit.LoggerFrom(ctx)
		for _, ge := range evs {
			e, err := events.New(ge.Source, ge.Type, ge.Subject, ge.TraceParent, json.RawMessage(ge.Data))
			if err != nil {
				log.Error("build geofence event", "err", err)
				continue
			}
			e.SetID(ge.ID)
			e.SetTime(ge.Time)
			e.SetExtension(events.ExtTenant, tenant)
			if err := sink.Send(ctx, e); err != nil {
				log.Error("emit geofence event", "err", err, "event_id", ge.ID, "type", ge.Type)
			}
		}
	}
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
