package poll

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// httpClient times out each check on its own, whatever the poll's deadline.
var httpClient = &http.Client{Timeout: 2 * time.Second}

// HTTPOK is a check for Until: nil when GET url answers 200 OK, else the
// status or the error.
func HTTPOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
