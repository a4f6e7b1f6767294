package events_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/testenv"
)

const testTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// subscribe listens on subject on its own connection and returns once the
// server has registered the subscription.
func subscribe(t *testing.T, url, subject string) <-chan *nats.Msg {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	msgs := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe(subject, msgs); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func receive(t *testing.T, msgs <-chan *nats.Msg) *nats.Msg {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no NATS message within 10s")
		return nil
	}
}

// TestNATSSinkPublishesStructuredEvent sends through the sink EVENT_SINK
// selects and decodes what arrives the way a function invoked by the OpenFaaS
// NATS connector sees it: the raw message as the body, X-Topic naming the
// subject, and the connector's text/plain content type (or none).
func TestNATSSinkPublishesStructuredEvent(t *testing.T) {
	srv := testenv.StartNATS(t)
	all := subscribe(t, srv.URL, ">")
	msgs := subscribe(t, srv.URL, events.TypeLocationUpdated)

	// EVENT_SINK wins over K_SINK; K_SINK points nowhere useful on purpose.
	sink, err := events.NewSink(events.SinkConfig{EventSink: srv.URL, KSink: "http://127.0.0.1:1/unused"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sink.(*events.NATSSink); !ok {
		t.Fatalf("NewSink(EVENT_SINK=%s) = %T, want *events.NATSSink", srv.URL, sink)
	}

	data := []map[string]any{{"device": "truck-1", "ts": "2026-11-25T10:00:00.000Z", "lat": 51.5007, "lon": -0.1246}}
	e, err := events.New("urn:geotrack:test", events.TypeLocationUpdated, "truck-1", testTrace, data)
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(events.ExtTenant, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sink.Send(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Close drains: the message published just before must still arrive.
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	m := receive(t, msgs)
	if m.Subject != events.TypeLocationUpdated {
		t.Fatalf("subject = %q, want %q", m.Subject, events.TypeLocationUpdated)
	}
	if other := receive(t, all); other.Subject != events.TypeLocationUpdated || !bytes.Equal(other.Data, m.Data) {
		t.Fatalf("wildcard subscriber got %q on %q", other.Data, other.Subject)
	}

	// Structured mode: the attributes are top-level JSON members.
	var raw map[string]any
	if err := json.Unmarshal(m.Data, &raw); err != nil {
		t.Fatalf("message is not JSON: %v\n%s", err, m.Data)
	}
	for attr, want := range map[string]string{
		"specversion": "1.0", "id": e.ID(), "source": "urn:geotrack:test", "type": events.TypeLocationUpdated,
		"subject": "truck-1", "datacontenttype": "application/json", "traceparent": testTrace, "tenant": "acme",
	} {
		if got, _ := raw[attr].(string); got != want {
			t.Errorf("attribute %s = %v, want %q\n%s", attr, raw[attr], want, m.Data)
		}
	}
	if _, ok := raw["data"].([]any); !ok {
		t.Errorf("data = %T, want a JSON array (not base64)\n%s", raw["data"], m.Data)
	}

	for name, header := range map[string]http.Header{
		"text/plain":      {"Content-Type": {"text/plain"}, "X-Topic": {m.Subject}},
		"no content type": {"X-Topic": {m.Subject}},
	} {
		t.Run(name, func(t *testing.T) {
			envs, err := events.Decode(header, m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(envs) != 1 {
				t.Fatalf("%d envelopes, want 1", len(envs))
			}
			env := envs[0]
			if env.Mode != events.ModeStructured || env.ID != e.ID() || env.Type != events.TypeLocationUpdated ||
				env.Source != "urn:geotrack:test" || env.Subject != "truck-1" || env.TraceParent != testTrace ||
				env.ContentType != "application/json" {
				t.Fatalf("envelope %+v", env)
			}
			var got []map[string]any
			if err := json.Unmarshal(env.Data, &got); err != nil {
				t.Fatalf("data %s: %v", env.Data, err)
			}
			if len(got) != 1 || got[0]["device"] != "truck-1" || got[0]["lat"] != 51.5007 || got[0]["lon"] != -0.1246 ||
				got[0]["ts"] != "2026-11-25T10:00:00.000Z" {
				t.Fatalf("data = %s", env.Data)
			}
		})
	}
}

// TestNATSSinkSubjectIsEventType checks that each event goes to the subject
// of its own type, so a connector routes it only to functions subscribed to
// that type.
func TestNATSSinkSubjectIsEventType(t *testing.T) {
	srv := testenv.StartNATS(t)
	all := subscribe(t, srv.URL, "io.geotrack.>")
	sink, err := events.NewNATSSink(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	for _, typ := range []string{events.TypeLocationReported, events.TypeEdgeStored, events.TypeLocationUpdated} {
		e, err := events.New("urn:geotrack:test", typ, "", "", map[string]string{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Send(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		m := receive(t, all)
		if m.Subject != typ {
			t.Errorf("event of type %s published on %q", typ, m.Subject)
		}
		envs, err := events.Decode(http.Header{"X-Topic": {m.Subject}}, m.Data)
		if err != nil || len(envs) != 1 || envs[0].Type != typ || envs[0].ID != e.ID() || envs[0].TraceParent != "" {
			t.Errorf("decode %s: %+v, %v", m.Data, envs, err)
		}
	}
}

// TestSinksOverTLS: EVENT_SINK_TLS_CA_FILE makes the NATS (tls://) and
// HTTPS sinks trust a throwaway CA; without it the same servers are
// refused (their certificate is not from a system root).
func TestSinksOverTLS(t *testing.T) {
	ca := testenv.NewCA(t)
	srv := testenv.StartNATSWithTLS(t, ca)
	nc, err := nats.Connect(srv.URL, nats.RootCAs(ca.CertFile), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	msgs := make(chan *nats.Msg, 4)
	if _, err := nc.ChanSubscribe(events.TypeLocationUpdated, msgs); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	sink, err := events.NewSink(events.SinkConfig{EventSink: srv.URL, EventSinkTLSCAFile: ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	e, err := events.New("urn:test", events.TypeLocationUpdated, "van-1", "", []int{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Send(context.Background(), e); err != nil {
		t.Fatalf("send over TLS: %v", err)
	}
	if m := receive(t, msgs); !bytes.Contains(m.Data, []byte(e.ID())) {
		t.Fatalf("received %s", m.Data)
	}
	untrusting, err := events.NewSink(events.SinkConfig{EventSink: srv.URL})
	if err == nil {
		defer untrusting.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := untrusting.Send(ctx, e); err == nil {
			t.Fatal("a sink trusting the system roots published to the test CA's server")
		}
	}

	// HTTPS: a receiver with a certificate of the same CA.
	got := make(chan string, 1)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Ce-Id")
		w.WriteHeader(http.StatusAccepted)
	}))
	cert, key := ca.Issue(t, "receiver")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	hs.StartTLS()
	defer hs.Close()
	httpsSink, err := events.NewSink(events.SinkConfig{EventSink: hs.URL, EventSinkTLSCAFile: ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	defer httpsSink.Close()
	if err := httpsSink.Send(context.Background(), e); err != nil {
		t.Fatalf("send over HTTPS: %v", err)
	}
	if id := <-got; id != e.ID() {
		t.Fatalf("receiver got ce-id %q, want %q", id, e.ID())
	}
	if _, err := events.NewSink(events.SinkConfig{EventSink: hs.URL, EventSinkTLSCAFile: "/nonexistent.pem"}); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}
