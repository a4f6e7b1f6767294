package testenv

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// WaitHTTP polls url with GET until it answers 200 OK, failing the test with
// the last status or error when timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("status %s", resp.Status)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s not ready after %s: %s", url, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
