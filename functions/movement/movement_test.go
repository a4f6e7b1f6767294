package movement_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/movement"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	mv "github.com/geotrack/geotrack/internal/movement"
)

type observed struct {
	tenant string
	fixes  []fix.Fix
}

// fakeLive records what reached it; device "broken" is a Redis that is down.
type fakeLive struct{ calls []observed }

func (f *fakeLive) Observe(_ context.Context, tenant string, fixes []fix.Fix) (mv.Result, error) {
	f.calls = append(f.calls, observed{tenant, fixes})
	if fixes[0].Device == "broken" {
		return mv.Result{}, errors.New("advance movement: redis: connection refused")
	}
	return mv.Result{Devices: 1, Fixes: len(fixes), Events: 2}, nil
}

const structured = "application/cloudevents+json"

func event(typ, tenant, data string) string {
	ext := ""
	if tenant != "" {
		ext = `,"tenant":"` + tenant + `"`
	}
	return `{"specversion":"1.0","id":"e1","source":"urn:geotrack:ingest","type":"` + typ + `","subject":"d1"` + ext +
		`,"datacontenttype":"application/json","data":` + data + `}`
}

var signer = auth.NewEventSigner([]byte("event-key-0123456789abcdef"))

// signed is event with the relay's signature (geotracksig) for tenant.
func signed(typ, tenant, data string) string {
	ev := event(typ, tenant, data)
	return ev[:len(ev)-1] + `,"geotracksig":"` + signer.Sign(tenant, "e1", typ, "urn:geotrack:ingest") + `"}`
}

func post(token, body string) handler.Request {
	return ht.Request(http.MethodPost, "", token, http.Header{"Content-Type": {structured}}, body)
}

const twoFixes = `[{"device":"d1","ts":"2026-11-29T08:00:00Z","lat":47.1,"lon":8.5,"speed":12},{"ts":"2026-11-29T08:00:01Z","lat":47.1001,"lon":8.5}]`

func TestHandle(t *testing.T) {
	cases := []ht.Case{
		ht.Row("service token delivers", post(ht.ServiceToken, event("io.geotrack.location.updated", ht.Tenant, twoFixes)), ht.Status(http.StatusOK),
			ht.JSON("fixes", 2), ht.JSON("events", 2)),
		ht.Row("admin replays", post(ht.AdminToken, event("io.geotrack.location.updated", "", twoFixes)), ht.Status(http.StatusOK)),
		ht.Row("viewer may not", post(ht.ViewerToken, event("io.geotrack.location.updated", ht.Tenant, twoFixes)), ht.Status(http.StatusForbidden)),
		ht.Row("device may not", post(ht.DeviceToken, event("io.geotrack.location.updated", ht.Tenant, twoFixes)), ht.Status(http.StatusForbidden)),
		ht.Row("another tenant's event", post(ht.ServiceToken, event("io.geotrack.location.updated", "other", twoFixes)), ht.Status(http.StatusForbidden)),
		ht.Row("another event type", post(ht.ServiceToken, event("io.geotrack.location.reported", ht.Tenant, twoFixes)), ht.Status(http.StatusBadRequest), ht.Error("type")),
		ht.Row("latitude out of range", post(ht.ServiceToken, event("io.geotrack.location.updated", ht.Tenant, `[{"device":"d1","ts":"2026-11-29T08:00:00Z","lat":91,"lon":8}]`)),
			ht.Status(http.StatusBadRequest), ht.Error("lat")),
		ht.Row("no time", post(ht.ServiceToken, event("io.geotrack.location.updated", ht.Tenant, `[{"device":"d1","lat":1,"lon":8}]`)),
			ht.Status(http.StatusBadRequest), ht.Error("ts")),
		ht.Row("data not fixes", post(ht.ServiceToken, event("io.geotrack.location.updated", ht.Tenant, `"hello"`)), ht.Status(http.StatusBadRequest)),
		ht.Row("empty array", post(ht.ServiceToken, event("io.geotrack.location.updated", ht.Tenant, `[]`)), ht.Status(http.StatusBadRequest)),
		ht.Row("not JSON", ht.Request(http.MethodPost, "", ht.ServiceToken, http.Header{"Content-Type": {structured}}, "{"), ht.Status(http.StatusBadRequest)),
		ht.Row("redis down", post(ht.ServiceToken, event("io.geotrack.location.updated", ht.Tenant, `[{"device":"broken","ts":"2026-11-29T08:00:00Z","lat":1,"lon":8}]`)),
			ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
		// What a connector delivers: no Authorization header, a signed event.
		ht.Row("signed event without a token", post("", signed("io.geotrack.location.updated", ht.Tenant, twoFixes)), ht.Status(http.StatusOK),
			ht.JSON("fixes", 2)),
		ht.Row("signed for another tenant", post("", strings.Replace(signed("io.geotrack.location.updated", "other", twoFixes), `"tenant":"other"`, `"tenant":"`+ht.Tenant+`"`, 1)),
			ht.Status(http.StatusUnauthorized), ht.Error("invalid event signature")),
		ht.Row("unsigned event without a token", post("", event("io.geotrack.location.updated", ht.Tenant, twoFixes)),
			ht.Status(http.StatusUnauthorized), ht.Error("missing bearer token or event signature")),
		ht.Row("GET refused", ht.Request(http.MethodGet, "", ht.ServiceToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request {
		return post(token, event("io.geotrack.location.updated", ht.Tenant, twoFixes))
	})...)
	f := &fakeLive{}
	ht.Run(t, movement.New(f, ht.Verifier{}, signer, nil), cases)
	// Only the accepted deliveries reached the service, with the token's
	// tenant and the subject as the device of fixes that name none.
	if len(f.calls) != 4 {
		t.Fatalf("%d calls reached the service, want 4: %+v", len(f.calls), f.calls)
	}
	for _, c := range append(f.calls[:2:2], f.calls[3]) {
		if c.tenant != ht.Tenant || len(c.fixes) != 2 || c.fixes[1].Device != "d1" || *c.fixes[0].Speed != 12 {
			t.Errorf("call %+v", c)
		}
	}
}
