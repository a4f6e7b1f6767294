package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/testenv"
)

// TestReadinessFollowsRedis: /_/ready is 503 while Redis is down (so
// OpenFaaS and Knative stop routing to the replica) and 200 again when it is
// back; /_/health stays 200 throughout (the process is fine).
func TestReadinessFollowsRedis(t *testing.T) {
	rs := testenv.StartRedis(t)
	p := startFunction(t, "position", map[string]string{"REDIS_URL": rs.URL})
	status := func(path string) int {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	rs.Stop()
	waitFor(t, "ready to turn 503", 10*time.Second, func() bool { return status("/_/ready") == http.StatusServiceUnavailable })
	if got := status("/_/health"); got != http.StatusOK {
		t.Fatalf("/_/health = %d while Redis is down", got)
	}
	rs.Restart(t)
	waitFor(t, "ready to turn 200", 10*time.Second, func() bool { return status("/_/ready") == http.StatusOK })
}
