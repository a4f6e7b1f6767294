package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestSecurityEdgeHonoursCloudRevocations (issue 12 §3): an edge node
// checks tokens against its own Redis; with TOKENS_URL it pulls the
// tenant's revocations from the cloud's tokens function, so a token
// revoked in the cloud is refused by the edge within the sync interval
// plus the guard's poll, and a "not before" set in the cloud applies there
// too.
func TestSecurityEdgeHonoursCloudRevocations(t *testing.T) {
	cloud := testenv.StartRedis(t)
	tokensFn := startFunction(t, "tokens", map[string]string{"REDIS_URL": cloud.URL})
	const syncInterval = 300 * time.Millisecond
	edgeRedis := testenv.StartRedis(t)
	edgeIngest := startFunction(t, "edge-ingest", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_MODE": "true", "EDGE_NODE_ID": "site-1",
		"TOKENS_URL": tokensFn.URL, "TOKENS_SYNC_INTERVAL": syncInterval.String(),
		"EDGE_SERVICE_TOKEN": securityToken(t, "acme", auth.RoleService, "", "acme-edge-1"),
	})
	admin := securityToken(t, "acme", auth.RoleAdmin, "", "acme-admin-1")
	revoked := securityToken(t, "acme", auth.RoleDevice, "van-1", "acme-van-1")
	kept := securityToken(t, "acme", auth.RoleDevice, "van-2", "acme-van-2")
	globex := securityToken(t, "globex", auth.RoleDevice, "van-1", "acme-van-1") // same jti, other tenant
	jsonH := hdr("Content-Type", "application/json")
	sec := 0
	post := func(tok, device string) func() response {
		return func() response {
			sec++
			return call(t, http.MethodPost, edgeIngest.URL, tok, jsonH, []byte(fixJSON(device, sec, 52.5, 13.4)))
		}
	}
	for name, fn := range map[string]func() response{"van-1": post(revoked, "van-1"), "van-2": post(kept, "van-2"), "globex": post(globex, "van-1")} {
		if r := fn(); r.Status != http.StatusAccepted {
			t.Fatalf("%s before revocation: %d %s", name, r.Status, r.Body)
		}
	}

	if r := call(t, http.MethodPost, tokensFn.URL+"?revoke=acme-van-1", admin, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke in the cloud: %d %s", r.Status, r.Body)
	}
	// The sync interval, then the edge guard's poll (≤ 2 s).
	deadline := syncInterval + revocationDeadline
	took := untilStatus(t, "token revoked in the cloud, at the edge", deadline, http.StatusUnauthorized, post(revoked, "van-1"))
	t.Logf("cloud revocation enforced by the edge after %s", took.Round(10*time.Millisecond))
	if r := post(revoked, "van-1")(); !strings.Contains(string(r.Body), "revoked") {
		t.Fatalf("edge refusal does not say why: %s", r.Body)
	}
	for name, fn := range map[string]func() response{"another token of the tenant": post(kept, "van-2"), "the same jti in another tenant": post(globex, "van-1")} {
		if r := fn(); r.Status != http.StatusAccepted {
			t.Fatalf("%s at the edge: %d %s", name, r.Status, r.Body)
		}
	}

	// not_before in the cloud: the edge refuses the tenant's older tokens.
	cut := time.Now().UTC()
	if r := call(t, http.MethodPost, tokensFn.URL+"?not_before="+url.QueryEscape(cut.Format(time.RFC3339Nano)), admin, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("not_before in the cloud: %d %s", r.Status, r.Body)
	}
	took = untilStatus(t, "token issued before the cloud's not_before, at the edge", deadline, http.StatusUnauthorized, post(kept, "van-2"))
	t.Logf("cloud not_before enforced by the edge after %s", took.Round(10*time.Millisecond))
	time.Sleep(1100 * time.Millisecond) // iat has second resolution
	fresh := securityToken(t, "acme", auth.RoleDevice, "van-2", "acme-van-2b")
	if r := post(fresh, "van-2")(); r.Status != http.StatusAccepted {
		t.Fatalf("a token issued after not_before at the edge: %d %s", r.Status, r.Body)
	}

	// The cut also cut the edge's own service token (issued before it). Once
	// every cloud replica applies the cut, the node must still read the
	// list: a later revocation still reaches the edge.
	time.Sleep(time.Until(cut.Add(revocationDeadline + 500*time.Millisecond)))
	if r := call(t, http.MethodPost, tokensFn.URL+"?revoke=acme-van-2b", securityToken(t, "acme", auth.RoleAdmin, "", "acme-admin-2"), nil, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke after the cut: %d %s", r.Status, r.Body)
	}
	took = untilStatus(t, "token revoked after a cut that also cut the edge's service token", deadline, http.StatusUnauthorized, post(fresh, "van-2"))
	t.Logf("revocation after the cut enforced by the edge after %s", took.Round(10*time.Millisecond))
}
