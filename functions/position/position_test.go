package position_test

import (
	"context"
	"errors"
	"net/http"
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
	}}
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
