package functions

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/functions/forwarder"
	"github.com/geotrack/geotrack/functions/privacy"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/edge"
	privacysvc "github.com/geotrack/geotrack/internal/privacy"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/s3store"
)

// Issue 12 §1 (h20): privacy, export and erasure of a device.

func buildPrivacy(ctx context.Context, d *Deps) (*Built, error) {
	var cfg privacy.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	store := redisstore.New(client, redisstore.Options{})
	alerts := redisstore.NewAlerts(client, 0)
	svc := &privacysvc.Service{
		History: store, Events: store, Fences: store,
		Alerts:      alerts,
		Rules:       alerts,
		Preferences: redisstore.NewPreferencesStore(client, ""),
		Audit:       redisstore.NewAuditLog(client, "", cfg.AuditRetention),
		Cloud:       redisstore.NewPrivacy(client, ""),
	}
	if cfg.S3Endpoint != "" {
		bucket, err := s3store.Open(cfg.Env, slog.Default())
		if err != nil {
			return nil, err
		}
		svc.Archive = privacysvc.ObjectArchive{Objects: bucket, Prefix: cfg.S3Prefix}
	} else {
		slog.Info("privacy: S3_ENDPOINT is not set: export and erasure cover the hot store only")
	}
	return &Built{HTTP: privacy.New(svc, verifier), Ready: pinger(client)}, nil
}

// erasureGated puts the erasure tombstones in front of the preferences
// gate of a cloud pipeline: fixes of an erased device older than its
// erasure are dropped (reason "erased").
func erasureGated(next privacysvc.Gate, p *redisstore.Privacy) privacysvc.Gate {
	return &privacysvc.ErasureGate{Next: next, Tombstones: p}
}

// startEdgeEraser runs the erasure sync of an edge node (PRIVACY_URL),
// once per process whichever edge functions it serves.
func (d *Deps) startEdgeEraser(ctx context.Context, client redis.UniversalClient, ec edge.Edge) error {
	if ec.PrivacyURL == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.eraser {
		return nil
	}
	token, err := config.Secret(forwarder.TokenSecret, forwarder.TokenEnv)
	if err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("PRIVACY_URL is set but the %s secret (or %s) is empty", forwarder.TokenSecret, forwarder.TokenEnv)
	}
	e := &privacysvc.EdgeEraser{URL: ec.PrivacyURL, Token: token, Node: ec.NodeID, Interval: ec.PrivacyInterval,
		Purger: redisstore.NewPrivacy(client, "")}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); e.Run(loopCtx, slog.Default()) }()
	d.stops = append(d.stops, func() { cancel(); <-done })
	d.eraser = true
	return nil
}
