package geofencedetect_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	geofencedetect "github.com/geotrack/geotrack/functions/geofence-detect"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

type detectCall struct {
	tenant string
	fixes  []fix.Fix
	trace  string
}

// fakeDetector records calls; a fix of device "broken" fails.
type fakeDetector struct{ calls []detectCall }

func (d *fakeDetector) Detect(_ context.Context, tenant string, fixes []fix.Fix, trace string) (geofence.Result, error) {
	d.calls = append(d.calls, detectCall{tenant, fixes, trace})
	for _, f := range fixes {
		if f.Device == "broken" {
			return geofence.Result{}, errors.New("commit geofence state: redis: connection refused")
		}
	}
	return geofence.Result{Fixes: len(fixes), Events: 1}, nil
}

const updated = `{"specversion":"1.0","id":"e1","source":"urn:geotrack:ingest","type":"io.geotrack.location.updated","subject":"d1","tenant":"acme","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","datacontenttype":"application/json","data":[{"device":"d1","ts":"2026-11-29T12:00:00Z","lat":1,"lon":2},{"device":"d2","ts":"2026-11-29T12:00:01Z","lat":3,"lon":4,"acc":7}]}`

func post(token, body string) handler.Request {
	return ht.Request(http.MethodPost, "", token, http.Header{"Content-Type": {"application/cloudevents+json"}}, body)
}

func TestHandle(t *testing.T) {
	d := &fakeDetector{}
	cases := []ht.Case{
		ht.Row("service delivers", post(ht.ServiceToken, updated), ht.Status(http.StatusOK), ht.JSON("fixes", 2), ht.JSON("events", 1)),
		ht.Row("admin replays", post(ht.AdminToken, updated), ht.Status(http.StatusOK)),
		ht.Row("viewer refused", post(ht.ViewerToken, updated), ht.Status(http.StatusForbidden)),
		ht.Row("device refused", post(ht.DeviceToken, updated), ht.Status(http.StatusForbidden)),
		ht.Row("other tenant's event", post(ht.ServiceToken, `{"specversion":"1.0","id":"e2","source":"s","type":"io.geotrack.location.updated","tenant":"globex","data":[]}`),
			ht.Status(http.StatusForbidden), ht.Error("globex")),
		ht.Row("other event type", post(ht.ServiceToken, `{"specversion":"1.0","id":"e3","source":"s","type":"io.geotrack.geofence.entered","data":{}}`),
			ht.Status(http.StatusBadRequest), ht.Error("type")),
		ht.Row("bad fix", post(ht.ServiceToken, `{"specversion":"1.0","id":"e4","source":"s","type":"io.geotrack.location.updated","data":[{"device":"d1","ts":"2026-11-29T12:00:00Z","lat":95,"lon":2}]}`),
			ht.Status(http.StatusBadRequest), ht.Error("data[0]", "lat")),
		ht.Row("not JSON", post(ht.ServiceToken, `{"specversion":`), ht.Status(http.StatusBadRequest)),
		ht.Row("GET refused", ht.Request(http.MethodGet, "", ht.ServiceToken, nil, ""), ht.Status(http.StatusMethodNotAllowed)),
		ht.Row("store down", post(ht.ServiceToken, `{"specversion":"1.0","id":"e5","source":"s","type":"io.geotrack.location.updated","data":[{"device":"broken","ts":"2026-11-29T12:00:00Z","lat":1,"lon":2}]}`),
			ht.Status(http.StatusInternalServerError)),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return post(token, updated) })...)
	signer := auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	// What a connector delivers: no Authorization header, the relay's signature.
	signed := updated[:len(updated)-1] + `,"geotracksig":"` + signer.Sign("acme", "e1", "io.geotrack.location.updated", "urn:geotrack:ingest") + `"}`
	cases = append(cases,
		ht.Row("signed event without a token", post("", signed), ht.Status(http.StatusOK), ht.JSON("fixes", 2)),
		ht.Row("unsigned event without a token", post("", updated), ht.Status(http.StatusUnauthorized), ht.Error("event signature")))
	ht.Run(t, geofencedetect.New(d, ht.Verifier{}, signer), cases)

	// Four requests reached the detector (service, admin, store down, signed), with
	// the token's tenant, the decoded fixes and the event's traceparent.
	if len(d.calls) != 4 || d.calls[3].tenant != "acme" {
		t.Fatalf("%d detector calls, want 4: %+v", len(d.calls), d.calls)
	}
	c := d.calls[0]
	if c.tenant != ht.Tenant || len(c.fixes) != 2 || c.fixes[1].Device != "d2" || c.fixes[1].Acc == nil || *c.fixes[1].Acc != 7 ||
		c.trace != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Fatalf("first call %+v", c)
	}
}
