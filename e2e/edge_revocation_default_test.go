package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestSecurityEdgeRevocationByDefaultWithin5s (issue 12 §3): with the
// default TOKENS_SYNC_INTERVAL, a token revoked in the cloud is refused by
// an edge node within the 5 s.
func TestSecurityEdgeRevocationByDefaultWithin5s(t *testing.T) {
	cloud := testenv.StartRedis(t)
	tokensFn := startFunction(t, "tokens", map[string]string{"REDIS_URL": cloud.URL})
	edgeIngest := startFunction(t, "edge-ingest", map[string]string{
		"REDIS_URL": testenv.StartRedis(t).URL, "EDGE_MODE": "true", "EDGE_NODE_ID": "site-1",
		"TOKENS_URL":         tokensFn.URL, // TOKENS_SYNC_INTERVAL: the default
		"EDGE_SERVICE_TOKEN": securityToken(t, "acme", auth.RoleService, "", "acme-edge-1"),
	})
	admin := securityToken(t, "acme", auth.RoleAdmin, "", "acme-admin-1")
	revoked := securityToken(t, "acme", auth.RoleDevice, "van-1", "acme-van-1")
	jsonH := hdr("Content-Type", "application/json")
	sec := 0
	post := func() response {
		sec++
		return call(t, http.MethodPost, edgeIngest.URL, revoked, jsonH, []byte(fixJSON("van-1", sec, 52.5, 13.4)))
	}
	if r := post(); r.Status != http.StatusAccepted {
		t.Fatalf("before revocation: %d %s", r.Status, r.Body)
	}
	if r := call(t, http.MethodPost, tokensFn.URL+"?revoke=acme-van-1", admin, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke in the cloud: %d %s", r.Status, r.Body)
	}
	took := untilStatus(t, "token revoked in the cloud, at the edge (default sync interval)", revocationDeadline, http.StatusUnauthorized, post)
	t.Logf("cloud revocation enforced by the edge after %s", took.Round(10*time.Millisecond))
}
