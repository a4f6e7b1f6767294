package position_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/position"
	"github.com/geotrack/geotrack/internal/fix"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

// fakeReader holds the latest fix per tenant and device; device "broken"
// fails as a store that is down.
type fakeReader struct {
	latest map[string]fix.Fix // tenant + "/" + device
	asked  *fleetQuery        // what the last Fleet call was given
}

type fleetQuery struct {
	tenant string
	since  time.Time
	limit  int
}

// Fleet answers with the tenant's fixes; tenant "broken-tenant" never
// occurs, so a limit of 13 stands for a store that is down.
func (r fakeReader) Fleet(_ context.Context, tenant string, since time.Time, limit int) ([]json.RawMessage, bool, error) {
	*r.asked = fleetQuery{tenant, since, limit}
	if limit == 13 {
		return nil, false, errors.New("redis: connection refused")
	}
	var out []json.RawMessage
	for key, f := range r.latest {
		if strings.HasPrefix(key, tenant+"/") && f.TS.After(since) {
			js, _ := json.Marshal(f)
			out = append(out, js)
		}
	}
	return out, len(out) > limit, nil
}

func (r fakeReader) Latest(_ context.Context, tenant, device string) (fix.Fix, bool, error) {
	if device == "broken" {
		return fix.Fix{}, false, errors.New("redis: connection refused")
	}
	f, ok := r.latest[tenant+"/"+device]
	return f, ok, nil
}

func TestHandle(t *testing.T) {
	ts := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	reader := fakeReader{latest: map[string]fix.Fix{
		ht.Tenant + "/d1": {Device: "d1", TS: ts, Lat: 51.5, Lon: -0.12, Speed: fix.Float(3.5)},
		"other-tenant/d2": {Device: "d2", TS: ts, Lat: 1, Lon: 2},
	}, asked: &fleetQuery{}}
	fn := position.New(reader, ht.Verifier{})
	get := func(query, token string) handler.Request {
		return ht.Request(http.MethodGet, query, token, nil, "")
	}
	cases := []ht.Case{
		ht.Row("viewer reads latest", get("device=d1", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/json"),
			ht.JSON("device", "d1"), ht.JSON("ts", "2026-11-29T12:00:00.000Z"), ht.JSON("lat", 51.5), ht.JSON("lon", -0.12), ht.JSON("speed", 3.5)),
		ht.Row("admin reads latest", get("device=d1", ht.AdminToken), ht.Status(http.StatusOK), ht.JSON("device", "d1")),
		ht.Row("HEAD is a read", ht.Request(http.MethodHead, "device=d1", ht.ViewerToken, nil, ""), ht.Status(http.StatusOK)),
		ht.Row("unknown device", get("device=nope", ht.ViewerToken), ht.Status(http.StatusNotFound), ht.Error(`device "nope" has no position`)),
		ht.Row("another tenant's device is not found", get("device=d2", ht.ViewerToken), ht.Status(http.StatusNotFound)),
		ht.Row("store down", get("device=broken", ht.ViewerToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
		ht.Row("device token may not read", get("device=d1", ht.DeviceToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("service token may not read", get("device=d1", ht.ServiceToken), ht.Status(http.StatusForbidden)),
		ht.Row("POST refused", ht.Request(http.MethodPost, "device=d1", ht.ViewerToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
		ht.Row("unparseable query", get("device=%zz", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("query")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return get("device=d1", token) })...)
	ht.Run(t, fn, cases)
}

func TestFleet(t *testing.T) {
	ts := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	asked := &fleetQuery{}
	reader := fakeReader{latest: map[string]fix.Fix{
		ht.Tenant + "/d1": {Device: "d1", TS: ts, Lat: 51.5, Lon: -0.12},
		"other-tenant/d2": {Device: "d2", TS: ts, Lat: 1, Lon: 2},
	}, asked: asked}
	fn := position.New(reader, ht.Verifier{})
	get := func(query, token string) handler.Request {
		return ht.Request(http.MethodGet, query, token, nil, "")
	}
	cases := []struct {
		row  ht.Case
		want fleetQuery // what reached the reader (zero: nothing)
	}{
		{ht.Row("every device of the tenant", get("all=true", ht.ViewerToken), ht.Status(http.StatusOK),
			ht.JSON("fixes.0.device", "d1"), ht.JSON("more", false)),
			fleetQuery{tenant: ht.Tenant, limit: position.DefaultFleetLimit}},
		{ht.Row("since and limit", get("all=true&since=2026-11-29T11:00:00.5Z&limit=5", ht.AdminToken), ht.Status(http.StatusOK),
			ht.JSON("fixes.0.device", "d1")),
			fleetQuery{tenant: ht.Tenant, since: time.Date(2026, 11, 29, 11, 0, 0, 5e8, time.UTC), limit: 5}},
		{ht.Row("nothing newer is an empty list", get("all=true&since=2026-11-30T00:00:00Z", ht.ViewerToken), ht.Status(http.StatusOK),
			ht.JSON("fixes", []any{})),
			fleetQuery{tenant: ht.Tenant, since: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), limit: position.DefaultFleetLimit}},
		{ht.Row("all must be true", get("all=1", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("all: ")), fleetQuery{}},
		{ht.Row("not with device", get("all=true&device=d1", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("device: ")), fleetQuery{}},
		{ht.Row("bad since", get("all=true&since=yesterday", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("since: ")), fleetQuery{}},
		{ht.Row("limit too large", get("all=true&limit=100001", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit: ")), fleetQuery{}},
		{ht.Row("limit zero", get("all=true&limit=0", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit: ")), fleetQuery{}},
		{ht.Row("device token may not list", get("all=true", ht.DeviceToken), ht.Status(http.StatusForbidden)), fleetQuery{}},
		{ht.Row("store down", get("all=true&limit=13", ht.ViewerToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
			fleetQuery{tenant: ht.Tenant, limit: 13}},
	}
	for _, tc := range cases {
		*asked = fleetQuery{}
		ht.Run(t, fn, []ht.Case{tc.row})
		if *asked != tc.want {
			t.Errorf("%s: reader got %+v, want %+v", tc.row.Name, *asked, tc.want)
		}
	}
	ht.Run(t, fn, ht.AuthCases(func(token string) handler.Request { return get("all=true", token) }))
}
