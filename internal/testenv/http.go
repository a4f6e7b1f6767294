package testenv

import (
	"context"
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
