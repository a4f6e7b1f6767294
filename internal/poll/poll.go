// Package poll waits for a condition by checking it at a fixed interval.
// It is the one polling loop of the repository: server start-up in
// localserver and testenv, readiness waits in the CLI and the tests' "wait
// until" helpers all use Until. The edge's periodic pulls from the cloud
// run on Every and make their requests with CloudRequest.
package poll

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// abortError marks a check failure that no amount of waiting will fix.
type abortError struct{ err error }

func (a abortError) Error() string { return a.err.Error() }
func (a abortError) Unwrap() error { return a.err }

// Abort wraps err so that Until stops at once and returns err, e.g. when the
// process being waited on has exited.
func Abort(err error) error { return abortError{err: err} }

// Until calls check right away and then every interval until it returns
// nil, returns an error made by Abort, ctx ends, or timeout passes (0: only
// ctx bounds the wait). The error of a timeout or an ended ctx names the
// last failure of check.
func Until(ctx context.Context, timeout, interval time.Duration, check func(ctx context.Context) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last error
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		var abort abortError
		if errors.As(err, &abort) {
			return abort.err
		}
		// A check cut short by the deadline says less than the one before.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
				return fmt.Errorf("not within %s: %w", timeout, last)
			}
			return fmt.Errorf("%w (last: %w)", ctx.Err(), last)
		case <-ticker.C:
		}
	}
}
