package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestMovementFunctionsRoleTenantMatrix: every role against trips,
// preferences and movement, in its own tenant and another's (the other
// tenant's data never shows), plus no token. The block of the issue-10
// functions in the role × function × tenant matrix.
func TestMovementFunctionsRoleTenantMatrix(t *testing.T) {
	rs := testenv.StartRedis(t)
	base := startDev(t, rs.URL)
	for _, tenant := range []string{"acme", "globex"} {
		r := call(t, http.MethodPost, base+"/function/ingest", token(t, tenant, auth.RoleService, ""), hdr("Content-Type", "application/json"),
			[]byte(fixJSON("van-1", 0, 48.8566, 2.3522)))
		if r.Status != http.StatusAccepted {
			t.Fatalf("seed %s: %d %s", tenant, r.Status, r.Body)
		}
		r = call(t, http.MethodPut, base+"/function/preferences", token(t, tenant, auth.RoleAdmin, ""), hdr("Content-Type", "application/json"),
			[]byte(fmt.Sprintf(`{"privacy_zones":[{"name":"%s-home","lat":1,"lon":1,"radius_m":10}]}`, tenant)))
		if r.Status != http.StatusOK {
			t.Fatalf("seed preferences %s: %d %s", tenant, r.Status, r.Body)
		}
	}
	event := func(tenant string) []byte {
		return []byte(`{"specversion":"1.0","id":"m1","source":"urn:t","type":"io.geotrack.location.updated","tenant":"` + tenant +
			`","datacontenttype":"application/json","data":[` + fixJSON("van-9", 1, 48.1, 11.5) + `]}`)
	}
	ce := hdr("Content-Type", "application/cloudevents+json")
	type want struct{ trips, prefsGet, prefsOwn, prefsPut, movement int }
	callers := []struct {
		name string
		tok  string
		want want
	}{
		{"device own", token(t, "acme", auth.RoleDevice, "van-1"), want{403, 403, 200, 403, 403}},
		{"device other", token(t, "acme", auth.RoleDevice, "van-2"), want{403, 403, 403, 403, 403}},
		{"viewer", token(t, "acme", auth.RoleViewer, ""), want{200, 200, 200, 403, 403}},
		{"admin", token(t, "acme", auth.RoleAdmin, ""), want{200, 200, 200, 200, 200}},
		{"service", token(t, "acme", auth.RoleService, ""), want{403, 200, 200, 403, 200}},
		{"no token", "", want{401, 401, 401, 401, 401}},
		{"garbage", "not.a.jwt", want{401, 401, 401, 401, 401}},
	}
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			check := func(what string, r response, want int) {
				t.Helper()
				if r.Status != want {
					t.Errorf("%s: %d, want %d (%s)", what, r.Status, want, r.Body)
				}
				if r.Status == http.StatusOK && strings.Contains(string(r.Body), "globex") {
					t.Errorf("%s: acme's caller sees globex's data: %s", what, r.Body)
				}
			}
			check("trips", call(t, http.MethodGet, base+"/function/trips?device=van-1", cl.tok, nil, nil), cl.want.trips)
			check("preferences", call(t, http.MethodGet, base+"/function/preferences", cl.tok, nil, nil), cl.want.prefsGet)
			check("preferences own device", call(t, http.MethodGet, base+"/function/preferences?device=van-1", cl.tok, nil, nil), cl.want.prefsOwn)
			check("preferences PUT", call(t, http.MethodPut, base+"/function/preferences?device=van-1", cl.tok, hdr("Content-Type", "application/json"), []byte(`{"tracking":"on"}`)), cl.want.prefsPut)
			check("movement", call(t, http.MethodPost, base+"/function/movement", cl.tok, ce, event("acme")), cl.want.movement)
		})
	}
	// Another tenant's event, with acme's service token: refused, nothing kept.
	r := call(t, http.MethodPost, base+"/function/movement", token(t, "acme", auth.RoleService, ""), ce, event("globex"))
	if r.Status != http.StatusForbidden {
		t.Errorf("movement with another tenant's event: %d %s", r.Status, r.Body)
	}
	rc := openRedis(t, rs.URL)
	if n, _ := rc.Exists(context.Background(), redisstore.MovementStateKey("gt", "globex", "van-9")).Result(); n != 0 {
		t.Error("a refused event left movement state in globex")
	}
}

// TestMovementFunctionsBadInputs: refused inputs of trips, preferences and
// movement are 4xx naming the field, and change nothing in Redis.
func TestMovementFunctionsBadInputs(t *testing.T) {
	rs := testenv.StartRedis(t)
	base := startDev(t, rs.URL)
	rc := openRedis(t, rs.URL)
	admin := token(t, "acme", auth.RoleAdmin, "")
	svc := token(t, "acme", auth.RoleService, "")
	viewer := token(t, "acme", auth.RoleViewer, "")
	jsonH := hdr("Content-Type", "application/json")
	ce := hdr("Content-Type", "application/cloudevents+json")
	ev := func(data string) []byte {
		return []byte(`{"specversion":"1.0","id":"b1","source":"urn:t","type":"io.geotrack.location.updated","datacontenttype":"application/json","data":` + data + `}`)
	}
	before := snapshot(t, rc)
	cases := []struct {
		name, method, path, tok string
		h                       http.Header
		body                    string
		field                   string
	}{
		{"trips without device", http.MethodGet, "/function/trips", viewer, nil, "", "device"},
		{"trips bad from", http.MethodGet, "/function/trips?device=v&from=soon", viewer, nil, "", "from"},
		{"trips to before from", http.MethodGet, "/function/trips?device=v&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", viewer, nil, "", "to"},
		{"preferences unknown key", http.MethodPut, "/function/preferences", admin, jsonH, `{"tracking":"on","mode":"x"}`, "mode"},
		{"preferences tracking", http.MethodPut, "/function/preferences", admin, jsonH, `{"tracking":"sometimes"}`, "tracking"},
		{"preferences zone radius", http.MethodPut, "/function/preferences?device=v", admin, jsonH, `{"privacy_zones":[{"name":"a","lat":1,"lon":1,"radius_m":-3}]}`, "privacy_zones[0].radius_m"},
		{"preferences filter key", http.MethodPut, "/function/preferences", admin, jsonH, `{"filter":{"epsilon":3}}`, "filter.epsilon"},
		{"preferences trips", http.MethodPut, "/function/preferences", admin, jsonH, `{"trips":{"min_parking_s":0}}`, "trips.min_parking_s"},
		{"preferences report", http.MethodPut, "/function/preferences", admin, jsonH, `{"report":{"interval_s":0}}`, "report.interval_s"},
		{"preferences retention", http.MethodPut, "/function/preferences", admin, jsonH, `{"retention":"forever"}`, "retention"},
		{"preferences not an object", http.MethodPut, "/function/preferences", admin, jsonH, `[1]`, "body"},
		{"preferences bad device", http.MethodPut, "/function/preferences?device=a%20b", admin, jsonH, `{}`, "device"},
		{"movement latitude", http.MethodPost, "/function/movement", svc, ce, string(ev(`[{"device":"v","ts":"2026-11-29T08:00:00Z","lat":123,"lon":1}]`)), "lat"},
		{"movement wrong type", http.MethodPost, "/function/movement", svc, ce, strings.Replace(string(ev(`[]`)), "location.updated", "location.reported", 1), "type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, base+tc.path, tc.tok, tc.h, []byte(tc.body))
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.field) {
				t.Errorf("%d %s, want 400 naming %q", r.Status, r.Body, tc.field)
			}
		})
	}
	if after := snapshot(t, rc); after != before {
		t.Errorf("refused requests changed Redis:\nbefore %s\nafter %s", tail(before, 500), tail(after, 500))
	}
}
