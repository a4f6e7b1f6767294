package preferences_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/preferences"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	prefs "github.com/geotrack/geotrack/internal/preferences"
)

type put struct{ tenant, device, body string }

// fakeService keeps documents in memory and validates as the real one
// does; tenant "down" is not used (the fake verifier has one tenant), so a
// store failure is device "broken".
type fakeService struct {
	set  prefs.Set
	puts []put
}

func (f *fakeService) Load(_ context.Context, tenant string) (prefs.Set, error) {
	return f.set, nil
}

func (f *fakeService) Put(_ context.Context, tenant, device string, body []byte) (prefs.Document, int64, error) {
	if device == "broken" {
		return prefs.Document{}, 0, errors.New("save preferences: redis: connection refused")
	}
	doc, err := prefs.Decode(body)
	if err != nil {
		return prefs.Document{}, 0, err
	}
	f.puts = append(f.puts, put{tenant, device, string(body)})
	f.set.Version++
	if device == "" {
		f.set.Tenant = doc
	} else {
		f.set.Devices[device] = doc
	}
	return doc, f.set.Version, nil
}

func req(method, query, token, body string, header http.Header) handler.Request {
	return ht.Request(method, query, token, header, body)
}

func TestHandle(t *testing.T) {
	f := &fakeService{set: prefs.Set{Devices: map[string]prefs.Document{}}}
	cases := []ht.Case{
		ht.Row("admin sets tenant defaults", req(http.MethodPut, "", ht.AdminToken, `{"tracking":"on","report":{"interval_s":60}}`, nil),
			ht.Status(http.StatusOK), ht.JSON("version", 1), ht.JSON("preferences.report.interval_s", 60), ht.Header("ETag", `"1"`)),
		ht.Row("admin pauses d1", req(http.MethodPut, "device=d1", ht.AdminToken, `{"tracking":"paused"}`, nil),
			ht.Status(http.StatusOK), ht.JSON("device", "d1"), ht.JSON("version", 2)),
		ht.Row("viewer reads tenant", req(http.MethodGet, "", ht.ViewerToken, "", nil), ht.Status(http.StatusOK), ht.JSON("preferences.tracking", "on")),
		ht.Row("device reads its own", req(http.MethodGet, "device=d1", ht.DeviceToken, "", nil), ht.Status(http.StatusOK), ht.JSON("preferences.tracking", "paused")),
		ht.Row("device may not read another", req(http.MethodGet, "device=d2", ht.DeviceToken, "", nil), ht.Status(http.StatusForbidden)),
		ht.Row("device may not read all", req(http.MethodGet, "device=d1&all=true", ht.DeviceToken, "", nil), ht.Status(http.StatusForbidden)),
		ht.Row("service syncs all", req(http.MethodGet, "all=true", ht.ServiceToken, "", nil), ht.Status(http.StatusOK), ht.Header("ETag", `"2"`),
			ht.JSON("version", 2), ht.JSON("devices.d1.tracking", "paused"), ht.JSON("tenant.tracking", "on")),
		ht.Row("unchanged since the edge's copy", req(http.MethodGet, "all=true", ht.ServiceToken, "", http.Header{"If-None-Match": {`"2"`}}), ht.Status(http.StatusNotModified)),
		ht.Row("viewer may not write", req(http.MethodPut, "", ht.ViewerToken, `{}`, nil), ht.Status(http.StatusForbidden)),
		ht.Row("service may not write", req(http.MethodPut, "", ht.ServiceToken, `{}`, nil), ht.Status(http.StatusForbidden)),
		ht.Row("device may not write its own", req(http.MethodPut, "device=d1", ht.DeviceToken, `{}`, nil), ht.Status(http.StatusForbidden)),
		ht.Row("unknown key", req(http.MethodPut, "", ht.AdminToken, `{"trackin":"on"}`, nil), ht.Status(http.StatusBadRequest), ht.Error("trackin")),
		ht.Row("bad zone", req(http.MethodPut, "device=d1", ht.AdminToken, `{"privacy_zones":[{"name":"h","lat":100,"lon":1,"radius_m":5}]}`, nil),
			ht.Status(http.StatusBadRequest), ht.Error("privacy_zones[0].lat")),
		ht.Row("bad device id", req(http.MethodGet, "device=a%20b", ht.ViewerToken, "", nil), ht.Status(http.StatusBadRequest), ht.Error("device")),
		ht.Row("bad all", req(http.MethodGet, "all=yes", ht.ViewerToken, "", nil), ht.Status(http.StatusBadRequest), ht.Error("all")),
		ht.Row("store down", req(http.MethodPut, "device=broken", ht.AdminToken, `{}`, nil), ht.Status(http.StatusInternalServerError)),
		ht.Row("POST refused", req(http.MethodPost, "", ht.AdminToken, `{}`, nil), ht.Status(http.StatusMethodNotAllowed)),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return req(http.MethodGet, "", token, "", nil) })...)
	ht.Run(t, preferences.New(f, ht.Verifier{}), cases)
	if len(f.puts) != 2 || f.puts[0].tenant != ht.Tenant || f.puts[1].device != "d1" {
		t.Errorf("stored %+v, want the two valid writes only", f.puts)
	}
}
