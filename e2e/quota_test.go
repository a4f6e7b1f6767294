package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// geotrackLimits runs the operator's `geotrack limits` against redisURL.
func geotrackLimits(t *testing.T, redisURL string, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, append([]string{"limits", "--redis-url", redisURL}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("geotrack limits %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestQuotaDevices (issue 12 §3): a tenant at its device quota gets a new
// device refused with a message naming the quota, its known devices are
// still accepted, another tenant is unaffected, and the operator's override
// takes effect on the next request.
func TestQuotaDevices(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL, "DEVICE_QUOTA": "2"}
	ingest := startFunction(t, "ingest", env)
	osm := startFunction(t, "osmand", env)
	jsonH := hdr("Content-Type", "application/json")
	sec := 0
	post := func(tenant string, devices ...string) response {
		fixes := make([]string, len(devices))
		for i, d := range devices {
			sec++
			fixes[i] = fixJSON(d, sec, 48.85, 2.35)
		}
		return call(t, http.MethodPost, ingest.URL, token(t, tenant, auth.RoleService, ""), jsonH, []byte("["+strings.Join(fixes, ",")+"]"))
	}
	type summary struct {
		Accepted  int    `json:"accepted"`
		OverQuota int    `json:"over_quota"`
		Hint      string `json:"hint"`
		Error     string `json:"error"`
	}
	steps := []struct {
		name      string
		tenant    string
		devices   []string
		limits    []string // geotrack limits arguments run before the request
		status    int
		accepted  int
		overQuota int
		message   string // in error (403) or hint (202)
	}{
		{"two devices fill the quota", "acme", []string{"van-1", "van-2"}, nil, http.StatusAccepted, 2, 0, ""},
		{"a new device alone is refused", "acme", []string{"van-3"}, nil, http.StatusForbidden, 0, 1, "device quota of tenant acme reached (2 devices)"},
		{"known devices pass, the new one in the same request does not", "acme", []string{"van-1", "van-3", "van-2"}, nil,
			http.StatusAccepted, 2, 1, "device quota of tenant acme reached (2 devices): 1 fixes of new devices were not stored"},
		{"another tenant has its own count", "globex", []string{"g-1", "g-2"}, nil, http.StatusAccepted, 2, 0, ""},
		{"the operator raises acme's quota", "acme", []string{"van-3"}, []string{"--tenant", "acme", "--devices", "3"}, http.StatusAccepted, 1, 0, ""},
		{"and the next new device meets the override", "acme", []string{"van-4"}, nil, http.StatusForbidden, 0, 1, "device quota of tenant acme reached (3 devices)"},
		{"globex is still at the default", "globex", []string{"g-3"}, nil, http.StatusForbidden, 0, 1, "device quota of tenant globex reached (2 devices)"},
	}
	for _, st := range steps {
		if st.limits != nil {
			geotrackLimits(t, rs.URL, st.limits...)
		}
		r := post(st.tenant, st.devices...)
		var got summary
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("%s: %d %s: %v", st.name, r.Status, r.Body, err)
		}
		if r.Status != st.status || got.Accepted != st.accepted || got.OverQuota != st.overQuota {
			t.Fatalf("%s: %d %s; want %d, accepted %d, over_quota %d", st.name, r.Status, r.Body, st.status, st.accepted, st.overQuota)
		}
		text := got.Hint
		if st.status == http.StatusForbidden {
			text = got.Error
		}
		if !strings.Contains(text, st.message) {
			t.Fatalf("%s: %s; want %q", st.name, r.Body, st.message)
		}
	}
	if got := scrapeMetric(t, ingest.URL, "geotrack_ingest_over_quota_total"); got != 4 {
		t.Fatalf("geotrack_ingest_over_quota_total = %g, want 4 (one refused fix in each of four requests)", got)
	}
	// A device protocol answers the same 403 with the reason.
	q := url.Values{"id": {"tracker-9"}, "lat": {"48.2"}, "lon": {"16.3"}, "timestamp": {fmt.Sprint(time.Now().Unix() - 5)},
		"token": {token(t, "acme", auth.RoleDevice, "tracker-9")}}
	r := call(t, http.MethodGet, osm.URL+"?"+q.Encode(), "", nil, nil)
	if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "device quota of tenant acme reached (3 devices)") {
		t.Fatalf("osmand, new device over the quota: %d %s", r.Status, r.Body)
	}
	// The refused devices have no position; the admitted ones do.
	position := startFunction(t, "position", map[string]string{"REDIS_URL": rs.URL})
	viewer := token(t, "acme", auth.RoleViewer, "")
	for device, want := range map[string]int{"van-3": http.StatusOK, "van-4": http.StatusNotFound, "tracker-9": http.StatusNotFound} {
		if r := call(t, http.MethodGet, position.URL+"?device="+device, viewer, nil, nil); r.Status != want {
			t.Fatalf("position of %s: %d %s, want %d", device, r.Status, r.Body, want)
		}
	}
}

// TestQuotaFenceAndRuleOverrides (issue 12 §3): the operator's per-tenant
// fence and rule quotas win over the defaults; other tenants keep those.
func TestQuotaFenceAndRuleOverrides(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL, "WEBHOOK_ALLOW_PRIVATE": "true"}
	fences := startFunction(t, "geofences", env)
	rules := startFunction(t, "rules", env)
	geotrackLimits(t, rs.URL, "--tenant", "acme", "--fences", "1", "--rules", "1")
	if out := geotrackLimits(t, rs.URL, "--tenant", "acme"); !strings.Contains(out, `"fence_quota":1`) || !strings.Contains(out, `"rule_quota":1`) {
		t.Fatalf("geotrack limits shows %s", out)
	}
	geoH, jsonH := hdr("Content-Type", "application/geo+json"), hdr("Content-Type", "application/json")
	rule := func(name string) []byte {
		return []byte(fmt.Sprintf(`{"name":%q,"on":["io.geotrack.location.updated"],"when":{"speed_above":20},"webhook":{"url":"https://hooks.example.com/x"}}`, name))
	}
	cases := []struct {
		name    string
		url     string
		tenant  string
		header  http.Header
		body    []byte
		status  int
		message string
	}{
		{"acme's first fence", fences.URL, "acme", geoH, []byte(squareFence("a1", 0)), http.StatusCreated, ""},
		{"acme's second fence", fences.URL, "acme", geoH, []byte(squareFence("a2", 0)), http.StatusBadRequest, "the fence quota of tenant acme is 1"},
		{"acme replaces its fence", fences.URL, "acme", geoH, []byte(squareFence("a1", 5)), http.StatusCreated, ""},
		{"globex's first fence", fences.URL, "globex", geoH, []byte(squareFence("g1", 0)), http.StatusCreated, ""},
		{"globex's second fence", fences.URL, "globex", geoH, []byte(squareFence("g2", 0)), http.StatusCreated, ""},
		{"acme's first rule", rules.URL, "acme", jsonH, rule("r1"), http.StatusCreated, ""},
		{"acme's second rule", rules.URL, "acme", jsonH, rule("r2"), http.StatusConflict, "rule quota of tenant acme"},
		{"globex's rules", rules.URL, "globex", jsonH, rule("r1"), http.StatusCreated, ""},
		{"globex's second rule", rules.URL, "globex", jsonH, rule("r2"), http.StatusCreated, ""},
	}
	for _, c := range cases {
		r := call(t, http.MethodPost, c.url, token(t, c.tenant, auth.RoleAdmin, ""), c.header, c.body)
		if r.Status != c.status || !strings.Contains(string(r.Body), c.message) {
			t.Fatalf("%s: %d %s; want %d with %q", c.name, r.Status, r.Body, c.status, c.message)
		}
	}
	// Back to the default: acme may add a second rule and fence.
	geotrackLimits(t, rs.URL, "--tenant", "acme", "--clear")
	if r := call(t, http.MethodPost, rules.URL, token(t, "acme", auth.RoleAdmin, ""), jsonH, rule("r2")); r.Status != http.StatusCreated {
		t.Fatalf("second rule after --clear: %d %s", r.Status, r.Body)
	}
	if r := call(t, http.MethodPost, fences.URL, token(t, "acme", auth.RoleAdmin, ""), geoH, []byte(squareFence("a2", 0))); r.Status != http.StatusCreated {
		t.Fatalf("second fence after --clear: %d %s", r.Status, r.Body)
	}
}
