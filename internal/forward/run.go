package forward

import (
	"context"
	"errors"
	"time"

	"github.com/geotrack/geotrack/internal/backoff"
)

// DefaultInterval is Run's poll interval when none is given.
const DefaultInterval = 5 * time.Second

// Run calls RunOnce when woken (edge ingest signals new fixes) or every
// interval, until ctx ends. After a failure it waits the backoff.Policy delay
// (at least Retry-After) and ignores wake-ups meanwhile, so
// busy ingest cannot hammer a failing cloud.
func (f *Forwarder) Run(ctx context.Context, wake <-chan struct{}, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	failures := 0
	for {
		wake = drainWake(wake) // this run covers whatever woke us
		res, err := f.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		wait, wakeable := interval, true
		var retryable *RetryableError
		switch {
		case err == nil && res.More:
			failures, wait = 0, 0
		case err == nil, errors.Is(err, ErrLocked):
			failures = 0
		case errors.Is(err, ErrLockLost):
			f.log.Warn("forward: lock lost during run", "err", err)
		default:
			failures++
			wait, wakeable = f.backoff(failures), false
			if errors.As(err, &retryable) {
				wait = max(wait, retryable.RetryAfter)
			}
			f.log.Warn("forward: run failed, backing off", "err", err, "failures", failures,
				"wait", wait, "backlog", res.Backlog, "sent", res.Sent)
		}
		if res.Sent > 0 || res.Dead > 0 || res.Alerts > 0 {
			f.log.Info("forward: run", "sent", res.Sent, "batches", res.Batches,
				"dead_lettered", res.Dead, "backlog", res.Backlog, "alerts_sent", res.Alerts)
		}
		var ok bool
		if wake, ok = sleepOrWake(ctx, wake, wait, wakeable); !ok {
			return
		}
	}
}

// backoff is the wait after the n-th consecutive failure: uniform in
// [MinBackoff, min(MaxBackoff, MinBackoff·2^(n-1))].
func (f *Forwarder) backoff(n int) time.Duration {
	return backoff.Policy{Min: f.cfg.MinBackoff, Max: f.cfg.MaxBackoff}.Delay(n)
}

// sleepOrWake sleeps d, or until woken when wakeable; false when ctx ended.
// It returns wake, or nil once wake is closed (a closed channel would
// otherwise wake us in a hot loop).
func sleepOrWake(ctx context.Context, wake <-chan struct{}, d time.Duration, wakeable bool) (<-chan struct{}, bool) {
	if d <= 0 {
		return wake, ctx.Err() == nil
	}
	listen := wake
	if !wakeable {
		listen = nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return wake, false
	case <-t.C:
	case _, open := <-listen:
		if !open {
			wake = nil
		}
	}
	return wake, true
}

// drainWake empties wake without blocking; nil once it is closed.
func drainWake(wake <-chan struct{}) <-chan struct{} {
	for {
		select {
		case _, open := <-wake:
			if !open {
				return nil
			}
		default:
			return wake
		}
	}
}
