package functions

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	"github.com/geotrack/geotrack/functions/dashboard"
	"github.com/geotrack/geotrack/functions/ingest"
	"github.com/geotrack/geotrack/functions/nearby"
	"github.com/geotrack/geotrack/functions/position"
	"github.com/geotrack/geotrack/functions/track"
	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/cloud"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geojson"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/s3store"
)

// The cloud functions: ingest and the read functions.

func buildIngest(ctx context.Context, d *Deps) (*Built, error) {
	var cfg ingest.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	pipeline, ready, verifier, err := cloudPipeline(d, cfg.Redis, cfg.Config, cfg.SinkConfig,
		redisstore.Options{HistoryRetention: cfg.HistoryRetention, DedupTTL: cfg.DedupTTL, KeepOld: cfg.ArchiveTier.Enabled(),
			DeviceQuota: cfg.DeviceQuota}, cfg.Source)
	if err != nil {
		return nil, err
	}
	return &Built{Handler: ingest.New(intake.NewService(Parser(), chargedByFixes(pipeline, verifier)), verifier), Ready: ready, Admit: admission(verifier)}, nil
}

func buildPosition(ctx context.Context, d *Deps) (*Built, error) {
	var cfg position.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	return &Built{Handler: position.New(locate.New(store), verifier), Ready: ready}, nil
}

func buildNearby(ctx context.Context, d *Deps) (*Built, error) {
	var cfg nearby.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	return &Built{Handler: nearby.New(locate.New(store), verifier), Ready: ready}, nil
}

func buildTrack(ctx context.Context, d *Deps) (*Built, error) {
	var cfg track.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	history, err := historyOfTiers(store, cfg.Env, "track")
	if err != nil {
		return nil, err
	}
	return &Built{Handler: track.New(trackHistory{history}, verifier), Ready: ready}, nil
}

// historyOfTiers is the read service over the hot store and, when
// S3_ENDPOINT is set, the archive: every reader of history (track, trips)
// goes through it, so both see the same merged history.
func historyOfTiers(store *redisstore.Store, cfg s3store.Env, function string) (*locate.Service, error) {
	bucket, err := s3store.Open(cfg, slog.Default())
	if err != nil {
		return nil, err
	}
	if bucket == nil {
		slog.Info(function + ": S3_ENDPOINT is not set: no archive tier, history ends at the hot retention")
		return locate.New(store), nil
	}
	slog.Info(function+": reading archived history", "endpoint", cfg.S3Endpoint, "bucket", cfg.S3Bucket, "prefix", cfg.S3Prefix)
	// A read starting today needs only the hot store: it answers while
	// the archive is down; an older one answers 503 then.
	cold := archive.NewColdStore(bucket.Client(), bucket.Name(), cfg.S3Prefix, bucket.CustomerKey())
	return locate.New(store).WithArchive(archive.TodayWithoutArchive{Archive: cold}), nil
}

// trackHistory gives track the stream as its own interface.
type trackHistory struct{ *locate.Service }

func (h trackHistory) OpenHistory(ctx context.Context, tenant, device string, from, to time.Time, cursor string) (track.FixStream, error) {
	stream, err := h.Service.OpenHistory(ctx, tenant, device, from, to, cursor)
	if err != nil {
		return nil, err // not a typed nil
	}
	return stream, nil
}

// hotStore opens the Redis hot store and the token verifier a function needs.
func hotStore(d *Deps, rc config.Redis, ac auth.Config, opts redisstore.Options) (*redisstore.Store, func(context.Context) error, httpkit.Verifier, error) {
	client, verifier, err := d.RedisAndAuth(rc, ac)
	if err != nil {
		return nil, nil, nil, err
	}
	return redisstore.New(client, opts), pinger(client), verifier, nil
}

// cloudPipeline builds the cloud ingest pipeline (hot store, event relay)
// and the verifier of a position-accepting function.
func cloudPipeline(d *Deps, rc config.Redis, ac auth.Config, sc events.SinkConfig, opts redisstore.Options, source string) (
	*cloud.Pipeline, func(context.Context) error, httpkit.Verifier, error) {
	opts.EventOutboxMaxLen = sc.OutboxMaxLen
	store, ready, verifier, err := hotStore(d, rc, ac, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	relay, err := d.EventRelay(rc, sc)
	if err != nil {
		return nil, nil, nil, err
	}
	pl := &cloud.Pipeline{Store: store, Source: source}
	if relay != nil { // no sink: announce nothing (a typed nil would announce)
		pl.Relay = relay
	}
	if d.Metrics != nil {
		pl.Conflicts = cloud.NewConflictCounter(d.Metrics)
		pl.OverQuota = cloud.NewOverQuotaCounter(d.Metrics)
		pl.Dropped = cloud.NewDroppedCounter(d.Metrics)
	}
	// Tracking preferences (paused devices, privacy zones) apply here when
	// the cloud is the first tier to see a fix.
	prefs := preferenceService(store.Client())
	pl.Gate, pl.Retention, pl.Trim = erasureGated(prefs, redisstore.NewPrivacy(store.Client(), "")), prefs, store
	return pl, ready, verifier, nil
}

// Parser is the intake parser every position-accepting function uses:
// JSON fixes plus the track documents devices and tools upload.
func Parser() intake.Parser {
	return intake.Parser{Decoders: map[string]intake.DataDecoder{
		"application/gpx+xml": func(data []byte, subject string) ([]fix.Fix, error) {
			return gpx.Decode(bytes.NewReader(data), subject, fix.MaxBatch)
		},
		"application/geo+json": geojson.Decode,
	}}
}

func buildDashboard(ctx context.Context, d *Deps) (*Built, error) {
	var cfg dashboard.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	h, err := dashboard.New(cfg, dashboard.Files())
	if err != nil {
		return nil, err
	}
	return &Built{HTTP: h}, nil
}
