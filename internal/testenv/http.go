package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/poll"
)

// WaitHTTP polls url with GET until it answers 200 OK, failing the test with
// the last status or error when timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	if err := poll.Until(context.Background(), timeout, 50*time.Millisecond, func(ctx context.Context) error {
		return poll.HTTPOK(ctx, url)
	}); err != nil {
		t.Fatalf("testenv: %s not ready: %v", url, err)
	}
}

// Eventually polls cond every 5 ms until it holds, failing the test after
// timeout with what it waited for. It bounds a wait; it asserts nothing about
// how long the wait took.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	err := poll.Until(context.Background(), timeout, 5*time.Millisecond, func(context.Context) error {
		if cond() {
			return nil
		}
		return errors.New("condition not met")
	})
	if err != nil {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
