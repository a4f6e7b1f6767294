package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// webhookReceiver is a webhook endpoint that checks every delivery's Standard
// Webhooks signature with its own HMAC (not geotrack's code) and answers
// with the status its test sets.
type webhookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	secrets   map[string]string // path -> whsec_ secret
	status    map[string]int    // path -> answer (default 200)
	got       []webhookDelivery
	badSigned int
}

type webhookDelivery struct {
	Path, ID string
	Body     []byte
	Event    struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Subject string `json:"subject"`
		Tenant  string `json:"tenant"`
		Data    struct {
			Rule   string          `json:"rule"`
			Kind   string          `json:"kind"`
			Device string          `json:"device"`
			Event  json.RawMessage `json:"event"`
		} `json:"data"`
	}
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{t: t, secrets: map[string]string{}, status: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	status, ok := r.status[req.URL.Path]
	if !ok {
		status = http.StatusOK
	}
	if status/100 != 2 {
		w.WriteHeader(status)
		return
	}
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.secrets[req.URL.Path], "whsec_"))
	sec, tsErr := strconv.ParseInt(ts, 10, 64)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if err != nil || tsErr != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute || !slices.Contains(strings.Fields(sig), want) ||
		req.Header.Get("Content-Type") != "application/cloudevents+json" {
		r.badSigned++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	d := webhookDelivery{Path: req.URL.Path, ID: id, Body: body}
	if err := json.Unmarshal(body, &d.Event); err != nil || d.Event.ID != id {
		r.badSigned++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.got = append(r.got, d)
	w.WriteHeader(http.StatusNoContent)
}

func (r *webhookReceiver) url(path string) string { return r.srv.URL + path }

func (r *webhookReceiver) set(path string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[path] = status
}

func (r *webhookReceiver) deliveries(path string) []webhookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhookDelivery
	for _, d := range r.got {
		if d.Path == path {
			out = append(out, d)
		}
	}
	return out
}

// distinct is the ids delivered to path, first delivery order, repeats dropped.
func (r *webhookReceiver) distinct(path string) []webhookDelivery {
	var out []webhookDelivery
	seen := map[string]bool{}
	for _, d := range r.deliveries(path) {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out
}

// alertStack is rules, notify and alerts on one Redis.
type alertStack struct {
	rules, notify, alerts *proc
	redis                 redis.UniversalClient
	redisURL              string
	recv                  *webhookReceiver
}

func startAlerts(t *testing.T, env map[string]string) *alertStack {
	t.Helper()
	rs := testenv.StartRedis(t)
	base := map[string]string{"REDIS_URL": rs.URL, "WEBHOOK_ALLOW_PRIVATE": "true",
		"WEBHOOK_RETRY_MIN": "100ms", "WEBHOOK_RETRY_MAX": "500ms", "DELIVERY_INTERVAL": "100ms", "WEBHOOK_TIMEOUT": "2s"}
	for k, v := range env {
		base[k] = v
	}
	s := &alertStack{
		rules:  startFunction(t, "rules", base),
		notify: startFunction(t, "notify", base),
		alerts: startFunction(t, "alerts", base),
		recv:   newWebhookReceiver(t),
	}
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s.redis, s.redisURL = client, rs.URL
	return s
}

// createRule posts a rule whose webhook is the webhookReceiver's path and
// registers the secret the reply shows.
func (s *alertStack) createRule(t *testing.T, tenant, path, rule string) string {
	t.Helper()
	return s.recv.createRule(t, s.rules.URL, token(t, tenant, auth.RoleAdmin, ""), path, rule)
}

// createRule posts rule to the rules function at rulesURL with the admin
// token, WEBHOOK in it standing for this receiver's path, registers the
// secret the reply shows (once) and returns the rule's id: the set-up of
// every alert test, whichever tier runs notify.
func (r *webhookReceiver) createRule(t *testing.T, rulesURL, admin, path, rule string) string {
	t.Helper()
	rule = strings.Replace(rule, "WEBHOOK", fmt.Sprintf(`"webhook":{"url":%q}`, r.url(path)), 1)
	resp := call(t, http.MethodPost, rulesURL, admin, hdr("Content-Type", "application/json"), []byte(rule))
	if resp.Status != http.StatusCreated {
		t.Fatalf("create rule: %d %s", resp.Status, resp.Body)
	}
	var created struct{ ID, Secret string }
	resp.JSON(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("no secret in %s", resp.Body)
	}
	r.mu.Lock()
	r.secrets[path] = created.Secret
	r.mu.Unlock()
	return created.ID
}

// geofenceEvent is a structured CloudEvent as geofence-detect emits it.
func geofenceEvent(id, typ, tenant, device, fence string) []byte {
	return []byte(fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"urn:geotrack:geofence-detect","type":%q,"subject":%q,"tenant":%q,`+
		`"datacontenttype":"application/json","data":{"device":%q,"fence":%q,"name":"Depot","ts":"2026-11-29T12:00:00Z","lat":48.85,"lon":2.35}}`,
		id, typ, device, tenant, device, fence))
}

// locationEvent is io.geotrack.location.updated as ingest emits it.
func locationEvent(id, tenant, device string, fixes ...string) []byte {
	return []byte(fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"urn:geotrack:ingest","type":"io.geotrack.location.updated","subject":%q,"tenant":%q,`+
		`"datacontenttype":"application/json","data":[%s]}`, id, device, tenant, strings.Join(fixes, ",")))
}

type notified struct {
	Fired, Duplicate, Suppressed int
}

func (s *alertStack) post(t *testing.T, tenant string, event []byte) notified {
	t.Helper()
	r := call(t, http.MethodPost, s.notify.URL, token(t, tenant, auth.RoleService, ""), hdr("Content-Type", "application/cloudevents+json"), event)
	if r.Status != http.StatusOK {
		t.Fatalf("notify: %d %s", r.Status, r.Body)
	}
	var n notified
	r.JSON(t, &n)
	return n
}

type alertList struct {
	Alerts []struct {
		ID, Rule, Device, State string
		LastError               string `json:"last_error"`
		Attempts                int
		LastStatus              int `json:"last_status"`
	}
	Next string
}

func (s *alertStack) list(t *testing.T, tenant, query string) alertList {
	t.Helper()
	r := call(t, http.MethodGet, s.alerts.URL+"?"+query, token(t, tenant, auth.RoleViewer, ""), nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("alerts?%s: %d %s", query, r.Status, r.Body)
	}
	var l alertList
	r.JSON(t, &l)
	return l
}

func TestAlertsGeofenceRulesDeliverSignedWebhooks(t *testing.T) {
	s := startAlerts(t, nil)
	depot := s.createRule(t, "acme", "/depot", `{"name":"depot","on":["io.geotrack.geofence.entered","io.geotrack.geofence.exited"],"fences":["f1"],WEBHOOK}`)

	n := s.post(t, "acme", geofenceEvent("ev-1", "io.geotrack.geofence.entered", "acme", "van-1", "f1"))
	if n.Fired != 1 {
		t.Fatalf("entered f1: %+v", n)
	}
	if n := s.post(t, "acme", geofenceEvent("ev-2", "io.geotrack.geofence.entered", "acme", "van-1", "f2")); n.Fired != 0 {
		t.Fatalf("f2 is not the rule's fence: %+v", n)
	}
	if n := s.post(t, "acme", geofenceEvent("ev-1", "io.geotrack.geofence.entered", "acme", "van-1", "f1")); n.Fired != 0 || n.Duplicate != 1 {
		t.Fatalf("redelivered event: %+v, want a duplicate", n)
	}
	s.post(t, "acme", geofenceEvent("ev-3", "io.geotrack.geofence.exited", "acme", "van-1", "f1"))
	testenv.Eventually(t, "two signed deliveries", 10*time.Second, func() bool { return len(s.recv.distinct("/depot")) == 2 })
	got := s.recv.distinct("/depot")
	first := got[0].Event
	if first.Type != "io.geotrack.alert.fired" || first.Subject != "van-1" || first.Tenant != "acme" || first.Data.Rule != depot ||
		first.Data.Device != "van-1" || !strings.Contains(string(first.Data.Event), `"id":"ev-1"`) {
		t.Errorf("first delivery: %s", got[0].Body)
	}
	if !strings.Contains(string(got[1].Event.Data.Event), `"id":"ev-3"`) {
		t.Errorf("second delivery is not the exit: %s", got[1].Body)
	}
	if s.recv.badSigned != 0 {
		t.Errorf("%d deliveries failed the signature check", s.recv.badSigned)
	}
	l := s.list(t, "acme", "device=van-1")
	if len(l.Alerts) != 2 || l.Alerts[0].ID != got[0].ID || l.Alerts[0].State != "delivered" || l.Alerts[0].Attempts != 1 {
		t.Errorf("alerts: %+v", l)
	}
	// Fired alerts are in the tenant event log, each one CloudEvent in field ce.
	entries, err := s.redis.XRange(t.Context(), "gt:{acme}:eventlog", "-", "+").Result()
	if err != nil || len(entries) != 2 || !strings.Contains(entries[0].Values["ce"].(string), got[0].ID) {
		t.Errorf("event log: %v %v", entries, err)
	}
}

func TestAlertsCooldownSuppressesRepeats(t *testing.T) {
	s := startAlerts(t, nil)
	s.createRule(t, "acme", "/cool", `{"name":"once an hour","on":["io.geotrack.geofence.entered"],"cooldown_s":3600,WEBHOOK}`)
	for i, want := range []notified{{Fired: 1}, {Suppressed: 1}, {Suppressed: 1}} {
		if n := s.post(t, "acme", geofenceEvent(fmt.Sprintf("c-%d", i), "io.geotrack.geofence.entered", "acme", "van-1", "f1")); n != want {
			t.Fatalf("event %d: %+v, want %+v", i, n, want)
		}
	}
	// Another device has its own cooldown.
	if n := s.post(t, "acme", geofenceEvent("c-9", "io.geotrack.geofence.entered", "acme", "van-2", "f1")); n.Fired != 1 {
		t.Fatalf("van-2: %+v", n)
	}
	testenv.Eventually(t, "two deliveries", 10*time.Second, func() bool { return len(s.recv.distinct("/cool")) == 2 })
	time.Sleep(300 * time.Millisecond) // a few delivery passes: nothing more arrives
	if n := len(s.recv.distinct("/cool")); n != 2 {
		t.Fatalf("%d alerts delivered, want 2", n)
	}
}

func TestAlertsReceiverDownThenUpDeliversEverythingInOrder(t *testing.T) {
	s := startAlerts(t, nil)
	s.createRule(t, "acme", "/flaky", `{"name":"all","on":["io.geotrack.geofence.entered"],WEBHOOK}`)
	s.recv.set("/flaky", http.StatusServiceUnavailable)
	const perDevice = 6
	for i := range perDevice {
		for _, dev := range []string{"van-1", "van-2"} {
			s.post(t, "acme", geofenceEvent(fmt.Sprintf("%s-%d", dev, i), "io.geotrack.geofence.entered", "acme", dev, "f1"))
		}
	}
	testenv.Eventually(t, "retries scheduled", 10*time.Second, func() bool {
		l := s.list(t, "acme", "")
		return len(l.Alerts) == 2*perDevice && l.Alerts[0].Attempts >= 4 && l.Alerts[0].LastStatus == 503
	})
	if len(s.recv.deliveries("/flaky")) != 0 {
		t.Fatal("delivered while the webhookReceiver answered 503")
	}
	s.recv.set("/flaky", http.StatusOK)
	testenv.Eventually(t, "all delivered", 20*time.Second, func() bool { return len(s.recv.distinct("/flaky")) == 2*perDevice })
	for _, dev := range []string{"van-1", "van-2"} {
		var seq []int
		for _, d := range s.recv.distinct("/flaky") {
			if d.Event.Subject != dev {
				continue
			}
			var cause struct{ ID string }
			_ = json.Unmarshal(d.Event.Data.Event, &cause)
			i, _ := strconv.Atoi(strings.TrimPrefix(cause.ID, dev+"-"))
			seq = append(seq, i)
		}
		if !slices.IsSorted(seq) || len(seq) != perDevice {
			t.Errorf("%s delivered in order %v", dev, seq)
		}
	}
	if l := s.list(t, "acme", "dead=true"); len(l.Alerts) != 0 {
		t.Errorf("dead letters: %+v", l)
	}
}

func TestAlertsDeadLetterAndReplay(t *testing.T) {
	s := startAlerts(t, nil)
	s.createRule(t, "acme", "/gone", `{"name":"gone","on":["io.geotrack.geofence.exited"],WEBHOOK}`)
	s.recv.set("/gone", http.StatusGone)
	s.post(t, "acme", geofenceEvent("x-1", "io.geotrack.geofence.exited", "acme", "van-1", "f1"))
	var dead alertList
	testenv.Eventually(t, "dead letter", 10*time.Second, func() bool {
		dead = s.list(t, "acme", "dead=true")
		return len(dead.Alerts) == 1
	})
	if a := dead.Alerts[0]; a.State != "dead" || a.LastStatus != http.StatusGone || a.Attempts != 1 {
		t.Fatalf("dead letter: %+v (a 4xx other than 408/429 is not retried)", a)
	}
	id := dead.Alerts[0].ID
	admin := token(t, "acme", auth.RoleAdmin, "")
	if r := call(t, http.MethodPost, s.alerts.URL+"?replay="+id, token(t, "globex", auth.RoleAdmin, ""), nil, nil); r.Status != http.StatusNotFound {
		t.Fatalf("replay from another tenant: %d %s", r.Status, r.Body)
	}
	s.recv.set("/gone", http.StatusOK)
	if r := call(t, http.MethodPost, s.alerts.URL+"?replay="+id, admin, nil, nil); r.Status != http.StatusAccepted {
		t.Fatalf("replay: %d %s", r.Status, r.Body)
	}
	testenv.Eventually(t, "replayed delivery", 10*time.Second, func() bool { return len(s.recv.distinct("/gone")) == 1 })
	if d := s.recv.distinct("/gone")[0]; d.ID != id {
		t.Errorf("replayed id %s, want %s", d.ID, id)
	}
	testenv.Eventually(t, "state delivered", 5*time.Second, func() bool {
		l := s.list(t, "acme", "")
		return len(l.Alerts) == 1 && l.Alerts[0].State == "delivered"
	})
	if l := s.list(t, "acme", "dead=true"); len(l.Alerts) != 0 {
		t.Errorf("still dead after replay: %+v", l)
	}
}

func TestAlertsThresholdsOnLocationUpdates(t *testing.T) {
	s := startAlerts(t, nil)
	speed := s.createRule(t, "acme", "/speed", `{"name":"speeding","on":["io.geotrack.location.updated"],"when":{"speed_above":20,"for_s":10},WEBHOOK}`)
	battery := s.createRule(t, "acme", "/battery", `{"name":"low battery","on":["io.geotrack.location.updated"],"when":{"battery_below":0.2},WEBHOOK}`)
	sos := s.createRule(t, "acme", "/sos", `{"name":"sos","on":["io.geotrack.location.updated"],"devices":["van-1"],"when":{"flag":"alarm"},WEBHOOK}`)
	fixAt := func(dev string, sec int, extra string) string {
		return fmt.Sprintf(`{"device":%q,"ts":"2026-11-29T12:00:%02dZ","lat":48.85,"lon":2.35%s}`, dev, sec, extra)
	}
	steps := []struct {
		event []byte
		fired int
	}{
		{locationEvent("l1", "acme", "van-1", fixAt("van-1", 0, `,"speed":25,"battery":0.9`)), 0},
		{locationEvent("l2", "acme", "van-1", fixAt("van-1", 5, `,"speed":26`)), 0},
		{locationEvent("l3", "acme", "van-1", fixAt("van-1", 10, `,"speed":27`)), 1}, // 10 s above 20 m/s
		{locationEvent("l3", "acme", "van-1", fixAt("van-1", 10, `,"speed":27`)), 0}, // redelivered
		{locationEvent("l4", "acme", "van-1", fixAt("van-1", 15, `,"speed":30,"battery":0.15`)), 1},
		{locationEvent("l5", "acme", "van-1", fixAt("van-1", 20, `,"battery":0.1,"attrs":{"alarm":"sos"}`)), 1},
		{locationEvent("l6", "acme", "van-2", fixAt("van-2", 20, `,"attrs":{"alarm":"sos"}`)), 0}, // sos rule is van-1's
	}
	for i, st := range steps {
		if n := s.post(t, "acme", st.event); n.Fired != st.fired {
			t.Fatalf("step %d: %+v, want %d fired", i, n, st.fired)
		}
	}
	testenv.Eventually(t, "one delivery per rule", 10*time.Second, func() bool {
		return len(s.recv.distinct("/speed")) == 1 && len(s.recv.distinct("/battery")) == 1 && len(s.recv.distinct("/sos")) == 1
	})
	for path, rule := range map[string]string{"/speed": speed, "/battery": battery, "/sos": sos} {
		if d := s.recv.distinct(path)[0]; d.Event.Data.Rule != rule || d.Event.Subject != "van-1" {
			t.Errorf("%s: %s", path, d.Body)
		}
	}
}

func TestAlertsSilenceSweep(t *testing.T) {
	// The in-process sweep, as at the edge; the cloud's cron tick is an
	// empty POST, checked at the end.
	s := startAlerts(t, map[string]string{"SILENCE_SWEEP_INTERVAL": "200ms"})
	s.createRule(t, "acme", "/quiet", `{"name":"silent","on":["io.geotrack.location.updated"],"when":{"silent_s":30},WEBHOOK}`)
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": s.redisURL})
	now := time.Now().UTC()
	for dev, age := range map[string]time.Duration{"van-old": 2 * time.Minute, "van-new": 0} {
		body := fmt.Sprintf(`{"device":%q,"ts":%q,"lat":48.85,"lon":2.35}`, dev, now.Add(-age).Format(time.RFC3339Nano))
		if r := call(t, http.MethodPost, ingest.URL, token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"), []byte(body)); r.Status != http.StatusAccepted {
			t.Fatalf("ingest %s: %d %s", dev, r.Status, r.Body)
		}
	}
	testenv.Eventually(t, "silence alert", 10*time.Second, func() bool { return len(s.recv.distinct("/quiet")) == 1 })
	if d := s.recv.distinct("/quiet")[0]; d.Event.Subject != "van-old" || d.Event.Data.Kind != "silence" {
		t.Fatalf("silence alert: %s", d.Body)
	}
	r := call(t, http.MethodPost, s.notify.URL, "", nil, nil) // the cron tick
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"swept":true`) {
		t.Fatalf("tick: %d %s", r.Status, r.Body)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(s.recv.distinct("/quiet")); n != 1 {
		t.Fatalf("the same silence alerted %d times", n)
	}
}

func TestAlertsSSRFRefused(t *testing.T) {
	s := startAlerts(t, map[string]string{"WEBHOOK_ALLOW_PRIVATE": "false"})
	admin := token(t, "acme", auth.RoleAdmin, "")
	for _, u := range []string{"http://hooks.example.com/", "https://127.0.0.1/", "https://[::1]:8443/", "https://10.0.0.7/",
		"https://192.168.1.1/", "https://169.254.169.254/latest/meta-data", "https://localhost/", "https://100.100.100.200/"} {
		body := fmt.Sprintf(`{"name":"x","on":["io.geotrack.geofence.entered"],"webhook":{"url":%q}}`, u)
		r := call(t, http.MethodPost, s.rules.URL, admin, hdr("Content-Type", "application/json"), []byte(body))
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "webhook.url") {
			t.Errorf("%s: %d %s", u, r.Status, r.Body)
		}
	}
	if n, _ := s.redis.HLen(t.Context(), "gt:{acme}:rules").Result(); n != 0 {
		t.Fatalf("%d rules stored", n)
	}
	// A name that passes creation and resolves to loopback at delivery (DNS
	// rebinding): the rule is written as if it had, and the dialled
	// address is refused.
	rule := fmt.Sprintf(`{"id":"r_rebind","name":"rebind","on":["io.geotrack.geofence.entered"],"when":{},"webhook":{"url":%q,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}`,
		strings.Replace(s.recv.url("/rebind"), "http://127.0.0.1", "https://localhost", 1))
	s.redis.SAdd(t.Context(), "gt:alerts:tenants", "acme")
	s.redis.HSet(t.Context(), "gt:{acme}:rules", "r_rebind", rule)
	s.post(t, "acme", geofenceEvent("s-1", "io.geotrack.geofence.entered", "acme", "van-1", "f1"))
	var dead alertList
	testenv.Eventually(t, "refused delivery dead-lettered", 10*time.Second, func() bool {
		dead = s.list(t, "acme", "dead=true")
		return len(dead.Alerts) == 1
	})
	if !strings.Contains(dead.Alerts[0].LastError, "loopback") {
		t.Errorf("dead letter: %+v", dead.Alerts[0])
	}
	if len(s.recv.deliveries("/rebind")) != 0 {
		t.Error("the webhookReceiver on loopback was reached")
	}
}

// TestAlertsFiredEventReachesTheSink: io.geotrack.alert.fired goes to the
// event sink through the event outbox (its relay runs in notify), with the
// alert's id and the tenant.
func TestAlertsFiredEventReachesTheSink(t *testing.T) {
	var mu sync.Mutex
	var sunk []http.Header
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		if h.Get("Ce-Id") == "" { // structured mode
			var e struct{ ID, Type, Tenant string }
			_ = json.Unmarshal(body, &e)
			h.Set("Ce-Id", e.ID)
			h.Set("Ce-Type", e.Type)
			h.Set("Ce-Tenant", e.Tenant)
		}
		mu.Lock()
		sunk = append(sunk, h)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	s := startAlerts(t, map[string]string{"EVENT_SINK": sink.URL, "EVENT_RELAY_INTERVAL": "100ms"})
	s.createRule(t, "acme", "/sunk", `{"name":"depot","on":["io.geotrack.geofence.entered"],WEBHOOK}`)
	s.post(t, "acme", geofenceEvent("k-1", "io.geotrack.geofence.entered", "acme", "van-1", "f1"))
	testenv.Eventually(t, "webhook delivery", 10*time.Second, func() bool { return len(s.recv.distinct("/sunk")) == 1 })
	id := s.recv.distinct("/sunk")[0].ID
	testenv.Eventually(t, "alert.fired at the sink", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range sunk {
			if h.Get("Ce-Type") == "io.geotrack.alert.fired" && h.Get("Ce-Id") == id && h.Get("Ce-Tenant") == "acme" {
				return true
			}
		}
		return false
	})
	// The relay removes an entry after the sink's 2xx, so the sink sees the
	// event a moment before the outbox is empty.
	testenv.Eventually(t, "outbox empty after delivery", 5*time.Second, func() bool {
		n, _ := s.redis.XLen(t.Context(), "gt:{acme}:events").Result()
		return n == 0
	})
}
