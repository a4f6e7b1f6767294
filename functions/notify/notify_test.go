package notify_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/notify"
	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/auth"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/webhook"
)

type fakeEval struct {
	events []alert.Event
	sweeps int
}

func (f *fakeEval) Handle(_ context.Context, tenant string, ev alert.Event) (alert.Summary, error) {
	f.events = append(f.events, ev)
	switch ev.Subject {
	case "broken":
		return alert.Summary{}, errors.New("redis down")
	case "bad":
		return alert.Summary{}, alert.ErrBadEvent
	case "full":
		return alert.Summary{}, alert.ErrOutboxFull
	}
	return alert.Summary{Fired: 1}, nil
}

func (f *fakeEval) Sweep(context.Context) (alert.Summary, error) {
	f.sweeps++
	return alert.Summary{Fired: 2}, nil
}

type fakeDeliver struct{ runs int }

func (f *fakeDeliver) RunOnce(context.Context) (webhook.Pass, error) {
	f.runs++
	return webhook.Pass{Delivered: 3}, nil
}

func event(subject, tenant string) string {
	return `{"specversion":"1.0","id":"e1","source":"urn:t","type":"io.geotrack.geofence.entered","subject":"` + subject +
		`","tenant":"` + tenant + `","datacontenttype":"application/json","data":{"device":"d1","fence":"f1"}}`
}

func TestHandle(t *testing.T) {
	eval, deliver := &fakeEval{}, &fakeDeliver{}
	reg := metrics.NewRegistry()
	signer := auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	fn := notify.New(eval, deliver, nil, ht.Verifier{}, signer, reg)
	// What a connector delivers: no Authorization header, the relay's signature.
	signed := func(subject string) string {
		ev := event(subject, ht.Tenant)
		return ev[:len(ev)-1] + `,"geotracksig":"` + signer.Sign(ht.Tenant, "e1", "io.geotrack.geofence.entered", "urn:t") + `"}`
	}
	ce := http.Header{"Content-Type": {"application/cloudevents+json"}}
	post := func(tok, body string) handler.Request { return ht.Request("POST", "", tok, ce, body) }
	cases := []ht.Case{
		ht.Row("event", post(ht.ServiceToken, event("d1", ht.Tenant)), ht.Status(http.StatusOK), ht.JSON("fired", 1), ht.JSON("delivery.delivered", 3)),
		ht.Row("admin may post", post(ht.AdminToken, event("d1", "")), ht.Status(http.StatusOK)),
		ht.Row("other tenant's event", post(ht.ServiceToken, event("d1", "globex")), ht.Status(http.StatusForbidden)),
		ht.Row("viewer", post(ht.ViewerToken, event("d1", "")), ht.Status(http.StatusForbidden)),
		ht.Row("device", post(ht.DeviceToken, event("d1", "")), ht.Status(http.StatusForbidden)),
		ht.Row("bad data", post(ht.ServiceToken, event("bad", "")), ht.Status(http.StatusBadRequest), ht.Error("[0].data")),
		ht.Row("not an event", post(ht.ServiceToken, `{"specversion":"1.0"`), ht.Status(http.StatusBadRequest)),
		ht.Row("store down", post(ht.ServiceToken, event("broken", "")), ht.Status(http.StatusInternalServerError)),
		ht.Row("event outbox full", post(ht.ServiceToken, event("full", "")), ht.Status(http.StatusServiceUnavailable), ht.Error("event sink")),
		ht.Row("tick without credentials", ht.Request("POST", "", "", nil, ""), ht.Status(http.StatusOK), ht.JSON("swept", true), ht.JSON("fired", 2)),
		ht.Row("GET", ht.Request("GET", "", ht.ServiceToken, nil, ""), ht.Status(http.StatusMethodNotAllowed)),
		ht.Row("signed event without a token", post("", signed("d1")), ht.Status(http.StatusOK), ht.JSON("fired", 1)),
		ht.Row("unsigned event without a token", post("", event("d1", ht.Tenant)), ht.Status(http.StatusUnauthorized), ht.Error("event signature")),
	}
	cases = append(cases, ht.AuthCases(func(tok string) handler.Request { return post(tok, event("d1", "")) })...)
	ht.Run(t, fn, cases)

	var text strings.Builder
	if _, err := reg.WriteTo(&text); err != nil {
		t.Fatal(err)
	}
	// Fired: one per accepted event (3) and the tick's 2.
	if !strings.Contains(text.String(), `geotrack_alerts_total{outcome="fired"} 5`) {
		t.Errorf("metrics:\n%s", text.String())
	}
	if eval.sweeps != 1 {
		t.Errorf("%d sweeps, want the tick's", eval.sweeps)
	}
	ev := eval.events[0]
	if ev.ID != "e1" || ev.Type != alert.TypeGeofenceEntered || ev.Subject != "d1" || string(ev.Data) != `{"device":"d1","fence":"f1"}` ||
		!strings.Contains(string(ev.Structured), `"id":"e1"`) {
		t.Errorf("event passed on: %+v %s", ev, ev.Structured)
	}
	if len(eval.events) != 6 { // refused requests never reach the evaluator
		t.Errorf("%d events evaluated, want 6", len(eval.events))
	}
}

func TestWakeInsteadOfInlineDelivery(t *testing.T) {
	wake := make(chan struct{}, 1)
	deliver := &fakeDeliver{}
	fn := notify.New(&fakeEval{}, deliver, wake, ht.Verifier{}, nil, nil)
	ht.Run(t, fn, []ht.Case{ht.Row("event", ht.Request("POST", "", ht.ServiceToken, http.Header{"Content-Type": {"application/cloudevents+json"}}, event("d1", "")),
		ht.Status(http.StatusOK), ht.JSON("fired", 1))})
	if len(wake) != 1 || deliver.runs != 0 {
		t.Fatalf("wake %d, inline runs %d: want the loop woken, nothing inline", len(wake), deliver.runs)
	}
}
