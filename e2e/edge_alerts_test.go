package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// edgeAlertsGate is the cloud as the edge sees it: a reverse proxy on a
// fixed address that can go down (the port refuses connections) and come
// back on the same address.
type edgeAlertsGate struct {
	t      *testing.T
	addr   string
	target *url.URL

	mu  sync.Mutex
	srv *http.Server
}

func newEdgeAlertsGate(t *testing.T, target string) *edgeAlertsGate {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &edgeAlertsGate{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), target: u}
	g.up()
	t.Cleanup(g.down)
	return g
}

func (g *edgeAlertsGate) url(path string) string { return "http://" + g.addr + path }

func (g *edgeAlertsGate) up() {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ln net.Listener
	err := poll.Until(context.Background(), 5*time.Second, 50*time.Millisecond, func(context.Context) (err error) {
		ln, err = net.Listen("tcp", g.addr)
		return err
	})
	if err != nil {
		g.t.Fatalf("cloud gate: %v", err)
	}
	g.srv = &http.Server{Handler: httputil.NewSingleHostReverseProxy(g.target), ReadHeaderTimeout: 5 * time.Second}
	go func(srv *http.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.t.Errorf("cloud gate: %v", err)
		}
	}(g.srv)
}

func (g *edgeAlertsGate) down() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		_ = g.srv.Close() // closes the listener: connections are refused
		g.srv = nil
	}
}

// TestEdgeAlertsDuringCloudOutage: an edge node with its own Redis pulls the
// tenant's fences and rules from the cloud; the cloud goes down (its port
// refuses); a scripted vehicle enters the fence; detection and the rules run
// at the edge and the edge's notify delivers the signed webhook. The cloud
// comes back, the forwarder delivers the fixes, the cloud records the
// geofence event (marked as the edge's) but fires no second alert; the
// forwarder also sends the edge's alert record up, so the cloud's alerts
// lists it once, with the node and its delivery state.
func TestEdgeAlertsDuringCloudOutage(t *testing.T) {
	ctx := context.Background()
	cloudRedis := testenv.StartRedis(t)
	cloud := startDev(t, cloudRedis.URL, "EVENT_RELAY_INTERVAL=100ms", "DELIVERY_INTERVAL=100ms")
	gate := newEdgeAlertsGate(t, cloud)
	admin := token(t, "acme", auth.RoleAdmin, "")

	fence := `{"type":"Feature","id":"depot","geometry":{"type":"Point","coordinates":[2.35,48.85]},"properties":{"name":"Depot","radius_m":150}}`
	if r := call(t, http.MethodPost, cloud+"/function/geofences", admin, hdr("Content-Type", "application/geo+json"), []byte(fence)); r.Status != http.StatusCreated {
		t.Fatalf("fence: %d %s", r.Status, r.Body)
	}
	recv := newWebhookReceiver(t)
	ruleID := recv.createRule(t, cloud+"/function/rules", admin, "/arrivals", `{"name":"depot arrivals","on":["io.geotrack.geofence.entered"],"fences":["depot"],WEBHOOK}`)

	// The edge node: its own Redis, edge-ingest (which syncs and evaluates),
	// notify (delivers, sweeps) and the forwarder, all pointed at the gate.
	edgeRedis := testenv.StartRedis(t)
	erc, err := redisstore.Open(edgeRedis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { erc.Close() })
	service := token(t, "acme", auth.RoleService, "")
	ingest := startFunction(t, "edge-ingest", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_NODE_ID": "site-1", "EDGE_SERVICE_TOKEN": service,
		"GEOFENCES_URL": gate.url("/function/geofences"), "RULES_URL": gate.url("/function/rules"), "ALERTS_SYNC_INTERVAL": "200ms",
		"EDGE_IDLE_AFTER": "1s", "EDGE_FLUSH_INTERVAL": "200ms",
	})
	startFunction(t, "notify", map[string]string{
		"REDIS_URL": edgeRedis.URL, "DELIVERY_INTERVAL": "100ms", "SILENCE_SWEEP_INTERVAL": "1s", "WEBHOOK_ALLOW_PRIVATE": "true",
		"EDGE_NODE_ID": "site-1",
	})
	testenv.Eventually(t, "the edge has the fence and the rule", 10*time.Second, func() bool {
		raw, err := erc.Get(ctx, redisstore.SyncedAlertsKey).Bytes()
		var m struct {
			FenceVersion int64  `json:"fence_version"`
			RulesETag    string `json:"rules_etag"`
		}
		return err == nil && json.Unmarshal(raw, &m) == nil && m.FenceVersion > 0 && m.RulesETag != ""
	})
	if got := metric(t, ingest.URL, "geotrack_edge_fences_version"); got <= 0 {
		t.Errorf("geotrack_edge_fences_version = %v, want the synced version", got)
	}

	gate.down()
	if _, err := http.Get(gate.url("/function/rules")); err == nil {
		t.Fatal("the cloud gate still answers")
	}

	// ~1.1 km north, then inside the fence a minute later; a device token.
	device := token(t, "acme", auth.RoleDevice, "van-1")
	now := time.Now().UTC().Truncate(time.Second)
	for i, lat := range []float64{48.86, 48.8502} {
		body := fmt.Sprintf(`{"device":"van-1","ts":%q,"lat":%f,"lon":2.35,"acc":5,"speed":15}`,
			now.Add(time.Duration(i-2)*time.Minute).Format(time.RFC3339), lat)
		if r := call(t, http.MethodPost, ingest.URL, device, hdr("Content-Type", "application/json"), []byte(body)); r.Status != http.StatusAccepted {
			t.Fatalf("edge-ingest: %d %s", r.Status, r.Body)
		}
	}
	testenv.Eventually(t, "the alert at the webhook while the cloud is down", 15*time.Second, func() bool {
		return len(recv.distinct("/arrivals")) == 1
	})
	d := recv.distinct("/arrivals")[0]
	var cause struct {
		Type string
		Data struct{ Device, Fence, Edge string }
	}
	if err := json.Unmarshal(d.Event.Data.Event, &cause); err != nil {
		t.Fatal(err)
	}
	if d.Event.Data.Rule != ruleID || cause.Type != "io.geotrack.geofence.entered" || cause.Data.Fence != "depot" ||
		cause.Data.Device != "van-1" || cause.Data.Edge != "site-1" {
		t.Fatalf("alert: %s", d.Body)
	}

	// The cloud comes back: the forwarder delivers the fixes (marked), the
	// cloud's detection records the entry, and its notify fires nothing.
	startFunction(t, "forwarder", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_NODE_ID": "site-1", "CLOUD_INGEST_URL": gate.url("/function/ingest"),
		"EDGE_SERVICE_TOKEN": service, "FORWARD_INTERVAL": "200ms", "FORWARD_MAX_BACKOFF": "1s",
		"CLOUD_ALERTS_URL": gate.url("/function/alerts"),
	})
	gate.up()
	viewer := token(t, "acme", auth.RoleViewer, "")
	testenv.Eventually(t, "the cloud's event log has the edge's entry", 20*time.Second, func() bool {
		r := call(t, http.MethodGet, cloud+"/function/events?device=van-1&type=io.geotrack.geofence.entered", viewer, nil, nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), `"edge":"site-1"`)
	})
	// Give the cloud's relay and notify time to (wrongly) fire.
	time.Sleep(3 * time.Second)
	if got := recv.deliveries("/arrivals"); len(got) != 1 {
		t.Errorf("%d deliveries, want the edge's one: %s", len(got), got[len(got)-1].Body)
	}
	if recv.badSigned != 0 {
		t.Errorf("%d deliveries failed the signature check", recv.badSigned)
	}
	// The cloud lists the edge's alert once, named as the node's, with its
	// final delivery state; none fired in the cloud.
	var listed edgeAlertsPage
	testenv.Eventually(t, "the cloud lists the edge's delivered alert", 20*time.Second, func() bool {
		listed = edgeAlertsList(t, cloud, admin, "?rule="+ruleID)
		return len(listed.Alerts) == 1 && listed.Alerts[0].State == "delivered"
	})
	time.Sleep(time.Second) // the forwarder keeps running: a resend would show now
	listed = edgeAlertsList(t, cloud, admin, "?rule="+ruleID)
	if len(listed.Alerts) != 1 {
		t.Fatalf("cloud alerts of the rule: %+v, want the edge's one", listed)
	}
	if a := listed.Alerts[0]; a.ID != d.ID || a.Node != "site-1" || a.Device != "van-1" || a.Attempts != 1 || a.Event.ID != d.ID {
		t.Errorf("cloud's record of the edge alert: %+v, want id %s of node site-1", a, d.ID)
	}
	if got := recv.deliveries("/arrivals"); len(got) != 1 {
		t.Errorf("%d deliveries after the record went up, want the edge's one", len(got))
	}
	if r := call(t, http.MethodPost, cloud+"/function/alerts?replay="+d.ID, admin, nil, nil); r.Status != http.StatusConflict {
		t.Errorf("cloud replay of the edge's alert: %d %s, want 409 (the edge delivers it)", r.Status, r.Body)
	}
	// The edge keeps its own record of the alert.
	if n := erc.Exists(ctx, "gt:{acme}:alerts").Val(); n != 1 {
		t.Errorf("the edge Redis has no alert index")
	}

	// The cloud's event log holds the edge's alert.fired once, with the
	// edge's time; the record sent again (as it is, and in its older
	// pending state: a report retried late) appends nothing.
	var delivered struct{ Time string }
	if err := json.Unmarshal(d.Body, &delivered); err != nil || delivered.Time == "" {
		t.Fatalf("the delivered event's time: %v %s", err, d.Body)
	}
	edgeAlertLogged(t, cloud, viewer, d.ID, delivered.Time)
	r := call(t, http.MethodGet, cloud+"/function/alerts?rule="+ruleID, admin, nil, nil)
	var raw struct{ Alerts []map[string]any }
	r.JSON(t, &raw)
	if len(raw.Alerts) != 1 {
		t.Fatalf("cloud alerts of the rule: %s", r.Body)
	}
	pending := map[string]any{}
	for k, v := range raw.Alerts[0] {
		pending[k] = v
	}
	pending["state"], pending["attempts"] = "pending", 0
	delete(pending, "done_at")
	delete(pending, "last_status")
	resend, err := json.Marshal(map[string]any{"alerts": []any{raw.Alerts[0], pending}})
	if err != nil {
		t.Fatal(err)
	}
	r = call(t, http.MethodPost, cloud+"/function/alerts?node=site-1", service, hdr("Content-Type", "application/json"), resend)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"unchanged":2`) {
		t.Fatalf("resend of the edge's record: %d %s, want both unchanged", r.Status, r.Body)
	}
	time.Sleep(time.Second) // the forwarder keeps running too
	edgeAlertLogged(t, cloud, viewer, d.ID, delivered.Time)
}

// edgeAlertLogged checks that the cloud's event log lists the alert.fired
// event of alert id exactly once, with the edge's event time, and that a
// from/to window around that time finds it.
func edgeAlertLogged(t *testing.T, cloud, viewer, id, at string) {
	t.Helper()
	fired, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		t.Fatalf("the webhook's event time %q: %v", at, err)
	}
	window := url.Values{"type": {"io.geotrack.alert.fired"},
		"from": {fired.Add(-time.Second).Format(time.RFC3339)}, "to": {fired.Add(time.Second).Format(time.RFC3339)}}
	for _, query := range []string{"type=io.geotrack.alert.fired", window.Encode()} {
		r := call(t, http.MethodGet, cloud+"/function/events?"+query, viewer, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("cloud events?%s: %d %s", query, r.Status, r.Body)
		}
		var page struct {
			Events []struct{ ID, Type, Subject, Time string }
		}
		r.JSON(t, &page)
		if len(page.Events) != 1 || page.Events[0].ID != id || page.Events[0].Subject != "van-1" || page.Events[0].Time != at {
			t.Fatalf("cloud events?%s: %s, want the edge's alert %s (time %s) once", query, r.Body, id, at)
		}
	}
}

// edgeAlertsPage is a page of the cloud's alerts, as these tests read it.
type edgeAlertsPage struct {
	Alerts []struct {
		ID, Rule, Device, State, Node string
		Attempts                      int
		Event                         struct{ ID string }
	}
}

func edgeAlertsList(t *testing.T, cloud, tok, query string) edgeAlertsPage {
	t.Helper()
	r := call(t, http.MethodGet, cloud+"/function/alerts"+query, tok, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("cloud alerts: %d %s", r.Status, r.Body)
	}
	var p edgeAlertsPage
	r.JSON(t, &p)
	return p
}

// TestEdgeSyncRoleTenantMatrix: the two reads an edge node syncs from, GET
// geofences?since= and GET rules?all=true (the rules with their webhook
// secrets), for every role, broken credentials and two tenants; refused
// and malformed requests change nothing.
func TestEdgeSyncRoleTenantMatrix(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	env := map[string]string{"REDIS_URL": rs.URL, "WEBHOOK_ALLOW_PRIVATE": "true"}
	fences := startFunction(t, "geofences", env)
	rules := startFunction(t, "rules", env)
	secrets := map[string]string{}
	for _, tenant := range []string{"acme", "globex"} {
		admin := token(t, tenant, auth.RoleAdmin, "")
		fence := fmt.Sprintf(`{"type":"Feature","id":"%s-yard","geometry":{"type":"Point","coordinates":[2.35,48.85]},"properties":{"name":"Yard","radius_m":50}}`, tenant)
		if r := call(t, http.MethodPost, fences.URL, admin, hdr("Content-Type", "application/geo+json"), []byte(fence)); r.Status != http.StatusCreated {
			t.Fatalf("fence: %d %s", r.Status, r.Body)
		}
		rule := fmt.Sprintf(`{"name":"%s in","on":["io.geotrack.geofence.entered"],"webhook":{"url":"http://127.0.0.1:9/hook"}}`, tenant)
		r := call(t, http.MethodPost, rules.URL, admin, hdr("Content-Type", "application/json"), []byte(rule))
		if r.Status != http.StatusCreated {
			t.Fatalf("rule: %d %s", r.Status, r.Body)
		}
		var created struct{ Secret string }
		r.JSON(t, &created)
		secrets[tenant] = created.Secret
	}
	before := snapshot(t, rc)

	callers := []struct {
		name                string
		tok                 string
		fenceSync, ruleSync int
	}{
		{"device", token(t, "acme", auth.RoleDevice, "van-1"), 403, 403},
		{"viewer", token(t, "acme", auth.RoleViewer, ""), 200, 403},
		{"admin", token(t, "acme", auth.RoleAdmin, ""), 200, 403},
		{"service", token(t, "acme", auth.RoleService, ""), 200, 200},
		{"no token", "", 401, 401},
		{"garbage", "not.a.jwt", 401, 401},
	}
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			if r := call(t, http.MethodGet, fences.URL+"?since=0", cl.tok, nil, nil); r.Status != cl.fenceSync {
				t.Errorf("geofences?since=0: %d, want %d (%s)", r.Status, cl.fenceSync, r.Body)
			}
			r := call(t, http.MethodGet, rules.URL+"?all=true", cl.tok, nil, nil)
			if r.Status != cl.ruleSync {
				t.Errorf("rules?all=true: %d, want %d (%s)", r.Status, cl.ruleSync, r.Body)
			}
			if r.Status != http.StatusOK && strings.Contains(string(r.Body), "whsec_") {
				t.Errorf("a refused sync shows a secret: %s", r.Body)
			}
		})
	}

	t.Run("each tenant's service syncs its own", func(t *testing.T) {
		for _, tenant := range []string{"acme", "globex"} {
			other := map[string]string{"acme": "globex", "globex": "acme"}[tenant]
			svc := token(t, tenant, auth.RoleService, "")
			r := call(t, http.MethodGet, fences.URL+"?since=0", svc, nil, nil)
			body := string(r.Body)
			if r.Status != http.StatusOK || !strings.Contains(body, `"tenant":"`+tenant+`"`) || !strings.Contains(body, tenant+"-yard") ||
				strings.Contains(body, other+"-yard") {
				t.Errorf("%s fences: %d %s", tenant, r.Status, body)
			}
			r = call(t, http.MethodGet, rules.URL+"?all=true", svc, nil, nil)
			body = string(r.Body)
			if r.Status != http.StatusOK || !strings.Contains(body, secrets[tenant]) || strings.Contains(body, secrets[other]) ||
				strings.Contains(body, other+" in") {
				t.Errorf("%s rules: %d %s", tenant, r.Status, body)
			}
			etag := r.Header.Get("ETag")
			if r := call(t, http.MethodGet, rules.URL+"?all=true", svc, hdr("If-None-Match", etag), nil); r.Status != http.StatusNotModified {
				t.Errorf("%s rules unchanged: %d, want 304", tenant, r.Status)
			}
		}
	})

	t.Run("malformed", func(t *testing.T) {
		svc := token(t, "acme", auth.RoleService, "")
		for _, c := range []struct{ method, url, field string }{
			{http.MethodGet, fences.URL + "?since=-1", "since"},
			{http.MethodGet, fences.URL + "?since=x", "since"},
			{http.MethodGet, fences.URL + "?since=", "since"},
			{http.MethodGet, rules.URL + "?all=yes", "all"},
			{http.MethodPost, rules.URL + "?all=true", "all"},
			{http.MethodDelete, rules.URL + "?all=true", "all"},
		} {
			r := call(t, c.method, c.url, svc, hdr("Content-Type", "application/json"), []byte(`{}`))
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), c.field) {
				t.Errorf("%s %s: %d %s, want 400 naming %s", c.method, c.url, r.Status, r.Body, c.field)
			}
		}
	})
	if after := snapshot(t, rc); after != before {
		t.Error("the sync reads changed Redis")
	}
}

// TestEdgeSilenceFiresOnce: a silence rule synced to an edge node fires
// from the edge's in-process sweep when its device goes quiet; the cloud,
// which has the same fix (forwarded, marked as the edge's), sweeps too but
// leaves that device to the edge: the webhook gets the alert once.
func TestEdgeSilenceFiresOnce(t *testing.T) {
	cloudRedis := testenv.StartRedis(t)
	cloud := startDev(t, cloudRedis.URL, "EVENT_RELAY_INTERVAL=100ms", "DELIVERY_INTERVAL=100ms", "SILENCE_SWEEP_INTERVAL=500ms")
	admin := token(t, "acme", auth.RoleAdmin, "")
	recv := newWebhookReceiver(t)
	ruleID := recv.createRule(t, cloud+"/function/rules", admin, "/quiet", `{"name":"quiet","on":["io.geotrack.location.updated"],"when":{"silent_s":10},WEBHOOK}`)

	edgeRedis := testenv.StartRedis(t)
	service := token(t, "acme", auth.RoleService, "")
	ingest := startFunction(t, "edge-ingest", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_NODE_ID": "site-1", "EDGE_SERVICE_TOKEN": service,
		"RULES_URL": cloud + "/function/rules", "ALERTS_SYNC_INTERVAL": "200ms",
		"EDGE_IDLE_AFTER": "1s", "EDGE_FLUSH_INTERVAL": "200ms",
	})
	startFunction(t, "notify", map[string]string{
		"REDIS_URL": edgeRedis.URL, "DELIVERY_INTERVAL": "100ms", "SILENCE_SWEEP_INTERVAL": "500ms", "WEBHOOK_ALLOW_PRIVATE": "true",
		"EDGE_NODE_ID": "site-1",
	})
	startFunction(t, "forwarder", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_NODE_ID": "site-1", "CLOUD_INGEST_URL": cloud + "/function/ingest",
		"EDGE_SERVICE_TOKEN": service, "FORWARD_INTERVAL": "200ms",
	})
	erc, err := redisstore.Open(edgeRedis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { erc.Close() })
	testenv.Eventually(t, "the edge has the rule", 10*time.Second, func() bool {
		return erc.HLen(context.Background(), "gt:{acme}:rules").Val() == 1
	})

	device := token(t, "acme", auth.RoleDevice, "van-1")
	body := fmt.Sprintf(`{"device":"van-1","ts":%q,"lat":48.85,"lon":2.35,"acc":5}`, time.Now().UTC().Add(-time.Second).Format(time.RFC3339))
	if r := call(t, http.MethodPost, ingest.URL, device, hdr("Content-Type", "application/json"), []byte(body)); r.Status != http.StatusAccepted {
		t.Fatalf("edge-ingest: %d %s", r.Status, r.Body)
	}
	viewer := token(t, "acme", auth.RoleViewer, "")
	testenv.Eventually(t, "the fix in the cloud, marked as the edge's", 10*time.Second, func() bool {
		r := call(t, http.MethodGet, cloud+"/function/position?device=van-1", viewer, nil, nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), `"edge_alerts":"site-1"`)
	})
	testenv.Eventually(t, "the silence alert from the edge", 20*time.Second, func() bool { return len(recv.distinct("/quiet")) == 1 })
	time.Sleep(3 * time.Second) // both tiers sweep every 500 ms
	if got := recv.deliveries("/quiet"); len(got) != 1 || recv.badSigned != 0 {
		t.Fatalf("%d deliveries (%d badly signed), want the edge's one", len(got), recv.badSigned)
	}
	if d := recv.distinct("/quiet")[0]; d.Event.Data.Rule != ruleID || d.Event.Data.Kind != "silence" {
		t.Errorf("alert: %s", d.Body)
	}
	r := call(t, http.MethodGet, cloud+"/function/alerts", admin, nil, nil)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), ruleID) {
		t.Errorf("cloud alerts: %d %s, want none fired in the cloud", r.Status, r.Body)
	}
}

// TestEdgeAlertReportReachesTheCloudSink: the cloud's alerts function, with
// an event sink, queues the io.geotrack.alert.fired of an alert an edge
// node reports once, when it first stores the record, and the relay sends
// it to the sink as the edge made it (id, source, subject, time) with the
// tenant; the record sent again and its delivered state send nothing more,
// and the event log lists it once.
func TestEdgeAlertReportReachesTheCloudSink(t *testing.T) {
	var mu sync.Mutex
	var sunk []map[string]any
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := map[string]any{}
		if id := r.Header.Get("Ce-Id"); id != "" { // binary mode
			for _, k := range []string{"id", "type", "source", "subject", "time", "tenant"} {
				e[k] = r.Header.Get("Ce-" + k)
			}
		} else if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("sink: %v: %s", err, body)
		}
		mu.Lock()
		sunk = append(sunk, e)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL, "EVENT_SINK": sink.URL, "EVENT_RELAY_INTERVAL": "100ms"}
	alerts := startFunction(t, "alerts", env)
	events := startFunction(t, "events", map[string]string{"REDIS_URL": rs.URL})

	firedAt := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Millisecond) // during an outage
	rule := alert.Rule{ID: "ru_depot", Name: "depot", On: []string{alert.TypeGeofenceEntered}}
	em, err := alert.Fired{ID: "al_edge1", Tenant: "acme", Rule: rule, Device: "van-1", At: firedAt,
		Cause: []byte(`{"type":"io.geotrack.geofence.entered"}`)}.Event("urn:geotrack:notify:site-1")
	if err != nil {
		t.Fatal(err)
	}
	rec := alert.Record{ID: "al_edge1", Rule: rule.ID, Name: rule.Name, Kind: rule.Kind(), Device: "van-1", FiredAt: firedAt,
		State: alert.StatePending, Event: em.CloudEvent}
	done := firedAt.Add(time.Second)
	delivered := rec
	delivered.State, delivered.Attempts, delivered.LastStatus, delivered.DoneAt = alert.StateDelivered, 1, 204, &done
	service := token(t, "acme", auth.RoleService, "")
	for i, recs := range [][]alert.Record{{rec}, {rec}, {delivered}} {
		body, err := json.Marshal(map[string]any{"alerts": recs})
		if err != nil {
			t.Fatal(err)
		}
		if r := call(t, http.MethodPost, alerts.URL+"?node=site-1", service, hdr("Content-Type", "application/json"), body); r.Status != http.StatusOK {
			t.Fatalf("report %d: %d %s", i, r.Status, r.Body)
		}
	}
	fired := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var out []map[string]any
		for _, e := range sunk {
			if e["type"] == alert.TypeAlertFired {
				out = append(out, e)
			}
		}
		return out
	}
	testenv.Eventually(t, "the edge's alert.fired at the cloud's sink", 10*time.Second, func() bool { return len(fired()) > 0 })
	time.Sleep(time.Second) // a second copy would show now
	got := fired()
	if len(got) != 1 {
		t.Fatalf("%d alert.fired at the sink, want 1: %v", len(got), got)
	}
	e := got[0]
	if at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(e["time"])); e["id"] != "al_edge1" || e["source"] != "urn:geotrack:notify:site-1" ||
		e["subject"] != "van-1" || e["tenant"] != "acme" || !at.Equal(firedAt) {
		t.Fatalf("alert.fired at the sink: %v, want the edge's event of acme fired at %s", e, firedAt)
	}
	r := call(t, http.MethodGet, events.URL+"?type=io.geotrack.alert.fired", token(t, "acme", auth.RoleViewer, ""), nil, nil)
	var page struct{ Events []struct{ ID string } }
	r.JSON(t, &page)
	if r.Status != http.StatusOK || len(page.Events) != 1 || page.Events[0].ID != "al_edge1" {
		t.Fatalf("cloud event log: %d %s, want the edge's alert once", r.Status, r.Body)
	}
}
