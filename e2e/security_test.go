package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/guard"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/ratelimit"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// Issue 12 (h16) §2-§3: keys, revocation, rate limits, audit trail, TLS.

// revocationDeadline is the promise of DEPLOY.md and openapi.yaml: a
// revocation is enforced by every replica within 5 s (2 s with the default
// AUTH_REVOCATION_POLL of 1s).
const revocationDeadline = 5 * time.Second

// securityToken signs a token with a chosen jti.
func securityToken(t *testing.T, tenant string, role auth.Role, device, jti string) string {
	t.Helper()
	tok, err := auth.Sign([]byte(testSecret), auth.Principal{Tenant: tenant, Role: role, Device: device, TokenID: jti}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// untilStatus calls fn until it answers want, and returns how long that
// took; it fails the test after within.
func untilStatus(t *testing.T, what string, within time.Duration, want int, fn func() response) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := fn()
		if r.Status == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: still %d %s after %s, want %d", what, r.Status, r.Body, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSecurityKeyRotation rotates the jwt-secret secret of a running
// function (a mounted file, as Kubernetes updates it): tokens of the old
// key keep working while it is listed, tokens of the new key (named by kid,
// signed by `geotrack token`) start working, and the old ones are refused
// once the old key is removed. No restart.
func TestSecurityKeyRotation(t *testing.T) {
	const oldKey, newKey = "rotation-old-0123456789abcdef", "rotation-new-0123456789abcdef"
	rs := testenv.StartRedis(t)
	secrets := t.TempDir()
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(secrets, auth.SecretName), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(oldKey + "\n")
	fn := startFunction(t, "nearby", map[string]string{"REDIS_URL": rs.URL, "SECRETS_DIR": secrets})
	get := func(tok string) func() response {
		return func() response { return call(t, http.MethodGet, fn.URL+"?lat=1&lon=1&radius=10", tok, nil, nil) }
	}
	oldTok, err := auth.Sign([]byte(oldKey), auth.Principal{Tenant: "acme", Role: auth.RoleViewer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := get(oldTok)(); r.Status != http.StatusOK {
		t.Fatalf("old token before rotation: %d %s", r.Status, r.Body)
	}

	rotated := "2026-12:" + newKey + "\n2026-06:" + oldKey + "\n"
	write(rotated)
	// The CLI signs with the newest key, names it in kid, and tells the jti.
	cli := exec.Command(binary, "token", "--tenant", "acme", "--role", "viewer", "--secret", rotated, "--jti", "ops-laptop", "--show-jti")
	var stdout, stderr bytes.Buffer
	cli.Stdout, cli.Stderr = &stdout, &stderr
	if err := cli.Run(); err != nil {
		t.Fatalf("geotrack token: %v: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "jti: ops-laptop") {
		t.Fatalf("--show-jti printed %q", stderr.String())
	}
	newTok := strings.TrimSpace(stdout.String())
	took := untilStatus(t, "new-key token after the list was rotated in", 10*time.Second, http.StatusOK, get(newTok))
	t.Logf("new key accepted %s after the secret changed", took.Round(10*time.Millisecond))
	if r := get(oldTok)(); r.Status != http.StatusOK {
		t.Fatalf("old token while its key is still listed: %d %s", r.Status, r.Body)
	}

	write(`[{"kid":"2026-12","secret":"` + newKey + `"}]`)
	took = untilStatus(t, "old token after its key was removed", 10*time.Second, http.StatusUnauthorized, get(oldTok))
	t.Logf("old key refused %s after it was removed", took.Round(10*time.Millisecond))
	if r := get(newTok)(); r.Status != http.StatusOK {
		t.Fatalf("new token after the old key was removed: %d %s", r.Status, r.Body)
	}
}

// TestSecurityRevocation revokes one token by jti and then every token of
// a tenant issued before an instant; each is refused by another process
// (track) within revocationDeadline, other tokens and tenants unaffected.
func TestSecurityRevocation(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL}
	tokens := startFunction(t, "tokens", env)
	track := startFunction(t, "track", env)
	admin := securityToken(t, "acme", auth.RoleAdmin, "", "acme-admin-1")
	revoked := securityToken(t, "acme", auth.RoleViewer, "", "acme-viewer-1")
	kept := securityToken(t, "acme", auth.RoleViewer, "", "acme-viewer-2")
	globex := securityToken(t, "globex", auth.RoleViewer, "", "acme-viewer-1") // same jti, other tenant
	read := func(tok string) func() response {
		return func() response { return call(t, http.MethodGet, track.URL+"?device=van-1", tok, nil, nil) }
	}
	for _, tok := range []string{revoked, kept, globex} {
		if r := read(tok)(); r.Status != http.StatusOK {
			t.Fatalf("before revocation: %d %s", r.Status, r.Body)
		}
	}

	r := call(t, http.MethodPost, tokens.URL+"?revoke=acme-viewer-1", admin, nil, nil)
	var res struct {
		Revoked    string  `json:"revoked"`
		EffectiveS float64 `json:"effective_within_s"`
	}
	r.JSON(t, &res)
	if r.Status != http.StatusOK || res.Revoked != "acme-viewer-1" || res.EffectiveS <= 0 || res.EffectiveS > revocationDeadline.Seconds() {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	took := untilStatus(t, "revoked token", revocationDeadline, http.StatusUnauthorized, read(revoked))
	t.Logf("revocation enforced by track after %s", took.Round(10*time.Millisecond))
	if r := read(revoked)(); !strings.Contains(string(r.Body), "revoked") {
		t.Fatalf("refusal does not say why: %s", r.Body)
	}
	for name, tok := range map[string]string{"another token of the tenant": kept, "the same jti in another tenant": globex} {
		if r := read(tok)(); r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	var list struct {
		Revoked []struct {
			TokenID string `json:"jti"`
		} `json:"revoked"`
	}
	call(t, http.MethodGet, tokens.URL, admin, nil, nil).JSON(t, &list)
	if len(list.Revoked) != 1 || list.Revoked[0].TokenID != "acme-viewer-1" {
		t.Fatalf("acme's list: %+v", list)
	}
	call(t, http.MethodGet, tokens.URL, securityToken(t, "globex", auth.RoleAdmin, "", "g-admin"), nil, nil).JSON(t, &list)
	if len(list.Revoked) != 0 {
		t.Fatalf("globex sees acme's revocations: %+v", list)
	}

	// not_before: every acme token issued before now is refused, the
	// admin's own included; a token issued after it works.
	cut := time.Now().UTC()
	r = call(t, http.MethodPost, tokens.URL+"?not_before="+url.QueryEscape(cut.Format(time.RFC3339Nano)), admin, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("not_before: %d %s", r.Status, r.Body)
	}
	took = untilStatus(t, "token issued before not_before", revocationDeadline, http.StatusUnauthorized, read(kept))
	t.Logf("not_before enforced by track after %s", took.Round(10*time.Millisecond))
	untilStatus(t, "the admin's own old token", revocationDeadline, http.StatusUnauthorized, func() response {
		return call(t, http.MethodGet, tokens.URL, admin, nil, nil)
	})
	if r := read(globex)(); r.Status != http.StatusOK {
		t.Fatalf("globex after acme's not_before: %d %s", r.Status, r.Body)
	}
	time.Sleep(time.Until(cut.Truncate(time.Second).Add(time.Second + 50*time.Millisecond))) // iat has whole seconds
	fresh := securityToken(t, "acme", auth.RoleViewer, "", "acme-viewer-3")
	if r := read(fresh)(); r.Status != http.StatusOK {
		t.Fatalf("token issued after not_before: %d %s", r.Status, r.Body)
	}
}

// TestSecurityRateLimits: a device token past its bucket gets 429 with
// Retry-After while another device of the tenant goes on; the tenant's
// bucket bounds all its requests while another tenant goes on; a
// per-tenant override stored in Redis applies within the poll.
func TestSecurityRateLimits(t *testing.T) {
	rs := testenv.StartRedis(t)
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL,
		"RATE_LIMIT_DEVICE": "0.2", "RATE_LIMIT_DEVICE_BURST": "2", "RATE_LIMIT_TENANT": "0.2", "RATE_LIMIT_TENANT_BURST": "5"})
	jsonH := hdr("Content-Type", "application/json")
	sec := 0
	post := func(tok, device string) response {
		sec++
		return call(t, http.MethodPost, ingest.URL, tok, jsonH, []byte(fixJSON(device, sec, 48.85, 2.35)))
	}
	van1 := token(t, "acme", auth.RoleDevice, "van-1")
	for i := range 2 {
		if r := post(van1, "van-1"); r.Status != http.StatusAccepted {
			t.Fatalf("van-1 report %d within its burst: %d %s", i, r.Status, r.Body)
		}
	}
	r := post(van1, "van-1")
	if r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), "van-1") {
		t.Fatalf("van-1 past its burst: %d %s", r.Status, r.Body)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 5 {
		t.Fatalf("Retry-After %q, want 1..5 s (0.2/s)", r.Header.Get("Retry-After"))
	}
	if r := post(token(t, "acme", auth.RoleDevice, "van-2"), "van-2"); r.Status != http.StatusAccepted {
		t.Fatalf("van-2 while van-1 is limited: %d %s", r.Status, r.Body)
	}
	svc := token(t, "acme", auth.RoleService, "")
	for i := range 2 { // the tenant's 5: van-1 ×2, van-2, and these
		if r := post(svc, "van-3"); r.Status != http.StatusAccepted {
			t.Fatalf("acme request %d within the tenant burst: %d %s", i, r.Status, r.Body)
		}
	}
	if r := post(svc, "van-3"); r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), "tenant acme") ||
		r.Header.Get("Retry-After") == "" {
		t.Fatalf("acme past the tenant burst: %d %s", r.Status, r.Body)
	}
	globex := token(t, "globex", auth.RoleService, "")
	if r := post(globex, "g-1"); r.Status != http.StatusAccepted {
		t.Fatalf("globex while acme is limited: %d %s", r.Status, r.Body)
	}

	// An operator's override for globex (1 request, then 1 per 100 s).
	client := openRedis(t, rs.URL)
	override := guard.Limits{Tenant: ratelimit.Rate{PerSecond: 0.01, Burst: 1}}
	if err := redisstore.NewPolicies(client, "").SetLimits(context.Background(), "globex", override); err != nil {
		t.Fatal(err)
	}
	untilStatus(t, "globex past its override", revocationDeadline, http.StatusTooManyRequests, func() response { return post(globex, "g-1") })

	// Fixes, not requests: a tenant's large batch goes into debt and its
	// next request waits; another tenant goes on.
	batched := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL,
		"RATE_LIMIT_TENANT_FIXES": "10", "RATE_LIMIT_TENANT_FIXES_BURST": "20"})
	batch := func(tok, device string, n int) response {
		fixes := make([]string, n)
		for i := range fixes {
			sec++
			fixes[i] = fixJSON(device, sec, 48.85, 2.35)
		}
		return call(t, http.MethodPost, batched.URL, tok, jsonH, []byte("["+strings.Join(fixes, ",")+"]"))
	}
	initech := token(t, "initech", auth.RoleService, "")
	if r := batch(initech, "i-1", 100); r.Status != http.StatusAccepted {
		t.Fatalf("a 100-fix batch from a full bucket of 20: %d %s", r.Status, r.Body)
	}
	r = batch(initech, "i-1", 1)
	if r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), "fixes of tenant initech") {
		t.Fatalf("next request while 80 fixes in debt: %d %s", r.Status, r.Body)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 7 {
		t.Fatalf("Retry-After %q, want ≥ 7 s (80 fixes at 10/s)", r.Header.Get("Retry-After"))
	}
	if r := batch(token(t, "umbrella", auth.RoleService, ""), "u-1", 20); r.Status != http.StatusAccepted {
		t.Fatalf("another tenant while initech is in debt: %d %s", r.Status, r.Body)
	}
}

// TestSecurityAuditTrail performs each audited action once and reads the
// trail back as acme's admin: who, what, from where (the client behind a
// trusted proxy), token id; pages; nothing of acme for globex; viewers
// refused.
func TestSecurityAuditTrail(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL}
	fn := map[string]*proc{}
	for _, name := range []string{"track", "geofences", "preferences", "tokens", "audit"} {
		e := map[string]string{"REDIS_URL": rs.URL}
		if name == "track" {
			e["TRUSTED_PROXIES"] = "127.0.0.1/32"
		}
		fn[name] = startFunction(t, name, e)
	}
	fn["rules"] = startFunction(t, "rules", map[string]string{"REDIS_URL": env["REDIS_URL"], "WEBHOOK_ALLOW_PRIVATE": "true"})
	admin := securityToken(t, "acme", auth.RoleAdmin, "", "acme-admin")
	viewer := securityToken(t, "acme", auth.RoleViewer, "", "acme-viewer")
	jsonH := hdr("Content-Type", "application/json")
	steps := []struct {
		name, method, url, tok string
		h                      http.Header
		body                   string
		status                 int
	}{
		{"history read", http.MethodGet, fn["track"].URL + "?device=van-1", viewer, hdr("X-Forwarded-For", "198.51.100.7"), "", 200},
		{"fence change", http.MethodPost, fn["geofences"].URL, admin, hdr("Content-Type", "application/geo+json"),
			`{"type":"Feature","id":"depot","geometry":{"type":"Point","coordinates":[2.35,48.85]},"properties":{"name":"Depot","radius_m":80}}`, 201},
		{"rule change", http.MethodPost, fn["rules"].URL, admin, jsonH,
			`{"name":"depot","on":["io.geotrack.geofence.entered"],"webhook":{"url":"http://127.0.0.1:9/hook"}}`, 201},
		{"preference change", http.MethodPut, fn["preferences"].URL + "?device=van-1", admin, jsonH, `{"tracking":"paused"}`, 200},
		{"token revocation", http.MethodPost, fn["tokens"].URL + "?revoke=lost-phone", admin, nil, "", 200},
		// Not audited: a refused request, and reads of no device's history.
		{"refused history read", http.MethodGet, fn["track"].URL + "?device=van-1", token(t, "acme", auth.RoleDevice, "van-1"), nil, "", 403},
		{"fence list", http.MethodGet, fn["geofences"].URL, viewer, nil, "", 200},
	}
	for _, s := range steps {
		r := call(t, s.method, s.url, s.tok, s.h, []byte(s.body))
		if r.Status != s.status {
			t.Fatalf("%s: %d %s, want %d", s.name, r.Status, r.Body, s.status)
		}
	}

	type entry struct {
		ID      string            `json:"id"`
		Tenant  string            `json:"tenant"`
		Role    string            `json:"role"`
		TokenID string            `json:"token_id"`
		Action  string            `json:"action"`
		Target  map[string]string `json:"target"`
		Remote  string            `json:"remote"`
		Status  int               `json:"status"`
		At      time.Time         `json:"at"`
	}
	var all []entry
	cursor := ""
	for pages := 0; ; pages++ {
		var page struct {
			Entries []entry `json:"entries"`
			Next    string  `json:"next"`
		}
		r := call(t, http.MethodGet, fn["audit"].URL+"?limit=2&cursor="+cursor, admin, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("audit: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &page)
		all = append(all, page.Entries...)
		if page.Next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("audit pages never end")
		}
		cursor = page.Next
	}
	want := []struct{ action, role, token, target string }{
		{"history.read", "viewer", "acme-viewer", "device=van-1"},
		{"fence.change", "admin", "acme-admin", ""},
		{"rule.change", "admin", "acme-admin", ""},
		{"preference.change", "admin", "acme-admin", "device=van-1"},
		{"token.revoke", "admin", "acme-admin", "revoke=lost-phone"},
	}
	// The audit reads themselves (audit.read) are recorded after their
	// page was read: at most the earlier pages appear.
	var actions []entry
	for _, e := range all {
		if e.Action != "audit.read" {
			actions = append(actions, e)
		}
	}
	if len(actions) != len(want) {
		t.Fatalf("audit has %d entries besides audit reads, want %d: %+v", len(actions), len(want), all)
	}
	for i, w := range want {
		e := actions[i]
		k, v, _ := strings.Cut(w.target, "=")
		if e.Action != w.action || e.Role != w.role || e.TokenID != w.token || e.Tenant != "acme" || e.Status >= 300 ||
			e.At.IsZero() || (k != "" && e.Target[k] != v) {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
	}
	if actions[0].Remote != "198.51.100.7" {
		t.Errorf("history read from %q, want the client behind the trusted proxy", actions[0].Remote)
	}
	if actions[1].Remote != "127.0.0.1" {
		t.Errorf("fence change from %q, want the peer", actions[1].Remote)
	}

	var other struct {
		Entries []entry `json:"entries"`
	}
	call(t, http.MethodGet, fn["audit"].URL, securityToken(t, "globex", auth.RoleAdmin, "", "g"), nil, nil).JSON(t, &other)
	for _, e := range other.Entries {
		if e.Tenant != "globex" {
			t.Fatalf("globex reads an entry of %s", e.Tenant)
		}
	}
	if r := call(t, http.MethodGet, fn["audit"].URL, viewer, nil, nil); r.Status != http.StatusForbidden {
		t.Fatalf("viewer reads the audit trail: %d", r.Status)
	}
}

// TestSecurityTLSServing serves a function over HTTPS with a certificate
// of a throwaway CA (TLS_CERT_FILE/TLS_KEY_FILE): a client trusting that CA
// gets answers, plain HTTP does not.
func TestSecurityTLSServing(t *testing.T) {
	rs := testenv.StartRedis(t)
	ca := testenv.NewCA(t)
	certFile, keyFile := ca.Issue(t, "position")
	port := testenv.FreePort(t)
	cmd := exec.Command(binary, "serve", "position")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "GEOTRACK_JWT_SECRET="+testSecret, "SECRETS_DIR="+t.TempDir(),
		"LOG_LEVEL=warn", "SHUTDOWN_DELAY=0", "REDIS_URL="+rs.URL, "TLS_CERT_FILE="+certFile, "TLS_KEY_FILE="+keyFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}, Timeout: 2 * time.Second}
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	err := poll.Until(context.Background(), 10*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		select {
		case <-done:
			return poll.Abort(errors.New("exited early"))
		default:
		}
		resp, err := client.Get(base + "/_/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ready: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("HTTPS /_/ready: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/?device=van-1", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, "acme", auth.RoleViewer, ""))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound { // no such device yet: the function answered over TLS
		t.Fatalf("position over HTTPS: %s", resp.Status)
	}
	plain, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/_/ready", port))
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200 on the HTTPS port")
		}
	}
}

// TestSecurityTLSToRedis: a function reaches a Redis that accepts TLS
// only (rediss://, REDIS_TLS_CA_FILE naming a throwaway CA).
func TestSecurityTLSToRedis(t *testing.T) {
	ca := testenv.NewCA(t)
	cert, key := ca.Issue(t, "redis")
	tlsPort := testenv.FreePort(t)
	rs := testenv.StartRedis(t, testenv.WithArgs("--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", cert,
		"--tls-key-file", key, "--tls-ca-cert-file", ca.CertFile, "--tls-auth-clients", "no"))
	fn := startFunction(t, "tokens", map[string]string{
		"REDIS_URL": fmt.Sprintf("rediss://127.0.0.1:%d/0", tlsPort), "REDIS_TLS_CA_FILE": ca.CertFile})
	if r := call(t, http.MethodPost, fn.URL+"?revoke=over-tls", token(t, "acme", auth.RoleAdmin, ""), nil, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke over TLS: %d %s", r.Status, r.Body)
	}
	plain, err := redisstore.Open(rs.URL) // the same server, its plain port: the write is there
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if n, err := plain.ZCard(context.Background(), "gt:{acme}:revoked").Result(); err != nil || n != 1 {
		t.Fatalf("revocation stored over TLS: %d, %v", n, err)
	}
}
