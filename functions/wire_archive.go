package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/geotrack/geotrack/functions/archiver"
	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/audit"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/forward"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/privacy"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/s3store"
)

// The archive tier (issue 11 §2): archiver.

// archiverLockTTL bounds how long a crashed pass blocks the next one.
const archiverLockTTL = time.Minute

func buildArchiver(ctx context.Context, d *Deps) (*Built, error) {
	var cfg archiver.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	built := &Built{Ready: pinger(client)}
	if cfg.S3Endpoint == "" {
		slog.Info("archiver: S3_ENDPOINT is not set: no archive tier, history ends at the hot retention")
		built.Handler = archiver.New(nil, verifier, d.Metrics)
		return built, nil
	}
	bucket, err := s3store.Open(cfg.Env, slog.Default())
	if err != nil {
		return nil, err
	}
	store := redisstore.New(client, redisstore.Options{})
	a := &archive.Archiver{
		Hot: archiveHot{store}, Cold: bucket, Prefix: cfg.S3Prefix,
		Retention: cfg.HotRetention, Workers: cfg.Workers,
	}
	lockKey := store.Options().KeyPrefix + ":{archiver}:lock"
	sweep := &privacy.RetentionSweep{
		Hot: store, Objects: bucket, Prefix: cfg.S3Prefix,
		Preferences: redisstore.NewPreferencesStore(client, ""), Default: cfg.DataRetention,
	}
	pass := &lockedPass{archiver: a, sweep: sweep, lock: forward.NewLock(client, lockKey, archiverLockTTL)}
	if cfg.S3AuditBucket != "" {
		if pass.audit, err = auditArchive(cfg, store, redisstore.NewAuditLog(client, "", cfg.AuditRetention)); err != nil {
			return nil, err
		}
	}
	fn := archiver.New(pass, verifier, d.Metrics)
	built.Handler = fn
	slog.Info("archiver: archive tier on", "endpoint", cfg.S3Endpoint, "bucket", cfg.S3Bucket, "prefix", cfg.S3Prefix, "hot_retention", cfg.HotRetention, "sse", cfg.SSE)
	if cfg.Interval > 0 {
		loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			ticker := time.NewTicker(cfg.Interval)
			defer ticker.Stop()
			for {
				if res, err := fn.RunPass(loopCtx); err != nil && loopCtx.Err() == nil {
					slog.Warn("archiver: pass failed; the hot data stays, the next pass catches up", "err", err)
				} else if res.Points > 0 {
					slog.Info("archiver: pass", "points", res.Points, "objects", res.Objects, "bytes", res.Bytes)
				}
				select {
				case <-loopCtx.Done():
					return
				case <-ticker.C:
				}
			}
		}()
		built.Close = func() error { cancel(); <-done; return nil }
	}
	return built, nil
}

// archiveHot adapts the Redis store to archive.Hot: its ErrHistoryChanged
// is the archive's.
type archiveHot struct{ *redisstore.Store }

func (h archiveHot) TrimArchived(ctx context.Context, tenant, device string, before time.Time, archived int) error {
	err := h.Store.TrimArchived(ctx, tenant, device, before, archived)
	if errors.Is(err, redisstore.ErrHistoryChanged) {
		return fmt.Errorf("%w: %w", archive.ErrHistoryChanged, err)
	}
	return err
}

// lockedPass runs a pass under a Redis lock: two passes at once could each
// merge a different read of the hot store into the same object, and the
// later write would drop the other's points.
type lockedPass struct {
	archiver *archive.Archiver
	sweep    *privacy.RetentionSweep // issue 12 §1: run after the pass, under the same lock
	// audit copies the audit trails to the WORM bucket (issue 12 §2).
	audit func(ctx context.Context) (objects, entries int, err error)
	lock  *forward.Lock
}

func (p *lockedPass) Pass(ctx context.Context) (archive.Result, error) {
	lease, err := p.lock.Acquire(ctx)
	if errors.Is(err, forward.ErrLocked) {
		return archive.Result{}, &httpkit.Error{Status: http.StatusConflict, Field: "archiver", Msg: "another pass is running"}
	}
	if err != nil {
		return archive.Result{}, err
	}
	ctx, lost := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(archiverLockTTL / 3)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				if err := lease.Renew(ctx); errors.Is(err, forward.ErrLockLost) {
					lost(err)
					return
				}
			}
		}
	}()
	defer func() {
		close(done)
		lost(nil)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = lease.Release(rctx) // it expires after archiverLockTTL anyway
	}()
	res, err := p.archiver.Pass(ctx)
	if err != nil || p.sweep == nil {
		return res, err
	}
	swept, err := p.sweep.Sweep(ctx)
	res.RetentionDevices, res.RetentionObjects = swept.Devices, swept.Objects+swept.Rewritten
	if err != nil || p.audit == nil {
		return res, err
	}
	res.AuditObjects, res.AuditEntries, err = p.audit(ctx)
	return res, err
}

// auditArchive copies every tenant's audit trail to the locked bucket
// S3_AUDIT_BUCKET (same endpoint and credentials as the archive).
func auditArchive(cfg archiver.Config, store *redisstore.Store, log *redisstore.AuditLog) (func(context.Context) (int, int, error), error) {
	if cfg.AuditLockDays < 1 {
		return nil, fmt.Errorf("AUDIT_LOCK_DAYS: want at least 1, got %d", cfg.AuditLockDays)
	}
	accessKey, err := config.Secret(s3store.AccessKeySecret, s3store.AccessKeyEnv)
	if err != nil {
		return nil, err
	}
	secretKey, err := config.Secret(s3store.SecretKeySecret, s3store.SecretKeyEnv)
	if err != nil {
		return nil, err
	}
	sse := cfg.SSE
	if sse == s3store.SSEC {
		sse = s3store.SSEAuto // the audit archive must stay readable without the archive key
	}
	bucket, err := s3store.NewLocked(s3store.Config{
		Endpoint: cfg.S3Endpoint, Bucket: cfg.S3AuditBucket, Region: cfg.S3Region, CAFile: cfg.S3CAFile,
		AccessKey: accessKey, SecretKey: secretKey, SSE: sse,
	}, time.Duration(cfg.AuditLockDays)*24*time.Hour)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (int, int, error) {
		tenants, err := store.Tenants(ctx)
		if err != nil {
			return 0, 0, err
		}
		return audit.Archive(ctx, tenants, log, bucket, cfg.S3Prefix, archive.EscapeSegment)
	}, nil
}
