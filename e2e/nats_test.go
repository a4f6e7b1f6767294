package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/testenv"
)

// natsWait bounds every wait for a NATS message or a connector invocation.
const natsWait = 10 * time.Second

const (
	traceIngest = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traceEvent  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

// natsCloud is ingest publishing to a real nats-server (EVENT_SINK=nats://…)
// and position reading the same Redis.
type natsCloud struct {
	*cloud
	nats *testenv.NATS
}

func startNATSCloud(t *testing.T) *natsCloud {
	t.Helper()
	ns := testenv.StartNATS(t)
	rs := testenv.StartRedis(t)
	c := &cloud{
		ingest:   startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL, "EVENT_SINK": ns.URL}),
		position: startFunction(t, "position", map[string]string{"REDIS_URL": rs.URL}),
	}
	return &natsCloud{cloud: c, nats: ns}
}

// natsConn connects a test client, closed at the end of the test.
func natsConn(t *testing.T, url, name string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(name), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// natsSubscribe returns the messages on subject; the subscription is known to
// the server when it returns, so nothing published afterwards is missed.
func natsSubscribe(t *testing.T, url, subject string) <-chan *nats.Msg {
	t.Helper()
	nc := natsConn(t, url, "e2e-subscriber")
	msgs := make(chan *nats.Msg, 64)
	if _, err := nc.ChanSubscribe(subject, msgs); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func nextMsg(t *testing.T, msgs <-chan *nats.Msg, what string) *nats.Msg {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(natsWait):
		t.Fatalf("no %s on NATS within %s", what, natsWait)
		return nil
	}
}

// structuredEvent is a structured-mode CloudEvent as it travels on NATS.
type structuredEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	TraceParent     string          `json:"traceparent"`
	Tenant          string          `json:"tenant"`
	Data            json.RawMessage `json:"data"`
}

func decodeStructured(t *testing.T, m *nats.Msg) structuredEvent {
	t.Helper()
	var e structuredEvent
	if err := json.Unmarshal(m.Data, &e); err != nil {
		t.Fatalf("message on %s is not a structured CloudEvent: %v\n%s", m.Subject, err, m.Data)
	}
	if e.SpecVersion != "1.0" || e.ID == "" || e.Source == "" || e.Type != m.Subject {
		t.Fatalf("message on %s: specversion/id/source/type wrong: %s", m.Subject, m.Data)
	}
	return e
}

// wantFix is a fix as the tests post it; ts is compared as an instant.
type wantFix struct {
	Device   string
	TS       time.Time
	Lat, Lon float64
}

func (f wantFix) json() string {
	return fmt.Sprintf(`{"device":%q,"ts":%q,"lat":%g,"lon":%g,"speed":3.5,"acc":4}`, f.Device, f.TS.Format(time.RFC3339Nano), f.Lat, f.Lon)
}

func checkFixes(t *testing.T, data []byte, want ...wantFix) {
	t.Helper()
	var got []point
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("data is not an array of fixes: %v\n%s", err, data)
	}
	if len(got) != len(want) {
		t.Fatalf("data holds %d fixes, want %d: %s", len(got), len(want), data)
	}
	for i, w := range want {
		g := got[i]
		ts, err := time.Parse(time.RFC3339Nano, g.TS)
		if err != nil || !ts.Equal(w.TS) || g.Device != w.Device || g.Lat != w.Lat || g.Lon != w.Lon || g.Speed == nil || *g.Speed != 3.5 {
			t.Errorf("fix %d = %+v (ts err %v), want %+v", i, g, err, w)
		}
	}
}

// recent returns a fix time sec seconds after a minute ago, in whole
// milliseconds (the precision geotrack keeps), well inside retention and
// never in the future.
func recent(sec int) time.Time {
	return time.Now().UTC().Truncate(time.Minute).Add(-time.Minute + time.Duration(sec)*time.Second)
}

// TestNATSIngestEmitsLocationUpdated: ingest configured with
// EVENT_SINK=nats://… publishes io.geotrack.location.updated as a structured
// CloudEvent on the subject of that name, once per newly stored batch.
func TestNATSIngestEmitsLocationUpdated(t *testing.T) {
	c := startNATSCloud(t)
	updated := natsSubscribe(t, c.nats.URL, events.TypeLocationUpdated)
	svc := token(t, "acme", auth.RoleService, "")

	fixes := []wantFix{
		{"bus-1", recent(0), 51.5007, -0.1246},
		{"bus-1", recent(10), 51.5010, -0.1250},
	}
	body := "[" + fixes[0].json() + "," + fixes[1].json() + "]"
	h := hdr("Content-Type", "application/json", "traceparent", traceIngest)
	ingestOK(t, c.cloud, svc, h, body, 2)

	m := nextMsg(t, updated, events.TypeLocationUpdated)
	if m.Subject != events.TypeLocationUpdated {
		t.Fatalf("subject = %q", m.Subject)
	}
	e := decodeStructured(t, m)
	if e.Source != "urn:geotrack:ingest" || e.Subject != "bus-1" || e.Tenant != "acme" ||
		e.TraceParent != traceIngest || e.DataContentType != "application/json" {
		t.Errorf("attributes wrong (want source urn:geotrack:ingest, subject bus-1, tenant acme, traceparent %s, application/json):\n%s", traceIngest, m.Data)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
		t.Errorf("time %q: %v", e.Time, err)
	}
	checkFixes(t, e.Data, fixes...)

	// What a connector would deliver decodes on the receiving side too.
	envs, err := events.Decode(http.Header{"Content-Type": {"text/plain"}, "X-Topic": {m.Subject}}, m.Data)
	if err != nil || len(envs) != 1 || envs[0].Mode != events.ModeStructured || envs[0].ID != e.ID || envs[0].TraceParent != traceIngest {
		t.Fatalf("events.Decode(connector delivery) = %+v, %v", envs, err)
	}

	// A retried request stores nothing and so emits nothing; the next new fix
	// is the next message. NATS keeps one publisher's order, so a stray event
	// for the duplicates would arrive first.
	s := ingestOK(t, c.cloud, svc, h, body, 0)
	if s.Duplicates != 2 {
		t.Fatalf("retry: duplicates = %d, want 2", s.Duplicates)
	}
	third := wantFix{"bus-1", recent(20), 51.5020, -0.1260}
	ingestOK(t, c.cloud, svc, hdr("Content-Type", "application/json"), third.json(), 1)
	m = nextMsg(t, updated, "location.updated after the new fix")
	e = decodeStructured(t, m)
	checkFixes(t, e.Data, third)
	if e.TraceParent != "" {
		t.Errorf("traceparent = %q for a request without one", e.TraceParent)
	}
}

// invocation is one function call a connector made, and its answer.
type invocation struct {
	Subject string
	Status  int
	Body    []byte
	Err     error
}

// startConnector mimics the OpenFaaS CE NATS connector (openfaas/nats-connector
// on the connector-sdk): it subscribes to the function's `topic` annotation on
// NATS and invokes the function over HTTP with the raw message as the body,
// the subject in X-Topic, and the connector's configured content type
// (text/plain by default; "" sends none).
//
// The Authorization header is this test's stand-in for the gateway: a
// connector invokes functions through the OpenFaaS gateway, which adds the
// credentials of the connector's service identity; geotrack's functions then
// see a service-role bearer token, as here.
func startConnector(t *testing.T, natsURL, functionURL, bearer, contentType string, topics ...string) <-chan invocation {
	t.Helper()
	nc := natsConn(t, natsURL, "e2e-connector")
	out := make(chan invocation, 64)
	client := &http.Client{Timeout: natsWait}
	for _, topic := range topics {
		_, err := nc.Subscribe(topic, func(m *nats.Msg) {
			inv := invocation{Subject: m.Subject}
			req, err := http.NewRequest(http.MethodPost, functionURL, bytes.NewReader(m.Data))
			if err != nil {
				inv.Err = err
				out <- inv
				return
			}
			req.Header.Set("X-Topic", m.Subject)
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			req.Header.Set("Authorization", "Bearer "+bearer)
			resp, err := client.Do(req)
			if err != nil {
				inv.Err = err
				out <- inv
				return
			}
			inv.Status = resp.StatusCode
			inv.Body, inv.Err = io.ReadAll(resp.Body)
			resp.Body.Close()
			out <- inv
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

func nextInvocation(t *testing.T, invs <-chan invocation) (invocation, summary) {
	t.Helper()
	var inv invocation
	select {
	case inv = <-invs:
	case <-time.After(natsWait):
		t.Fatalf("connector invoked nothing within %s", natsWait)
	}
	if inv.Err != nil {
		t.Fatalf("connector invocation for %s: %v", inv.Subject, inv.Err)
	}
	if inv.Status != http.StatusAccepted {
		t.Fatalf("connector invocation for %s: status %d, body %s", inv.Subject, inv.Status, inv.Body)
	}
	var s summary
	if err := json.Unmarshal(inv.Body, &s); err != nil {
		t.Fatalf("summary %s: %v", inv.Body, err)
	}
	return inv, s
}

// TestNATSConnectorInvokesIngest completes the chain: a device gateway
// publishes io.geotrack.location.reported on NATS, a connector invokes ingest
// (whose topic annotation is that type) with the raw message, ingest stores
// the fix and emits io.geotrack.location.updated back onto NATS; a
// redelivery of the same message is reported as a duplicate.
func TestNATSConnectorInvokesIngest(t *testing.T) {
	for i, contentType := range []string{"text/plain", ""} {
		name := contentType
		if name == "" {
			name = "no content type"
		}
		t.Run(name, func(t *testing.T) {
			c := startNATSCloud(t)
			updated := natsSubscribe(t, c.nats.URL, events.TypeLocationUpdated)
			invs := startConnector(t, c.nats.URL, c.ingest.URL, token(t, "acme", auth.RoleService, ""),
				contentType, events.TypeLocationReported)
			publisher := natsConn(t, c.nats.URL, "e2e-device-gateway")

			device := fmt.Sprintf("van-%d", i+7)
			f := wantFix{device, recent(30), 48.8584, 2.2945}
			eventID := fmt.Sprintf("gw-%d", i+1)
			msg := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"urn:test:gateway","type":%q,"subject":%q,`+
				`"time":%q,"datacontenttype":"application/json","traceparent":%q,"data":%s}`,
				eventID, events.TypeLocationReported, device, time.Now().UTC().Format(time.RFC3339Nano), traceEvent,
				fmt.Sprintf(`{"ts":%q,"lat":%g,"lon":%g,"speed":3.5}`, f.TS.Format(time.RFC3339Nano), f.Lat, f.Lon))

			if err := publisher.Publish(events.TypeLocationReported, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if err := publisher.Flush(); err != nil {
				t.Fatal(err)
			}
			inv, s := nextInvocation(t, invs)
			if inv.Subject != events.TypeLocationReported || s.Accepted != 1 || s.Duplicates != 0 || len(s.Rejected) != 0 {
				t.Fatalf("first delivery on %s: %s", inv.Subject, inv.Body)
			}

			// The fix is stored: position answers with it.
			viewer := token(t, "acme", auth.RoleViewer, "")
			r := call(t, http.MethodGet, c.position.URL+"?device="+device, viewer, nil, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("position: %d %s", r.Status, r.Body)
			}
			checkFixes(t, []byte("["+string(r.Body)+"]"), f)

			// ingest emitted location.updated for it, carrying the trace of the
			// reported event through the chain.
			e := decodeStructured(t, nextMsg(t, updated, events.TypeLocationUpdated))
			if e.Tenant != "acme" || e.Subject != device || e.TraceParent != traceEvent {
				t.Errorf("location.updated: tenant %q subject %q traceparent %q; want acme, %s, %s", e.Tenant, e.Subject, e.TraceParent, device, traceEvent)
			}
			checkFixes(t, e.Data, f)

			// At-least-once delivery: the same message again is a duplicate.
			if err := publisher.Publish(events.TypeLocationReported, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if err := publisher.Flush(); err != nil {
				t.Fatal(err)
			}
			inv, s = nextInvocation(t, invs)
			if s.Accepted != 0 || s.Duplicates != 1 {
				t.Fatalf("redelivery: %s; want accepted 0, duplicates 1", inv.Body)
			}
			r = call(t, http.MethodGet, c.position.URL+"?device="+device, viewer, nil, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("position after redelivery: %d %s", r.Status, r.Body)
			}
			checkFixes(t, []byte("["+string(r.Body)+"]"), f)

			// The duplicate emitted nothing: the next location.updated is the
			// one for a new event (ingest publishes on one connection, and NATS
			// keeps a publisher's order).
			next := wantFix{device, recent(40), 48.8590, 2.2950}
			nextMsgBody := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"urn:test:gateway","type":%q,"subject":%q,"data":{"ts":%q,"lat":%g,"lon":%g,"speed":3.5}}`,
				eventID+"-next", events.TypeLocationReported, device, next.TS.Format(time.RFC3339Nano), next.Lat, next.Lon)
			if err := publisher.Publish(events.TypeLocationReported, []byte(nextMsgBody)); err != nil {
				t.Fatal(err)
			}
			if _, s = nextInvocation(t, invs); s.Accepted != 1 {
				t.Fatalf("new event after redelivery: accepted %d, want 1", s.Accepted)
			}
			e = decodeStructured(t, nextMsg(t, updated, "location.updated for the new event"))
			checkFixes(t, e.Data, next)
		})
	}
}
