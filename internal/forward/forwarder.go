// Package forward drains the edge outbox to the cloud's ingest function: it
// sends batches as CloudEvents and removes them only after a 2xx, so nothing
// is lost; resends are safe because the cloud deduplicates by event
// source+id and by device+ts.
package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/outbox"
)

// Defaults for Config.
const (
	DefaultBatchSize   = 500
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 60 * time.Second
	DefaultHTTPTimeout = 10 * time.Second
	DefaultLockTTL     = 30 * time.Second
)

// detachedTimeout bounds work that must finish even when the caller's
// context is done: acking a delivered batch and releasing the lock.
const detachedTimeout = 5 * time.Second

// Config configures a Forwarder.
type Config struct {
	URL    string // the cloud's ingest endpoint (CLOUD_INGEST_URL)
	Token  string // service-role bearer token
	NodeID string // this edge node; part of the event source and ids

	BatchSize        int     // fixes per event; default 500, at most fix.MaxBatch
	MaxBatchesPerRun int     // requests per RunOnce; 0 = until the outbox is empty
	RatePerSecond    float64 // fixes per second sent, paced between batches; 0 = unlimited
	Gzip             bool    // compress batches (Content-Encoding: gzip; geotrack's runtime decodes it)

	MinBackoff  time.Duration // default 500ms
	MaxBackoff  time.Duration // default 60s
	HTTPTimeout time.Duration // per request; default 10s
	HTTPClient  *http.Client  // default a new client (its own Timeout is left as is)

	LockKey string        // default <outbox key>:lock (same hash tag)
	LockTTL time.Duration // default 30s; renewed every TTL/3 while sending

	// AlertsURL is the cloud's alerts function (CLOUD_ALERTS_URL): with
	// Alerts, the records of the alerts this node fired go up there after
	// the fixes (alerts.go). Empty: nothing goes up.
	AlertsURL string
	Alerts    alert.Uplink

	Logger  *slog.Logger      // default slog.Default()
	Metrics *metrics.Registry // where to publish; nil keeps them private (see Metrics)
}

// Result of one RunOnce.
type Result struct {
	Sent    int   // fixes delivered (2xx)
	Batches int   // events delivered
	Dead    int   // entries dead-lettered because the cloud rejected them
	Backlog int64 // outbox depth afterwards (-1 when it could not be read)
	More    bool  // stopped at MaxBatchesPerRun with entries left
	Alerts  int   // edge alert records the cloud took (AlertsURL)
}

// Forwarder sends the outbox to the cloud. Run one per edge node (or more:
// the lock makes extra replicas wait).
type Forwarder struct {
	ob   *outbox.Outbox
	cfg  Config
	lock *Lock
	log  *slog.Logger
	m    *forwardMetrics

	mu       sync.Mutex // guards nextSend
	nextSend time.Time

	// now and sleep are the clock used for pacing; tests replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Forwarder for ob.
func New(ob *outbox.Outbox, cfg Config) (*Forwarder, error) {
	if cfg.URL == "" {
		return nil, errors.New("forward: URL (CLOUD_INGEST_URL) is required")
	}
	if !fix.ValidDevice(cfg.NodeID) {
		return nil, fmt.Errorf("forward: NodeID %q must match ^[A-Za-z0-9._:-]{1,128}$", cfg.NodeID)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.BatchSize = min(cfg.BatchSize, fix.MaxBatch)
	if cfg.RatePerSecond < 0 {
		return nil, fmt.Errorf("forward: RatePerSecond %g must not be negative", cfg.RatePerSecond)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = DefaultHTTPTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.LockKey == "" {
		cfg.LockKey = ob.Key() + ":lock"
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = DefaultLockTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &Forwarder{
		ob:    ob,
		cfg:   cfg,
		lock:  NewLock(ob.Client(), cfg.LockKey, cfg.LockTTL),
		log:   cfg.Logger.With("node", cfg.NodeID),
		now:   time.Now,
		sleep: sleepCtx,
	}
	f.m = newForwardMetrics(cfg.Metrics, f)
	return f, nil
}

// RunOnce sends batches until the outbox is empty, MaxBatchesPerRun requests
// were made, or a delivery fails. It returns ErrLocked when another replica
// is sending, a *RetryableError when the cloud or Redis should be retried
// later, and the context's error when ctx ends. Entries are acked only after
// a 2xx; entries the cloud rejects (4xx other than 401/403/404/405/408/425/429)
// are narrowed down by halving the batch and only those rejected on their
// own are dead-lettered, so one bad fix does not take 499 good ones with it.
func (f *Forwarder) RunOnce(ctx context.Context) (res Result, err error) {
	defer func() { res.Backlog = f.refreshStats(ctx) }()
	lease, err := f.lock.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if !errors.Is(err, ErrLocked) {
			f.m.failure("redis")
			err = &RetryableError{Err: err}
		}
		return res, err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	stopKeep := lease.keepAlive(runCtx, cancel)
	defer func() {
		stopKeep()
		cancel(nil)
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
		defer rcancel()
		if rerr := lease.Release(rctx); rerr != nil {
			f.log.Warn("forward: release lock", "err", rerr) // it expires after LockTTL anyway
		}
	}()
	if res, err = f.drain(runCtx); err != nil || res.More {
		return res, err
	}
	res.Alerts, err = f.uplinkAlerts(runCtx)
	return res, err
}

// drain is RunOnce's loop, under the lock.
func (f *Forwarder) drain(ctx context.Context) (Result, error) {
	var res Result
	limit := f.cfg.BatchSize
	for requests := 0; ; requests++ {
		if err := context.Cause(ctx); err != nil {
			return res, err
		}
		entries, err := f.ob.Peek(ctx, limit)
		if err != nil {
			return res, f.redisFailure(ctx, err)
		}
		if len(entries) == 0 {
			return res, nil
		}
		if f.cfg.MaxBatchesPerRun > 0 && requests >= f.cfg.MaxBatchesPerRun {
			res.More = true
			return res, nil
		}
		batch := sameTenantPrefix(entries)
		if err := f.pace(ctx, len(batch)); err != nil {
			return res, context.Cause(ctx)
		}
		id, body, err := encodeBatch(f.cfg.NodeID, batch)
		if err != nil {
			return res, err // entries come from Peek, which validated them: a bug
		}
		r := f.post(ctx, f.cfg.URL, ContentType, id, body)
		switch r.verdict {
		case delivered:
			if err := f.ack(ctx, batch); err != nil {
				// Delivered but still queued: it will be resent and deduplicated.
				return res, f.redisFailure(ctx, err)
			}
			res.Sent += len(batch)
			res.Batches++
			f.m.delivered(len(batch))
			f.log.Debug("forward: batch delivered", "id", id, "fixes", len(batch), "status", r.status)
		case rejected:
			if len(batch) > 1 {
				// Halve until the rejected entries stand alone; keep the small
				// size until then (the rest is acked on the way).
				limit = len(batch) / 2
				f.log.Warn("forward: cloud rejected batch, narrowing it down",
					"id", id, "fixes", len(batch), "status", r.status, "body", clip.String(r.body, 200))
				continue
			}
			moved, err := f.ob.DeadLetter(ctx, outbox.DeadLetterInfo{Status: r.status, Body: r.body},
				outbox.DeadLetterItem{ID: batch[0].ID, Reason: fmt.Sprintf("rejected by cloud ingest (event %s)", id)})
			if err != nil {
				return res, f.redisFailure(ctx, err)
			}
			res.Dead += int(moved)
			f.m.deadLettered(int(moved))
			f.log.Error("forward: cloud rejected a fix, dead-lettered it", "id", id, "entry", batch[0].ID,
				"device", batch[0].Fix.Device, "ts", fix.FormatTime(batch[0].Fix.TS), "status", r.status,
				"body", clip.String(r.body, 500))
			limit = f.cfg.BatchSize
		case retry:
			if cause := context.Cause(ctx); cause != nil {
				return res, cause
			}
			f.m.failure(failureReason(r))
			return res, &RetryableError{Status: r.status, RetryAfter: r.retryAfter, Err: r.err}
		}
	}
}

// ack removes a delivered batch. It runs detached from ctx: the cloud has
// the batch, and acking now saves a resend after a cancellation.
func (f *Forwarder) ack(ctx context.Context, batch []outbox.Entry) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
	defer cancel()
	ids := make([]string, len(batch))
	for i, e := range batch {
		ids[i] = e.ID
	}
	return f.ob.Ack(actx, ids...)
}

func (f *Forwarder) redisFailure(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	f.m.failure("redis")
	return &RetryableError{Err: err}
}

func failureReason(r response) string {
	switch {
	case r.status == 0:
		return "network"
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return "auth"
	default:
		return "http"
	}
}

// pace waits so that at most RatePerSecond fixes per second go out, then
// books n fixes.
func (f *Forwarder) pace(ctx context.Context, n int) error {
	if f.cfg.RatePerSecond <= 0 {
		return nil
	}
	f.mu.Lock()
	now := f.now()
	start := f.nextSend
	if start.Before(now) {
		start = now
	}
	f.nextSend = start.Add(time.Duration(float64(n) / f.cfg.RatePerSecond * float64(time.Second)))
	f.mu.Unlock()
	if wait := start.Sub(now); wait > 0 {
		return f.sleep(ctx, wait)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
