package alerts_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/functions/alerts"
	"github.com/geotrack/geotrack/internal/alert"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

type fakeLog struct {
	queries  []alert.Query
	replayed []string
	imported []string
}

func (f *fakeLog) ListAlerts(_ context.Context, tenant string, q alert.Query) (alert.Page, error) {
	f.queries = append(f.queries, q)
	switch {
	case q.Device == "broken":
		return alert.Page{}, errors.New("redis down")
	case q.Cursor == "bad":
		return alert.Page{}, alert.ErrBadCursor
	}
	return alert.Page{Alerts: []alert.Record{{ID: "al_1", Device: "d1", State: alert.StateDead}}, Next: "c"}, nil
}

func (f *fakeLog) Replay(_ context.Context, tenant, id string) error {
	switch id {
	case "al_pending":
		return alert.ErrPending
	case "al_edge":
		return alert.ErrFiredAtEdge
	case "al_1":
		f.replayed = append(f.replayed, tenant+"/"+id)
		return nil
	}
	return alert.ErrNotFound
}

func (f *fakeLog) ImportEdge(_ context.Context, tenant, node string, recs []alert.Record) (alert.Imported, error) {
	switch node {
	case "broken":
		return alert.Imported{}, errors.New("redis down")
	case "sink-down":
		return alert.Imported{}, alert.ErrOutboxFull
	}
	f.imported = append(f.imported, tenant+"/"+node+"/"+recs[0].ID)
	return alert.Imported{Added: len(recs)}, nil
}

func TestHandle(t *testing.T) {
	log := &fakeLog{}
	fn := alerts.New(log, ht.Verifier{})
	get := func(q, tok string) handler.Request { return ht.Request("GET", q, tok, nil, "") }
	post := func(q, tok string) handler.Request { return ht.Request("POST", q, tok, nil, "") }
	report := func(q, tok, body string) handler.Request { return ht.Request("POST", q, tok, nil, body) }
	cases := []ht.Case{
		ht.Row("list", get("device=d1&rule=r1&from=2026-11-29T00:00:00Z&limit=5&dead=true", ht.ViewerToken), ht.Status(http.StatusOK),
			ht.JSON("alerts.0.id", "al_1"), ht.JSON("next", "c")),
		ht.Row("bad from", get("from=soon", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("from")),
		ht.Row("to before from", get("from=2026-11-29T01:00:00Z&to=2026-11-29T00:00:00Z", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("to")),
		ht.Row("limit too big", get("limit=100000", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("bad dead", get("dead=yes", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("dead")),
		ht.Row("bad cursor", get("cursor=bad", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("cursor")),
		ht.Row("store down", get("device=broken", ht.AdminToken), ht.Status(http.StatusInternalServerError)),
		ht.Row("device may not read", get("", ht.DeviceToken), ht.Status(http.StatusForbidden)),
		ht.Row("service may not read", get("", ht.ServiceToken), ht.Status(http.StatusForbidden)),
		ht.Row("replay", post("replay=al_1", ht.AdminToken), ht.Status(http.StatusAccepted), ht.JSON("replayed", "al_1")),
		ht.Row("replay pending", post("replay=al_pending", ht.AdminToken), ht.Status(http.StatusConflict), ht.Error("replay")),
		ht.Row("replay unknown", post("replay=al_x", ht.AdminToken), ht.Status(http.StatusNotFound), ht.Error("replay")),
		ht.Row("replay without id", post("", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("replay")),
		ht.Row("viewer may not replay", post("replay=al_1", ht.ViewerToken), ht.Status(http.StatusForbidden)),
		ht.Row("replay of an edge alert", post("replay=al_edge", ht.AdminToken), ht.Status(http.StatusConflict), ht.Error("replay")),

		ht.Row("edge report", report("node=site-1", ht.ServiceToken, edgeReport(ht.Tenant)), ht.Status(http.StatusOK), ht.JSON("added", 1)),
		ht.Row("edge report of another tenant's alert", report("node=site-1", ht.ServiceToken, edgeReport("globex")),
			ht.Status(http.StatusBadRequest), ht.Error("alerts[0].event.tenant")),
		ht.Row("edge report without records", report("node=site-1", ht.ServiceToken, `{"alerts":[]}`), ht.Status(http.StatusBadRequest), ht.Error("alerts")),
		ht.Row("edge report bad node", report("node=site%201", ht.ServiceToken, edgeReport(ht.Tenant)), ht.Status(http.StatusBadRequest), ht.Error("node")),
		ht.Row("edge report empty node", report("node=", ht.ServiceToken, edgeReport(ht.Tenant)), ht.Status(http.StatusBadRequest), ht.Error("node")),
		ht.Row("edge report store down", report("node=broken", ht.ServiceToken, edgeReport(ht.Tenant)), ht.Status(http.StatusInternalServerError)),
		ht.Row("edge report with the event outbox full", report("node=sink-down", ht.ServiceToken, edgeReport(ht.Tenant)),
			ht.Status(http.StatusServiceUnavailable), ht.BodyContains("event sink")),
		ht.Row("admin may not report edge alerts", report("node=site-1", ht.AdminToken, edgeReport(ht.Tenant)), ht.Status(http.StatusForbidden)),
		ht.Row("viewer may not report edge alerts", report("node=site-1", ht.ViewerToken, edgeReport(ht.Tenant)), ht.Status(http.StatusForbidden)),
		ht.Row("device may not report edge alerts", report("node=site-1", ht.DeviceToken, edgeReport(ht.Tenant)), ht.Status(http.StatusForbidden)),
	}
	cases = append(cases, ht.AuthCases(func(tok string) handler.Request { return report("node=site-1", tok, edgeReport(ht.Tenant)) })...)
	cases = append(cases, ht.AuthCases(func(tok string) handler.Request { return get("", tok) })...)
	ht.Run(t, fn, cases)

	want := alert.Query{Device: "d1", Rule: "r1", From: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), Limit: 5, Dead: true}
	if got := log.queries[0]; got.Device != want.Device || got.Rule != want.Rule || !got.From.Equal(want.From) || got.Limit != 5 || !got.Dead {
		t.Errorf("first query %+v, want %+v", got, want)
	}
	if len(log.replayed) != 1 || log.replayed[0] != ht.Tenant+"/al_1" {
		t.Errorf("replayed %v", log.replayed)
	}
	if len(log.imported) != 1 || log.imported[0] != ht.Tenant+"/site-1/al_e1" {
		t.Errorf("imported %v, want only the service token's report, into its tenant", log.imported)
	}
}

// edgeReport is a report of one delivered alert of tenant.
func edgeReport(tenant string) string {
	return `{"alerts":[{"id":"al_e1","rule":"ru_1","name":"depot","kind":"event","device":"van-1","fired_at":"2026-11-29T10:00:00Z",
 "state":"delivered","attempts":1,"last_status":204,"event":{"id":"al_e1","type":"io.geotrack.alert.fired","tenant":"` + tenant + `"}}]}`
}

// TestEdgeAlertEventsTriggerNothing guards why the cloud may publish an
// edge node's io.geotrack.alert.fired (POST ?node=): no function of the
// pack subscribes to it and no rule can be on it, so it fires and
// delivers nothing a second time.
func TestEdgeAlertEventsTriggerNothing(t *testing.T) {
	for _, s := range functions.Pack() {
		if slices.Contains(s.Subscribes, alert.TypeAlertFired) {
			t.Errorf("%s subscribes to %s: an edge alert the cloud publishes would trigger it", s.Name, alert.TypeAlertFired)
		}
	}
	if slices.Contains(alert.EventTypes, alert.TypeAlertFired) {
		t.Errorf("a rule may be on %s: an edge alert the cloud publishes would fire it again", alert.TypeAlertFired)
	}
}
