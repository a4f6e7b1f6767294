package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	eventsfn "github.com/geotrack/geotrack/functions/events"
	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/fix"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

type readCall struct {
	tenant string
	q      eventlog.Query
}

// fakeLog serves one event; cursor "bad" is refused as the store refuses
// one; device "broken" is a store that is down.
type fakeLog struct{ calls []readCall }

func (l *fakeLog) ReadEvents(_ context.Context, tenant string, q eventlog.Query) (eventlog.Page, error) {
	l.calls = append(l.calls, readCall{tenant, q})
	switch {
	case q.Device == "broken":
		return eventlog.Page{}, errors.New("read event log: redis: connection refused")
	case q.Cursor == "bad":
		return eventlog.Page{}, &fix.FieldError{Field: "cursor", Msg: "not a cursor this function returned"}
	}
	return eventlog.Page{Events: []json.RawMessage{json.RawMessage(`{"specversion":"1.0","id":"x","type":"io.geotrack.geofence.entered","subject":"d1"}`)}, Next: "1-0"}, nil
}

func get(query, token string) handler.Request {
	return ht.Request(http.MethodGet, query, token, nil, "")
}

func TestHandle(t *testing.T) {
	l := &fakeLog{}
	cases := []ht.Case{
		ht.Row("viewer reads", get("device=d1&type=io.geotrack.geofence.entered&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z&limit=5&cursor=1-0", ht.ViewerToken),
			ht.Status(http.StatusOK), ht.JSONLen("events", 1), ht.JSON("events.0.id", "x"), ht.JSON("next", "1-0")),
		ht.Row("admin reads with defaults", get("", ht.AdminToken), ht.Status(http.StatusOK)),
		ht.Row("device refused", get("", ht.DeviceToken), ht.Status(http.StatusForbidden)),
		ht.Row("service refused", get("", ht.ServiceToken), ht.Status(http.StatusForbidden)),
		ht.Row("bad device", get("device=a%20b", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("device")),
		ht.Row("bad from", get("from=soon", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("from")),
		ht.Row("bad to", get("to=later", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("to")),
		ht.Row("to before from", get("from=2026-11-29T00:00:00Z&to=2026-11-28T00:00:00Z", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("to")),
		ht.Row("limit over the maximum", get("limit=1001", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("bad cursor", get("cursor=bad", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("cursor")),
		ht.Row("store down", get("device=broken", ht.ViewerToken), ht.Status(http.StatusInternalServerError)),
		ht.Row("POST refused", ht.Request(http.MethodPost, "", ht.ViewerToken, nil, ""), ht.Status(http.StatusMethodNotAllowed)),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return get("", token) })...)
	ht.Run(t, eventsfn.New(l, ht.Verifier{}), cases)

	if len(l.calls) != 4 {
		t.Fatalf("%d reads, want 4 (two good, bad cursor, store down)", len(l.calls))
	}
	want := eventlog.Query{Device: "d1", Type: "io.geotrack.geofence.entered", From: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC),
		To: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Cursor: "1-0", Limit: 5}
	if g := l.calls[0]; g.tenant != ht.Tenant || g.q.Device != want.Device || g.q.Type != want.Type || !g.q.From.Equal(want.From) ||
		!g.q.To.Equal(want.To) || g.q.Cursor != want.Cursor || g.q.Limit != want.Limit {
		t.Fatalf("first read %+v, want %+v", g, want)
	}
	if l.calls[1].q.Limit != eventlog.DefaultLimit {
		t.Fatalf("default limit %d", l.calls[1].q.Limit)
	}
}
