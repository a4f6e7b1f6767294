package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestBadInputs sends input that must be refused: each gets the expected 4xx,
// a message naming the problem, and leaves Redis exactly as it was.
func TestBadInputs(t *testing.T) {
	rs := testenv.StartRedis(t)
	c := startCloud(t, rs.URL)
	svc := token(t, "acme", auth.RoleService, "")
	viewer := token(t, "acme", auth.RoleViewer, "")
	ingestOK(t, c, svc, hdr("Content-Type", "application/json"), fixJSON("seed", 0, 10, 10), 1)

	jsonCT := hdr("Content-Type", "application/json")
	ce := func(extra ...string) http.Header {
		h := hdr("Ce-Specversion", "1.0", "Ce-Id", "x-1", "Ce-Source", "urn:test", "Ce-Type", "io.geotrack.location.reported",
			"Content-Type", "application/json")
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				h.Del(extra[i])
			} else {
				h.Set(extra[i], extra[i+1])
			}
		}
		return h
	}
	good := func(sec int) string { return fixJSON("ok-dev", sec, 51.5, -0.1) }
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(fixJSON("many", i, 51.5, -0.1))
		}
		b.WriteString("]")
		return b.String()
	}
	huge := `{"device":"big","ts":"` + ts(0) + `","lat":1,"lon":1,"attrs":{"pad":"` + strings.Repeat("x", 20<<20) + `"}}`

	cases := []struct {
		name   string
		method string
		url    string
		header http.Header
		body   string
		status int
		want   string // substring of the error message
	}{
		{"malformed JSON", "POST", "", jsonCT, `{"device":`, 400, "malformed JSON"},
		{"not JSON at all", "POST", "", jsonCT, `hello`, 400, "body"},
		{"wrong content type", "POST", "", hdr("Content-Type", "image/png"), good(1), 415, "content-type"},
		{"unparseable content type", "POST", "", hdr("Content-Type", "///"), good(1), 415, "content-type"},
		{"binary mode missing ce-id", "POST", "", ce("Ce-Id", ""), good(1), 400, "ce-id"},
		{"binary mode missing ce-source", "POST", "", ce("Ce-Source", ""), good(1), 400, "source"},
		{"lat 91", "POST", "", jsonCT, fixJSON("d1", 1, 91, 0), 400, "lat"},
		{"lat beyond Redis GEO limit", "POST", "", jsonCT, fixJSON("d1", 1, 85.06, 0), 400, "Redis GEO"},
		{"lon 181", "POST", "", jsonCT, fixJSON("d1", 1, 0, 181), 400, "lon"},
		{"lat NaN as string", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":"NaN","lon":0}`, 400, "lat"},
		{"lat NaN literal", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":NaN,"lon":0}`, 400, "malformed JSON"},
		{"lon Infinity", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":0,"lon":1e999}`, 400, "lon"},
		{"ts in 2099", "POST", "", jsonCT, `{"device":"d1","ts":"2099-01-01T00:00:00Z","lat":1,"lon":1}`, 400, "ts"},
		{"ts not RFC 3339", "POST", "", jsonCT, `{"device":"d1","ts":"yesterday","lat":1,"lon":1}`, 400, "ts"},
		{"ts missing", "POST", "", jsonCT, `{"device":"d1","lat":1,"lon":1}`, 400, "ts"},
		{"lat missing", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lon":1}`, 400, "lat"},
		{"device missing", "POST", "", jsonCT, `{"ts":"` + ts(1) + `","lat":1,"lon":1}`, 400, "device"},
		{"bad device id", "POST", "", jsonCT, fixJSON("bad device/1", 1, 1, 1), 400, "device"},
		{"device id too long", "POST", "", jsonCT, fixJSON(strings.Repeat("a", 129), 1, 1, 1), 400, "device"},
		{"negative acc", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":1,"lon":1,"acc":-1}`, 400, "acc"},
		{"negative speed", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":1,"lon":1,"speed":-3}`, 400, "speed"},
		{"heading 360", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":1,"lon":1,"heading":360}`, 400, "heading"},
		{"battery 1.5", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":1,"lon":1,"battery":1.5}`, 400, "battery"},
		{"lat as string", "POST", "", jsonCT, `{"device":"d1","ts":"` + ts(1) + `","lat":"51","lon":1}`, 400, "lat"},
		{"tenant in payload", "POST", "", jsonCT, `{"device":"d1","tenant":"evil","ts":"` + ts(1) + `","lat":1,"lon":1}`, 400, "tenant"},
		{"unknown event type", "POST", "", ce("Ce-Type", "com.example.other"), good(1), 400, "type"},
		{"unknown X-Topic", "POST", "", hdr("Content-Type", "application/json", "X-Topic", "com.example.other"), good(1), 400, "type"},
		{"empty body", "POST", "", jsonCT, ``, 400, "body"},
		{"empty array", "POST", "", jsonCT, `[]`, 400, "empty array"},
		{"10,001 fixes", "POST", "", jsonCT, many(10001), 400, "10001"},
		{"20 MB body", "POST", "", jsonCT, huge, 413, "body"},
		{"empty batch", "POST", "", hdr("Content-Type", "application/cloudevents-batch+json"), `[]`, 400, "batch"},
		{"batch not an array", "POST", "", hdr("Content-Type", "application/cloudevents-batch+json"), `{"a":1}`, 400, "batch"},
		{"structured without id", "POST", "", hdr("Content-Type", "application/cloudevents+json"),
			`{"specversion":"1.0","source":"urn:x","type":"io.geotrack.location.reported","data":` + good(1) + `}`, 400, "id"},
		{"GET on ingest", "GET", "", nil, "", 405, "method"},
		{"position without device", "GET", "position", nil, "", 400, "device"},
		{"position bad device", "GET", "position?device=a%20b", nil, "", 400, "device"},
		{"position all not true", "GET", "position?all=1", nil, "", 400, "all"},
		{"position all with device", "GET", "position?all=true&device=seed", nil, "", 400, "device"},
		{"position all bad since", "GET", "position?all=true&since=soon", nil, "", 400, "since"},
		{"position all limit 0", "GET", "position?all=true&limit=0", nil, "", 400, "limit"},
		{"position all limit 100001", "GET", "position?all=true&limit=100001", nil, "", 400, "limit"},
		{"nearby radius too large", "GET", "nearby?lat=1&lon=1&radius=100001", nil, "", 400, "radius"},
		{"nearby lat missing", "GET", "nearby?lon=1&radius=10", nil, "", 400, "lat"},
		{"nearby radius 0", "GET", "nearby?lat=1&lon=1&radius=0", nil, "", 400, "radius"},
		{"nearby lat NaN", "GET", "nearby?lat=NaN&lon=1&radius=10", nil, "", 400, "lat"},
		{"nearby limit 1001", "GET", "nearby?lat=1&lon=1&radius=10&limit=1001", nil, "", 400, "limit"},
		{"track bad format", "GET", "track?device=seed&format=kml", nil, "", 400, "format"},
		{"track bad from", "GET", "track?device=seed&from=soon", nil, "", 400, "from"},
		{"track to before from", "GET", "track?device=seed&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", nil, "", 400, "to"},
		{"track bad cursor", "GET", "track?device=seed&cursor=%21%21", nil, "", 400, "cursor"},
		{"track limit 0", "GET", "track?device=seed&limit=0", nil, "", 400, "limit"},
		{"track simplify 0", "GET", "track?device=seed&simplify=0", nil, "", 400, "simplify"},
		{"track simplify not a number", "GET", "track?device=seed&simplify=NaN", nil, "", 400, "simplify"},
		{"track max_points 1", "GET", "track?device=seed&max_points=1", nil, "", 400, "max_points"},
		{"track all not a boolean", "GET", "track?device=seed&all=yes", nil, "", 400, "all"},
		{"track all with limit", "GET", "track?device=seed&all=true&limit=5", nil, "", 400, "limit"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, c.redis)
			target, tok := c.ingest.URL, svc
			if tc.url != "" {
				fn, q, _ := strings.Cut(tc.url, "?")
				target, tok = map[string]string{"position": c.position.URL, "nearby": c.nearby.URL, "track": c.track.URL}[fn]+"?"+q, viewer
			}
			r := call(t, tc.method, target, tok, tc.header, []byte(tc.body))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", r.Status, tc.status, r.Body)
			}
			var e struct {
				Error    string `json:"error"`
				Rejected []struct {
					Error string `json:"error"`
				} `json:"rejected"`
			}
			r.JSON(t, &e)
			msg := e.Error
			for _, rj := range e.Rejected {
				msg += " " + rj.Error
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not name %q", msg, tc.want)
			}
			if after := snapshot(t, c.redis); after != before {
				t.Fatal("Redis changed")
			}
		})
	}

	t.Run("partly bad batch stores the good fixes", func(t *testing.T) {
		body := fmt.Sprintf("[%s,%s,%s]", good(10), fixJSON("ok-dev", 11, 95, 0), good(12))
		r := call(t, http.MethodPost, c.ingest.URL, svc, jsonCT, []byte(body))
		var s summary
		r.JSON(t, &s)
		if r.Status != http.StatusAccepted || s.Accepted != 2 || len(s.Rejected) != 1 || s.Rejected[0].Index != 1 ||
			!strings.HasPrefix(s.Rejected[0].Error, "lat:") {
			t.Fatalf("mixed batch: %d %s", r.Status, r.Body)
		}
	})
}

// Issue 9 (h7): malformed fences (testdata/geofence/malformed.jsonl, shared
// with internal/geofence's unit test) and bad queries of geofences and
// events, against the real binaries: each a 400 naming the field, Redis
// unchanged.
func TestBadFences(t *testing.T) {
	rig := startFenceRig(t)
	rig.putFence(t, "acme", squareFence("yard", 0))
	admin := token(t, "acme", auth.RoleAdmin, "")
	viewer := token(t, "acme", auth.RoleViewer, "")

	data, err := os.ReadFile("../testdata/geofence/malformed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	type badCase struct {
		name, method, url, body, field string
		tok                            string
	}
	var cases []badCase
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c struct{ Field, Body string }
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, badCase{"fence " + c.Field, http.MethodPost, rig.fences.URL, c.Body, c.Field, admin})
	}
	if len(cases) < 20 {
		t.Fatalf("only %d malformed fences", len(cases))
	}
	cases = append(cases,
		badCase{"PUT without id", http.MethodPut, rig.fences.URL, squareFence("yard", 0), "id", admin},
		badCase{"PUT with a bad id", http.MethodPut, rig.fences.URL + "?id=a%20b", squareFence("x", 0), "id", admin},
		badCase{"PUT of a collection", http.MethodPut, rig.fences.URL + "?id=yard", `{"type":"FeatureCollection","features":[` + squareFence("yard", 0) + `]}`, "type", admin},
		badCase{"list limit", http.MethodGet, rig.fences.URL + "?limit=0", "", "limit", viewer},
		badCase{"list cursor", http.MethodGet, rig.fences.URL + "?cursor=%7B%7D", "", "cursor", viewer},
		badCase{"events limit", http.MethodGet, rig.events.URL + "?limit=5000", "", "limit", viewer},
		badCase{"events from", http.MethodGet, rig.events.URL + "?from=yesterday", "", "from", viewer},
		badCase{"events cursor", http.MethodGet, rig.events.URL + "?cursor=abc", "", "cursor", viewer},
		badCase{"events device", http.MethodGet, rig.events.URL + "?device=a%20b", "", "device", viewer},
	)
	before := snapshot(t, rig.redis)
	for _, c := range cases {
		r := call(t, c.method, c.url, c.tok, hdr("Content-Type", "application/geo+json"), []byte(c.body))
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != http.StatusBadRequest || !strings.HasPrefix(e.Error, c.field+":") {
			t.Errorf("%s: %d %s, want 400 naming %s", c.name, r.Status, clipBody(r.Body), c.field)
		}
	}
	// Over the quota: with GEOFENCE_QUOTA=1, acme (which has its yard) may
	// replace the yard but not add a second fence.
	small := startFunction(t, "geofences", map[string]string{"REDIS_URL": rig.redisURL, "GEOFENCE_QUOTA": "1"})
	r := call(t, http.MethodPost, small.URL, admin, nil, []byte(squareFence("second", 0)))
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"body: `) || !strings.Contains(string(r.Body), "quota") {
		t.Errorf("over the quota: %d %s", r.Status, r.Body)
	}
	if after := snapshot(t, rig.redis); after != before {
		t.Fatalf("a refused request changed Redis")
	}
}

func clipBody(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// TestMalformedRulesRefused (issue 9 §3): each malformed alert rule is a 400
// naming the field, and nothing is stored; bad alerts and notify input too.
func TestMalformedRulesRefused(t *testing.T) {
	s := startAlerts(t, map[string]string{"WEBHOOK_ALLOW_PRIVATE": "false"})
	admin := token(t, "acme", auth.RoleAdmin, "")
	hook := `"webhook":{"url":"https://hooks.example.com/geo"}`
	loc := `"on":["io.geotrack.location.updated"]`
	before := snapshot(t, s.redis)
	cases := []struct{ name, body, field string }{
		{"empty", ``, "body"},
		{"malformed JSON", `{"name":`, "body"},
		{"unknown field", `{"name":"a","on":["io.geotrack.geofence.entered"],"colour":1,` + hook + `}`, "colour"},
		{"no name", `{"on":["io.geotrack.geofence.entered"],` + hook + `}`, "name"},
		{"no event types", `{"name":"a",` + hook + `}`, "on"},
		{"unknown event type", `{"name":"a","on":["io.geotrack.nope"],` + hook + `}`, "on[0]"},
		{"empty device id", `{"name":"a","on":["io.geotrack.geofence.entered"],"devices":[""],` + hook + `}`, "devices[0]"},
		{"location rule without condition", `{"name":"a",` + loc + `,` + hook + `}`, "when"},
		{"two conditions", `{"name":"a",` + loc + `,"when":{"speed_above":3,"battery_below":0.1},` + hook + `}`, "when"},
		{"negative speed", `{"name":"a",` + loc + `,"when":{"speed_above":-3},` + hook + `}`, "when.speed_above"},
		{"battery in percent", `{"name":"a",` + loc + `,"when":{"battery_below":15},` + hook + `}`, "when.battery_below"},
		{"silence too short", `{"name":"a",` + loc + `,"when":{"silent_s":1},` + hook + `}`, "when.silent_s"},
		{"cooldown negative", `{"name":"a","on":["io.geotrack.geofence.entered"],"cooldown_s":-1,` + hook + `}`, "cooldown_s"},
		{"no webhook", `{"name":"a","on":["io.geotrack.geofence.entered"]}`, "webhook.url"},
		{"http webhook", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"http://hooks.example.com/"}}`, "webhook.url"},
		{"bad secret", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://hooks.example.com/","secret":"hunter2"}}`, "webhook.secret"},
		{"id in body", `{"id":"r1","name":"a","on":["io.geotrack.geofence.entered"],` + hook + `}`, "id"},
	}
	for _, tc := range cases {
		r := call(t, http.MethodPost, s.rules.URL, admin, hdr("Content-Type", "application/json"), []byte(tc.body))
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.field) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.Status, r.Body, tc.field)
		}
	}
	others := []struct {
		name, method, url, tok, body string
		status                       int
		want                         string
	}{
		{"PUT without id", "PUT", s.rules.URL, admin, `{}`, 400, "id"},
		{"DELETE unknown", "DELETE", s.rules.URL + "?id=r_nope", admin, ``, 404, "id"},
		{"alerts bad from", "GET", s.alerts.URL + "?from=yesterday", admin, ``, 400, "from"},
		{"alerts bad cursor", "GET", s.alerts.URL + "?cursor=zzz", admin, ``, 400, "cursor"},
		{"alerts bad dead", "GET", s.alerts.URL + "?dead=maybe", admin, ``, 400, "dead"},
		{"alerts limit", "GET", s.alerts.URL + "?limit=0", admin, ``, 400, "limit"},
		{"replay without id", "POST", s.alerts.URL, admin, ``, 400, "replay"},
		{"replay unknown", "POST", s.alerts.URL + "?replay=al_nope", admin, ``, 404, "replay"},
		{"notify geofence data not an object", "POST", s.notify.URL, token(t, "acme", auth.RoleService, ""),
			`{"specversion":"1.0","id":"e","source":"urn:t","type":"io.geotrack.geofence.entered","datacontenttype":"application/json","data":[1]}`, 400, "data"},
		// Edge alert reports (POST alerts?node=, h29).
		{"edge report bad node", "POST", s.alerts.URL + "?node=a%20b", token(t, "acme", auth.RoleService, ""), `{"alerts":[]}`, 400, "node"},
		{"edge report empty", "POST", s.alerts.URL + "?node=site-1", token(t, "acme", auth.RoleService, ""), ``, 400, "body"},
		{"edge report no records", "POST", s.alerts.URL + "?node=site-1", token(t, "acme", auth.RoleService, ""), `{"alerts":[]}`, 400, "alerts"},
		{"edge report bad state", "POST", s.alerts.URL + "?node=site-1", token(t, "acme", auth.RoleService, ""),
			`{"alerts":[{"id":"al_1","rule":"r1","kind":"event","device":"d","fired_at":"2026-11-29T10:00:00Z","state":"lost","event":{"id":"al_1","type":"io.geotrack.alert.fired","tenant":"acme"}}]}`, 400, "alerts[0].state"},
		{"edge report another tenant's", "POST", s.alerts.URL + "?node=site-1", token(t, "acme", auth.RoleService, ""),
			`{"alerts":[{"id":"al_1","rule":"r1","kind":"event","device":"d","fired_at":"2026-11-29T10:00:00Z","state":"dead","event":{"id":"al_1","type":"io.geotrack.alert.fired","tenant":"globex"}}]}`, 400, "alerts[0].event.tenant"},
	}
	for _, tc := range others {
		r := call(t, tc.method, tc.url, tc.tok, hdr("Content-Type", "application/cloudevents+json"), []byte(tc.body))
		if r.Status != tc.status || !strings.Contains(string(r.Body), tc.want) {
			t.Errorf("%s: %d %s, want %d naming %s", tc.name, r.Status, r.Body, tc.status, tc.want)
		}
	}
	if after := snapshot(t, s.redis); after != before {
		t.Errorf("refused requests changed Redis:\nbefore %s\nafter %s", before, after)
	}
}

// TestArchiverBadInputs: the archiver takes no parameters; what it refuses
// names the field and runs no pass (Redis unchanged; no archive tier is
// needed to refuse).
func TestArchiverBadInputs(t *testing.T) {
	rs := testenv.StartRedis(t)
	p := startFunction(t, "archiver", map[string]string{"REDIS_URL": rs.URL})
	client := openRedis(t, rs.URL)
	before := snapshot(t, client)
	svc := token(t, "acme", auth.RoleService, "")
	cases := []struct {
		name, method, query string
		status              int
		want                string
	}{
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed, "method"},
		{"PUT", http.MethodPut, "", http.StatusMethodNotAllowed, "method"},
		{"unknown parameter", http.MethodPost, "?dry_run=1", http.StatusBadRequest, "dry_run"},
		{"bad query escape", http.MethodPost, "?a=%zz", http.StatusBadRequest, "query"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := call(t, c.method, p.URL+"/"+c.query, svc, nil, nil)
			if resp.Status != c.status || !strings.Contains(string(resp.Body), c.want) {
				t.Fatalf("%d %s, want %d naming %q", resp.Status, resp.Body, c.status, c.want)
			}
			if after := snapshot(t, client); after != before {
				t.Fatal("a refused request changed Redis")
			}
		})
	}
}

// TestMalformedSecurityInputRefused (issue 12): bad revocations and audit
// queries are a 400 naming the field, and nothing is stored.
func TestMalformedSecurityInputRefused(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL}
	tokensFn, auditFn := startFunction(t, "tokens", env), startFunction(t, "audit", env)
	client := openRedis(t, rs.URL)
	admin := token(t, "acme", auth.RoleAdmin, "")
	cases := []struct{ name, method, url, field string }{
		{"nothing to do", http.MethodPost, tokensFn.URL, "revoke"},
		{"empty jti", http.MethodPost, tokensFn.URL + "?revoke=", "revoke"},
		{"jti with a space", http.MethodPost, tokensFn.URL + "?revoke=a%20b", "revoke"},
		{"jti too long", http.MethodPost, tokensFn.URL + "?revoke=" + strings.Repeat("a", 129), "revoke"},
		{"both", http.MethodPost, tokensFn.URL + "?revoke=a&not_before=2026-01-01T00:00:00Z", "revoke"},
		{"not_before not a time", http.MethodPost, tokensFn.URL + "?not_before=yesterday", "not_before"},
		{"not_before in the future", http.MethodPost, tokensFn.URL + "?not_before=2999-01-01T00:00:00Z", "not_before"},
		{"tokens bad query", http.MethodPost, tokensFn.URL + "?revoke=%zz", "query"},
		{"audit from", http.MethodGet, auditFn.URL + "?from=yesterday", "from"},
		{"audit to before from", http.MethodGet, auditFn.URL + "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
		{"audit limit", http.MethodGet, auditFn.URL + "?limit=0", "limit"},
		{"audit cursor", http.MethodGet, auditFn.URL + "?cursor=abc", "cursor"},
	}
	before := snapshot(t, client)
	for _, c := range cases {
		r := call(t, c.method, c.url, admin, nil, nil)
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != http.StatusBadRequest || !strings.HasPrefix(e.Error, c.field+":") {
			t.Errorf("%s: %d %s, want 400 naming %s", c.name, r.Status, clipBody(r.Body), c.field)
		}
	}
	if after := snapshot(t, client); after != before {
		t.Errorf("refused requests changed Redis:\nbefore %s\nafter %s", tail(before, 500), tail(after, 500))
	}
}

// TestMalformedPrivacyInputRefused (issue 12 §1, h20): bad export, erasure
// and receipt requests are a 4xx naming the field, and nothing changes.
func TestMalformedPrivacyInputRefused(t *testing.T) {
	rs := testenv.StartRedis(t)
	fn := startFunction(t, "privacy", map[string]string{"REDIS_URL": rs.URL})
	client := openRedis(t, rs.URL)
	admin := token(t, "acme", auth.RoleAdmin, "")
	cases := []struct {
		name, method, url, field string
		status                   int
	}{
		{"export bad device", http.MethodGet, fn.URL + "?device=a%20b", "device", 400},
		{"export device too long", http.MethodGet, fn.URL + "?device=" + strings.Repeat("a", 129), "device", 400},
		{"export format", http.MethodGet, fn.URL + "?device=d1&format=tar", "format", 400},
		{"nothing asked", http.MethodGet, fn.URL, "device", 400},
		{"receipt not an id", http.MethodGet, fn.URL + "?receipt=abc", "receipt", 400},
		{"unknown receipt", http.MethodGet, fn.URL + "?receipt=0123456789abcdef0123456789abcdef", "receipt", 404},
		{"erase without action", http.MethodPost, fn.URL + "?device=d1", "action", 400},
		{"erase unknown action", http.MethodPost, fn.URL + "?device=d1&action=delete", "action", 400},
		{"erase without device", http.MethodPost, fn.URL + "?action=erase", "device", 400},
		{"erase bad device", http.MethodPost, fn.URL + "?action=erase&device=bad/id", "device", 400},
		{"bad query", http.MethodPost, fn.URL + "?action=%zz", "query", 400},
		{"method", http.MethodDelete, fn.URL + "?device=d1", "method", 405},
	}
	before := snapshot(t, client)
	for _, c := range cases {
		r := call(t, c.method, c.url, admin, nil, nil)
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != c.status || !strings.HasPrefix(e.Error, c.field+":") {
			t.Errorf("%s: %d %s, want %d naming %s", c.name, r.Status, clipBody(r.Body), c.status, c.field)
		}
	}
	if after := snapshot(t, client); after != before {
		t.Errorf("refused requests changed Redis:\nbefore %s\nafter %s", tail(before, 500), tail(after, 500))
	}
}
