package nearby_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/nearby"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/locate"
)

// search is one call the fake searcher received.
type search struct {
	tenant           string
	lat, lon, radius float64
	limit            int
}

// fakeSearcher answers every search with hits and records it; fail makes
// it a store that is down.
type fakeSearcher struct {
	hits  []locate.Hit
	fail  bool
	calls []search
}

func (s *fakeSearcher) Nearby(_ context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]locate.Hit, error) {
	s.calls = append(s.calls, search{tenant, lat, lon, radiusM, limit})
	if s.fail {
		return nil, errors.New("redis: connection refused")
	}
	return s.hits, nil
}

func TestHandle(t *testing.T) {
	hits := []locate.Hit{
		{JSON: []byte(`{"device":"a","ts":"2026-11-29T12:00:00.000Z","lat":51.5,"lon":-0.12}`), DistanceM: 12.345},
		{JSON: []byte(" {\"device\":\"b\",\"ts\":\"2026-11-29T12:00:01.000Z\",\"lat\":51.501,\"lon\":-0.12}\n"), DistanceM: 111.2},
	}
	get := func(query, token string) handler.Request {
		return ht.Request(http.MethodGet, query, token, nil, "")
	}
	const valid = "lat=51.5&lon=-0.12&radius=500"
	cases := []ht.Case{
		ht.Row("devices nearest first with distance", get(valid+"&limit=2", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/json"),
			ht.JSONLen("devices", 2),
			ht.JSON("devices.0.device", "a"), ht.JSON("devices.0.distance_m", 12.35), ht.JSON("devices.0.lat", 51.5),
			ht.JSON("devices.1.device", "b"), ht.JSON("devices.1.distance_m", 111.2)),
		ht.Row("admin may search", get(valid, ht.AdminToken), ht.Status(http.StatusOK), ht.JSONLen("devices", 2)),
		ht.Row("lat missing", get("lon=-0.12&radius=500", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("lat")),
		ht.Row("lat out of range", get("lat=91&lon=0&radius=500", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("lat")),
		ht.Row("lon not a number", get("lat=1&lon=east&radius=500", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("lon")),
		ht.Row("radius over the maximum", get("lat=1&lon=1&radius=100001", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("radius")),
		ht.Row("limit over the maximum", get(valid+"&limit=1001", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("limit zero", get(valid+"&limit=0", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("device token may not read", get(valid, ht.DeviceToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("DELETE refused", ht.Request(http.MethodDelete, valid, ht.ViewerToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return get(valid, token) })...)
	s := &fakeSearcher{hits: hits}
	ht.Run(t, nearby.New(s, ht.Verifier{}), cases)

	// What reached the searcher: the caller's tenant, the parsed query, the
	// default limit when none is given; nothing for refused requests.
	want := []search{
		{ht.Tenant, 51.5, -0.12, 500, 2},
		{ht.Tenant, 51.5, -0.12, 500, nearby.DefaultLimit},
	}
	if len(s.calls) != len(want) {
		t.Fatalf("searcher called %d times (%v), want %d", len(s.calls), s.calls, len(want))
	}
	for i, w := range want {
		if s.calls[i] != w {
			t.Errorf("search %d = %+v, want %+v", i, s.calls[i], w)
		}
	}
}

func TestHandleStoreDown(t *testing.T) {
	fn := nearby.New(&fakeSearcher{fail: true}, ht.Verifier{})
	resp, err := fn.Handle(ht.Request(http.MethodGet, "lat=1&lon=1&radius=10", ht.ViewerToken, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	ht.Check(t, resp, ht.Status(http.StatusInternalServerError), ht.Error("connection refused"))
}

func TestHandleNoneFound(t *testing.T) {
	fn := nearby.New(&fakeSearcher{}, ht.Verifier{})
	resp, err := fn.Handle(ht.Request(http.MethodGet, "lat=1&lon=1&radius=10", ht.ViewerToken, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	ht.Check(t, resp, ht.Status(http.StatusOK), ht.Body("{\"devices\":[]}\n"))
}
