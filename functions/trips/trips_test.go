package trips_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/trips"
	"github.com/geotrack/geotrack/internal/fix"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/movement"
)

type call struct {
	tenant, device string
	from, to       time.Time
}

// fakeReports answers device d1 with one trip; "broken" is a store that is
// down; an invalid device id is refused as movement.Reports refuses it.
type fakeReports struct{ calls []call }

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

func (f *fakeReports) Build(_ context.Context, tenant, device string, from, to time.Time) (movement.Report, error) {
	f.calls = append(f.calls, call{tenant, device, from, to})
	switch device {
	case "broken":
		return movement.Report{}, errors.New("read history: redis: connection refused")
	case "":
		return movement.Report{}, &fix.FieldError{Field: "device", Msg: "required"}
	}
	return movement.Report{Device: device, Trips: []movement.TripJSON{{Device: device, Trip: "d1-1", Start: t0, End: t0.Add(10 * time.Minute), DistanceM: 5000}},
		Stops: []movement.StopJSON{}, Summary: movement.SummaryJSON{DistanceM: 5000, Trips: 1}, Fixes: 600}, nil
}

func get(query, token string) handler.Request {
	return ht.Request(http.MethodGet, query, token, nil, "")
}

func TestHandle(t *testing.T) {
	cases := []ht.Case{
		ht.Row("viewer reads a report", get("device=d1&from=2026-11-29T00:00:00Z", ht.ViewerToken), ht.Status(http.StatusOK),
			ht.JSON("device", "d1"), ht.JSON("trips.0.trip", "d1-1"), ht.JSON("trips.0.distance_m", 5000),
			ht.JSON("trips.0.start", "2026-11-29T08:00:00Z"), ht.JSON("summary.trips", 1), ht.JSONLen("stops", 0), ht.JSON("fixes", 600)),
		ht.Row("admin reads", get("device=d1", ht.AdminToken), ht.Status(http.StatusOK), ht.JSON("device", "d1")),
		ht.Row("missing device", get("", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("device")),
		ht.Row("from not a time", get("device=d1&from=yesterday", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("from")),
		ht.Row("to not a time", get("device=d1&to=later", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("to")),
		ht.Row("to before from", get("device=d1&from=2026-11-29T10:00:00Z&to=2026-11-29T09:00:00Z", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("to")),
		ht.Row("store down", get("device=broken", ht.ViewerToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
		ht.Row("device token may not read", get("device=d1", ht.DeviceToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("service token may not read", get("device=d1", ht.ServiceToken), ht.Status(http.StatusForbidden)),
		ht.Row("POST refused", ht.Request(http.MethodPost, "device=d1", ht.ViewerToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return get("device=d1", token) })...)
	f := &fakeReports{}
	ht.Run(t, trips.New(f, ht.Verifier{}), cases)
	from := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	want := []call{{ht.Tenant, "d1", from, time.Time{}}, {ht.Tenant, "d1", time.Time{}, time.Time{}}, {ht.Tenant, "", time.Time{}, time.Time{}}, {ht.Tenant, "broken", time.Time{}, time.Time{}}}
	if len(f.calls) != len(want) {
		t.Fatalf("reports built %d times, want %d: %+v", len(f.calls), len(want), f.calls)
	}
	for i := range want {
		if g, w := f.calls[i], want[i]; g.tenant != w.tenant || g.device != w.device || !g.from.Equal(w.from) || !g.to.Equal(w.to) {
			t.Errorf("call %d = %+v, want %+v", i, g, w)
		}
	}
}
