package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestRoleFunctionTenantMatrix checks every role against every function, in
// its own tenant and another's, plus broken credentials.
func TestRoleFunctionTenantMatrix(t *testing.T) {
	rs := testenv.StartRedis(t)
	c := startCloud(t, rs.URL)
	// Seed one device in each tenant.
	for _, tenant := range []string{"acme", "globex"} {
		ingestOK(t, c, token(t, tenant, auth.RoleService, ""), hdr("Content-Type", "application/json"),
			fixJSON("van-1", 0, 48.8566, 2.3522), 1)
	}

	expired := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "admin", "exp": time.Now().Add(-time.Hour).Unix()}, testSecret)
	noExp := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "admin"}, testSecret)
	wrongKey := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "admin", "exp": time.Now().Add(time.Hour).Unix()}, "another-secret-0123456789")
	badRole := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "root", "exp": time.Now().Add(time.Hour).Unix()}, testSecret)

	callers := []struct {
		name  string
		tok   string
		write int // ingest van-1 in acme
		read  int // position of van-1 in acme
	}{
		{"device own", token(t, "acme", auth.RoleDevice, "van-1"), 202, 403},
		{"device other", token(t, "acme", auth.RoleDevice, "van-2"), 403, 403},
		{"viewer", token(t, "acme", auth.RoleViewer, ""), 403, 200},
		{"admin", token(t, "acme", auth.RoleAdmin, ""), 202, 200},
		{"service", token(t, "acme", auth.RoleService, ""), 202, 403},
		{"no token", "", 401, 401},
		{"expired", expired, 401, 401},
		{"no exp", noExp, 401, 401},
		{"wrong key", wrongKey, 401, 401},
		{"unknown role", badRole, 401, 401},
		{"garbage", "not.a.jwt", 401, 401},
	}
	sec := 1
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			sec++
			r := call(t, http.MethodPost, c.ingest.URL, cl.tok, hdr("Content-Type", "application/json"),
				[]byte(fixJSON("van-1", sec, 48.8566, 2.3522)))
			if r.Status != cl.write {
				t.Errorf("ingest: %d, want %d (%s)", r.Status, cl.write, r.Body)
			}
			reads := map[string]string{
				"position":     c.position.URL + "?device=van-1",
				"position all": c.position.URL + "?all=true",
				"nearby":       c.nearby.URL + "?lat=48.8566&lon=2.3522&radius=100",
				"track":        c.track.URL + "?device=van-1",
			}
			for fn, u := range reads {
				r := call(t, http.MethodGet, u, cl.tok, nil, nil)
				if r.Status != cl.read {
					t.Errorf("%s: %d, want %d (%s)", fn, r.Status, cl.read, r.Body)
				}
				if r.Status == 401 && r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", fn)
				}
			}
		})
	}

	t.Run("tenants are isolated", func(t *testing.T) {
		// initech has no devices; its admin must see nothing of acme's or globex's.
		admin := token(t, "initech", auth.RoleAdmin, "")
		r := call(t, http.MethodGet, c.position.URL+"?device=van-1", admin, nil, nil)
		if r.Status != http.StatusNotFound {
			t.Fatalf("position across tenants: %d %s", r.Status, r.Body)
		}
		r = call(t, http.MethodGet, c.nearby.URL+"?lat=48.8566&lon=2.3522&radius=1000", admin, nil, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"devices":[]`) {
			t.Fatalf("nearby across tenants: %d %s", r.Status, r.Body)
		}
		p := getTrack(t, c, admin, "device=van-1")
		if len(p.Points) != 0 {
			t.Fatalf("track across tenants: %+v", p)
		}
		// acme's viewer sees acme's van-1 with acme's history only.
		viewer := token(t, "acme", auth.RoleViewer, "")
		p = getTrack(t, c, viewer, "device=van-1")
		gp := getTrack(t, c, token(t, "globex", auth.RoleViewer, ""), "device=van-1")
		if len(gp.Points) != 1 || len(p.Points) < 2 {
			t.Fatalf("acme has %d points, globex %d; want ≥2 and 1", len(p.Points), len(gp.Points))
		}
		// position?all=true lists the caller's tenant only.
		for _, tc := range []struct{ tok, want string }{{admin, `{"fixes":[],"more":false}`}, {viewer, `"device":"van-1"`}} {
			r := call(t, http.MethodGet, c.position.URL+"?all=true", tc.tok, nil, nil)
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), tc.want) || strings.Count(string(r.Body), `"device"`) > 1 {
				t.Fatalf("position?all=true across tenants: %d %s, want %s", r.Status, r.Body, tc.want)
			}
		}
	})

	t.Run("an event for another tenant is refused", func(t *testing.T) {
		before := snapshot(t, c.redis)
		body := `{"specversion":"1.0","id":"x-tenant","source":"urn:edge:site-9","type":"io.geotrack.location.reported","tenant":"globex","data":` +
			fixJSON("van-1", 600, 48.85, 2.35) + `}`
		r := call(t, http.MethodPost, c.ingest.URL, token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/cloudevents+json"), []byte(body))
		if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "globex") {
			t.Fatalf("tenant extension mismatch: %d %s", r.Status, r.Body)
		}
		if snapshot(t, c.redis) != before {
			t.Fatal("a refused event changed Redis")
		}
	})

	t.Run("device token may not report another device inside a batch", func(t *testing.T) {
		before := snapshot(t, c.redis)
		body := fmt.Sprintf("[%s,%s]", fixJSON("van-1", 500, 48.85, 2.35), fixJSON("van-9", 500, 48.85, 2.35))
		r := call(t, http.MethodPost, c.ingest.URL, token(t, "acme", auth.RoleDevice, "van-1"), hdr("Content-Type", "application/json"), []byte(body))
		if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "van-9") {
			t.Fatalf("mixed batch: %d %s", r.Status, r.Body)
		}
		if snapshot(t, c.redis) != before {
			t.Fatal("a forbidden batch changed Redis")
		}
	})
}

func signRaw(t *testing.T, claims jwt.MapClaims, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Issue 9 (h7): geofences, geofence-detect and events in the role ×
// function × tenant matrix.
func TestGeofenceRoleFunctionTenantMatrix(t *testing.T) {
	rig := startFenceRig(t)
	rig.putFence(t, "acme", squareFence("yard", 0))
	rig.putFence(t, "globex", squareFence("globex-yard", 0))
	inLat, inLon := offset(yardLat, yardLon, 100, 100)
	rig.report(t, "acme", at("van-1", 0, inLat, inLon))
	rig.report(t, "globex", at("van-1", 0, inLat, inLon))
	rig.waitEvents(t, "van-1", 2)

	fence := squareFence("new", 0)
	update := fmt.Sprintf(`{"specversion":"1.0","id":"m-%%s","source":"urn:test","type":"io.geotrack.location.updated","subject":"van-9","data":[%s]}`,
		at("van-9", 0, inLat, inLon))
	callers := []struct {
		name                                                  string
		tok                                                   string
		fencesRead, fencesWrite, fencesDelete, detect, events int
	}{
		{"device", token(t, "acme", auth.RoleDevice, "van-1"), 403, 403, 403, 403, 403},
		{"viewer", token(t, "acme", auth.RoleViewer, ""), 200, 403, 403, 403, 200},
		{"admin", token(t, "acme", auth.RoleAdmin, ""), 200, 201, 404, 200, 200}, // 404: no such fence, but allowed
		{"service", token(t, "acme", auth.RoleService, ""), 403, 403, 403, 200, 403},
		{"no token", "", 401, 401, 401, 401, 401},
		{"garbage", "not.a.jwt", 401, 401, 401, 401, 401},
	}
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			checks := []struct {
				what, method, url string
				body              string
				want              int
			}{
				{"geofences GET", http.MethodGet, rig.fences.URL + "?id=yard", "", cl.fencesRead},
				{"geofences POST", http.MethodPost, rig.fences.URL, fence, cl.fencesWrite},
				{"geofences DELETE", http.MethodDelete, rig.fences.URL + "?id=nothing-here", "", cl.fencesDelete},
				{"geofence-detect POST", http.MethodPost, rig.detect.URL, fmt.Sprintf(update, cl.name), cl.detect},
				{"events GET", http.MethodGet, rig.events.URL, "", cl.events},
			}
			for _, c := range checks {
				r := call(t, c.method, c.url, cl.tok, hdr("Content-Type", "application/json"), []byte(c.body))
				if r.Status != c.want {
					t.Errorf("%s: %d, want %d (%s)", c.what, r.Status, c.want, r.Body)
				}
			}
		})
	}

	t.Run("tenants are isolated", func(t *testing.T) {
		globexAdmin := token(t, "globex", auth.RoleAdmin, "")
		if r := call(t, http.MethodGet, rig.fences.URL+"?id=yard", globexAdmin, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("globex reads acme's fence: %d %s", r.Status, r.Body)
		}
		if r := call(t, http.MethodDelete, rig.fences.URL+"?id=yard", globexAdmin, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("globex deletes acme's fence: %d %s", r.Status, r.Body)
		}
		r := call(t, http.MethodGet, rig.fences.URL, globexAdmin, nil, nil)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), `"yard"`) || !strings.Contains(string(r.Body), "globex-yard") {
			t.Errorf("globex's fence list: %d %s", r.Status, r.Body)
		}
		// Each tenant's event log holds only its own fence's event.
		for tenant, fenceID := range map[string]string{"acme": "yard", "globex": "globex-yard"} {
			logged := rig.logOf(t, tenant, "van-1")
			if len(logged) != 1 || logged[0]["data"].(map[string]any)["fence"] != fenceID || logged[0]["tenant"] != tenant {
				t.Errorf("%s's log: %v", tenant, logged)
			}
		}
		// A service token of globex cannot deliver acme's events.
		acmeEvent := fmt.Sprintf(`{"specversion":"1.0","id":"x-1","source":"urn:test","type":"io.geotrack.location.updated","tenant":"acme","data":[%s]}`,
			at("van-1", 1, inLat, inLon))
		if r := call(t, http.MethodPost, rig.detect.URL, token(t, "globex", auth.RoleService, ""), hdr("Content-Type", "application/cloudevents+json"), []byte(acmeEvent)); r.Status != http.StatusForbidden {
			t.Errorf("globex service delivering acme's event: %d %s", r.Status, r.Body)
		}
	})
}

// TestAlertFunctionsRoleMatrix (issue 9 §3): rules is admin only, alerts
// reads for viewer and admin and replays for admin, notify takes events
// from service and admin tokens; no tenant sees or touches another's.
func TestAlertFunctionsRoleMatrix(t *testing.T) {
	s := startAlerts(t, nil)
	acmeRule := s.createRule(t, "acme", "/acme", `{"name":"acme","on":["io.geotrack.geofence.entered"],WEBHOOK}`)
	s.post(t, "acme", geofenceEvent("m-1", "io.geotrack.geofence.entered", "acme", "van-1", "f1"))
	testenv.Eventually(t, "acme's alert delivered", 10*time.Second, func() bool { return len(s.recv.distinct("/acme")) == 1 })
	alertID := s.recv.distinct("/acme")[0].ID
	ruleBody := []byte(fmt.Sprintf(`{"name":"x","on":["io.geotrack.geofence.entered"],"webhook":{"url":%q}}`, s.recv.url("/x")))
	event := geofenceEvent("m-2", "io.geotrack.geofence.exited", "acme", "van-1", "f1")

	callers := []struct {
		name                                     string
		tok                                      string
		ruleCreate, ruleRead, alertsRead, replay int
		notify                                   int
	}{
		{"admin", token(t, "acme", auth.RoleAdmin, ""), 201, 200, 200, 202, 200},
		{"viewer", token(t, "acme", auth.RoleViewer, ""), 403, 403, 200, 403, 403},
		{"service", token(t, "acme", auth.RoleService, ""), 403, 403, 403, 403, 200},
		{"device", token(t, "acme", auth.RoleDevice, "van-1"), 403, 403, 403, 403, 403},
		{"no token", "", 401, 401, 401, 401, 401},
		{"garbage", "not.a.jwt", 401, 401, 401, 401, 401},
	}
	ce := hdr("Content-Type", "application/cloudevents+json")
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			checks := []struct {
				what   string
				method string
				url    string
				body   []byte
				want   int
			}{
				{"rules POST", "POST", s.rules.URL, ruleBody, cl.ruleCreate},
				{"rules GET", "GET", s.rules.URL + "?id=" + acmeRule, nil, cl.ruleRead},
				{"alerts GET", "GET", s.alerts.URL, nil, cl.alertsRead},
				{"alerts replay", "POST", s.alerts.URL + "?replay=" + alertID, nil, cl.replay},
				{"notify", "POST", s.notify.URL, event, cl.notify},
			}
			for _, c := range checks {
				r := call(t, c.method, c.url, cl.tok, ce, c.body)
				if r.Status != c.want {
					t.Errorf("%s: %d, want %d (%s)", c.what, r.Status, c.want, r.Body)
				}
			}
		})
	}

	t.Run("tenants are isolated", func(t *testing.T) {
		globexAdmin := token(t, "globex", auth.RoleAdmin, "")
		if r := call(t, "GET", s.rules.URL+"?id="+acmeRule, globexAdmin, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("globex reads acme's rule: %d %s", r.Status, r.Body)
		}
		if r := call(t, "GET", s.rules.URL, globexAdmin, nil, nil); r.Status != 200 || strings.Contains(string(r.Body), acmeRule) {
			t.Errorf("globex lists: %d %s", r.Status, r.Body)
		}
		if r := call(t, "PUT", s.rules.URL+"?id="+acmeRule, globexAdmin, nil, ruleBody); r.Status != http.StatusNotFound {
			t.Errorf("globex replaces acme's rule: %d %s", r.Status, r.Body)
		}
		if r := call(t, "DELETE", s.rules.URL+"?id="+acmeRule, globexAdmin, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("globex deletes acme's rule: %d %s", r.Status, r.Body)
		}
		if l := s.list(t, "globex", ""); len(l.Alerts) != 0 {
			t.Errorf("globex sees alerts: %+v", l)
		}
		if r := call(t, "POST", s.alerts.URL+"?replay="+alertID, globexAdmin, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("globex replays acme's alert: %d %s", r.Status, r.Body)
		}
		// An event for acme with globex's service token is refused; an
		// event of globex's own fires none of acme's rules.
		if r := call(t, "POST", s.notify.URL, token(t, "globex", auth.RoleService, ""), ce, event); r.Status != http.StatusForbidden {
			t.Errorf("globex token, acme event: %d %s", r.Status, r.Body)
		}
		if n := s.post(t, "globex", geofenceEvent("g-1", "io.geotrack.geofence.entered", "globex", "van-1", "f1")); n.Fired != 0 {
			t.Errorf("globex event fired %+v", n)
		}
		if r := call(t, "GET", s.rules.URL+"?id="+acmeRule, token(t, "acme", auth.RoleAdmin, ""), nil, nil); r.Status != 200 || strings.Contains(string(r.Body), "whsec_") {
			t.Errorf("acme's rule after globex's attempts: %d %s (and the secret is never listed)", r.Status, r.Body)
		}
	})

	// POST alerts?node= (h29): an edge node's forwarder reports the alerts
	// the node fired, with its service token, into the token's tenant only;
	// every other role is refused and a refused report stores nothing.
	t.Run("edge reports", func(t *testing.T) {
		report := func(tenant, id string) []byte {
			return []byte(fmt.Sprintf(`{"alerts":[{"id":%q,"rule":%q,"name":"acme","kind":"event","device":"van-9","fired_at":%q,`+
				`"state":"delivered","attempts":1,"last_status":204,"event":{"id":%q,"type":"io.geotrack.alert.fired","tenant":%q}}]}`,
				id, acmeRule, time.Now().UTC().Format(time.RFC3339), id, tenant))
		}
		before := len(s.list(t, "acme", "").Alerts)
		for _, c := range []struct {
			name string
			tok  string
			want int
		}{
			{"admin", token(t, "acme", auth.RoleAdmin, ""), 403},
			{"viewer", token(t, "acme", auth.RoleViewer, ""), 403},
			{"device", token(t, "acme", auth.RoleDevice, "van-9"), 403},
			{"no token", "", 401},
			{"garbage", "not.a.jwt", 401},
			{"globex service, acme's alert", token(t, "globex", auth.RoleService, ""), 400},
		} {
			if r := call(t, "POST", s.alerts.URL+"?node=site-1", c.tok, hdr("Content-Type", "application/json"), report("acme", "al_refused")); r.Status != c.want {
				t.Errorf("%s: %d, want %d (%s)", c.name, r.Status, c.want, r.Body)
			}
		}
		if l := s.list(t, "acme", ""); len(l.Alerts) != before {
			t.Fatalf("refused reports changed acme's alerts: %+v", l)
		}
		if l := s.list(t, "globex", ""); len(l.Alerts) != 0 {
			t.Fatalf("refused reports reached globex: %+v", l)
		}
		// globex's service reporting its own alert: into globex only.
		if r := call(t, "POST", s.alerts.URL+"?node=site-9", token(t, "globex", auth.RoleService, ""), hdr("Content-Type", "application/json"), report("globex", "al_globex")); r.Status != 200 {
			t.Errorf("globex service, its own alert: %d %s", r.Status, r.Body)
		}
		if l := s.list(t, "globex", ""); len(l.Alerts) != 1 || l.Alerts[0].ID != "al_globex" {
			t.Errorf("globex's alerts: %+v", l)
		}
		// acme's service: listed once with the node, however often sent.
		for range 2 {
			if r := call(t, "POST", s.alerts.URL+"?node=site-1", token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"), report("acme", "al_edge_1")); r.Status != 200 {
				t.Errorf("acme service: %d %s", r.Status, r.Body)
			}
		}
		if l := s.list(t, "acme", ""); len(l.Alerts) != before+1 || !strings.Contains(fmt.Sprint(l), "al_edge_1") {
			t.Errorf("acme's alerts after its node's report: %+v", l)
		}
		if r := call(t, "GET", s.alerts.URL+"?device=van-9", token(t, "acme", auth.RoleViewer, ""), nil, nil); !strings.Contains(string(r.Body), `"node":"site-1"`) {
			t.Errorf("acme's edge alert without its node: %d %s", r.Status, r.Body)
		}
	})
}

// TestSecurityFunctionsRoleTenantMatrix (issue 12): tokens and audit are
// for the tenant's admin only; every other role is 403, broken credentials
// 401, and a refused request changes nothing. An admin sees and changes
// only its own tenant's revocations and trail.
func TestSecurityFunctionsRoleTenantMatrix(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL}
	tokensFn, auditFn := startFunction(t, "tokens", env), startFunction(t, "audit", env)
	client := openRedis(t, rs.URL)
	// globex has a revocation acme must not see.
	if r := call(t, http.MethodPost, tokensFn.URL+"?revoke=globex-1", token(t, "globex", auth.RoleAdmin, ""), nil, nil); r.Status != http.StatusOK {
		t.Fatalf("globex revoke: %d %s", r.Status, r.Body)
	}
	expired := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "admin", "exp": time.Now().Add(-time.Hour).Unix()}, testSecret)
	wrongKey := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "admin", "exp": time.Now().Add(time.Hour).Unix()}, "another-secret-0123456789")
	callers := []struct {
		name   string
		tok    string
		status int
	}{
		{"device", token(t, "acme", auth.RoleDevice, "van-1"), http.StatusForbidden},
		{"viewer", token(t, "acme", auth.RoleViewer, ""), http.StatusForbidden},
		{"service", token(t, "acme", auth.RoleService, ""), http.StatusForbidden},
		{"no token", "", http.StatusUnauthorized},
		{"expired", expired, http.StatusUnauthorized},
		{"wrong key", wrongKey, http.StatusUnauthorized},
		{"garbage", "not.a.jwt", http.StatusUnauthorized},
	}
	requests := []struct{ name, method, url string }{
		{"tokens list", http.MethodGet, tokensFn.URL},
		{"tokens revoke", http.MethodPost, tokensFn.URL + "?revoke=acme-1"},
		{"tokens not_before", http.MethodPost, tokensFn.URL + "?not_before=2026-01-01T00:00:00Z"},
		{"audit read", http.MethodGet, auditFn.URL},
	}
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			before := snapshot(t, client)
			for _, rq := range requests {
				r := call(t, rq.method, rq.url, cl.tok, nil, nil)
				if r.Status != cl.status {
					t.Errorf("%s: %d %s, want %d", rq.name, r.Status, r.Body, cl.status)
				}
			}
			if snapshot(t, client) != before {
				t.Error("a refused request changed Redis")
			}
		})
	}
	t.Run("admin of its own tenant", func(t *testing.T) {
		admin := token(t, "acme", auth.RoleAdmin, "")
		if r := call(t, http.MethodPost, tokensFn.URL+"?revoke=acme-1", admin, nil, nil); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		var list struct {
			Tenant  string `json:"tenant"`
			Revoked []struct {
				TokenID string `json:"jti"`
			} `json:"revoked"`
		}
		call(t, http.MethodGet, tokensFn.URL, admin, nil, nil).JSON(t, &list)
		if list.Tenant != "acme" || len(list.Revoked) != 1 || list.Revoked[0].TokenID != "acme-1" {
			t.Fatalf("acme's list: %+v (globex's revocation must not show)", list)
		}
		var trail struct {
			Entries []struct {
				Tenant string `json:"tenant"`
				Action string `json:"action"`
			} `json:"entries"`
		}
		call(t, http.MethodGet, auditFn.URL, admin, nil, nil).JSON(t, &trail)
		if len(trail.Entries) != 1 || trail.Entries[0].Action != "token.revoke" {
			t.Fatalf("acme's trail: %+v (only its own revocation)", trail.Entries)
		}
		for _, e := range trail.Entries {
			if e.Tenant != "acme" {
				t.Fatalf("acme reads an entry of %s", e.Tenant)
			}
		}
	})
}
