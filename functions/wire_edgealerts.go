package functions

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/functions/forwarder"
	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// edgeAlerts builds the process's edge alerting (nil without RULES_URL):
// the sync of the cloud's fences and rules into the edge Redis (restored
// first, then every ALERTS_SYNC_INTERVAL) and the evaluation the edge
// pipeline runs on the fixes it keeps. One per process, as the preferences
// sync: edge-ingest, owntracks and osmand of one `geotrack dev` share it.
func (d *Deps) edgeAlerts(ctx context.Context, client redis.UniversalClient, store *redisstore.Store, ec edge.Edge) (*edge.Alerts, error) {
	if !ec.AlertsAtEdge() {
		return nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.alerts != nil {
		return d.alerts, nil
	}
	token, err := config.Secret(forwarder.TokenSecret, forwarder.TokenEnv)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("RULES_URL is set but the %s secret (or %s) is empty", forwarder.TokenSecret, forwarder.TokenEnv)
	}
	rules := redisstore.NewAlerts(client, ec.AlertRetention).AtEdge(ec.NodeID)
	sync := &edge.AlertSync{FencesURL: ec.GeofencesURL, RulesURL: ec.RulesURL, Token: token, Interval: ec.AlertsSyncInterval,
		Mark: redisstore.SyncedAlerts{Client: client}, Fences: store, Rules: rules}
	if d.Metrics != nil {
		version := d.Metrics.NewGauge("geotrack_edge_fences_version",
			"Cloud fence version this edge node's copy reflects (0: none yet; fences and rules sync, RULES_URL).")
		sync.OnSynced = func(m edge.SyncMark) { version.Set(float64(m.FenceVersion)) }
	}
	if err := sync.Restore(ctx); err != nil {
		slog.Warn("restore fence and rule sync mark", "err", err) // the sync loop retries the Redis
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); sync.Run(loopCtx, slog.Default()) }()
	d.stops = append(d.stops, func() { cancel(); <-done })

	source := "urn:geotrack:edge:" + ec.NodeID
	detector := &geofence.Detector{
		Fences: store,
		// No outbox at the edge (no broker to relay to): the state and the
		// event log only; the rules below get the events in the process.
		States:    &redisstore.GeofenceStates{Store: store, Retention: ec.HistoryRetention},
		Evaluator: geofence.Evaluator{MarginM: ec.GeofenceMarginM},
		Source:    source,
	}
	d.alerts = &edge.Alerts{Node: ec.NodeID, Detector: detector,
		Rules: alert.NewEngine(rules, source).AtEdge(ec.NodeID), Source: source}
	return d.alerts, nil
}
