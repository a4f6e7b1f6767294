package testenv

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/poll"
)

// WaitHTTP polls url with GET until it answers 200 OK, failing the test with
// the last status or error when timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	if err := poll.Until(context.Background(), timeout, 50*time.Millisecond, func(ctx context.Context) error {
		return CheckHTTP(ctx, url)
	}); err != nil {
		t.Fatalf("testenv: %s not ready: %v", url, err)
	}
}

// CheckHTTP reports nil when GET url answers 200 OK, for poll.Until.
func CheckHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
