package audit_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	auditfn "github.com/geotrack/geotrack/functions/audit"
	"github.com/geotrack/geotrack/internal/audit"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

type readCall struct {
	tenant   string
	from, to time.Time
	cursor   string
	limit    int
}

type fakeLog struct {
	calls []readCall
	down  bool
}

func (l *fakeLog) ReadAudit(_ context.Context, tenant string, from, to time.Time, cursor string, limit int) ([]audit.Entry, string, error) {
	if l.down {
		return nil, "", errors.New("read audit log: redis: connection refused")
	}
	l.calls = append(l.calls, readCall{tenant, from, to, cursor, limit})
	if cursor == "" {
		return []audit.Entry{{ID: "1-0", Tenant: tenant, Action: audit.ActionHistoryRead}}, "1-0", nil
	}
	return nil, "", nil
}

func get(query, token string) handler.Request {
	return ht.Request(http.MethodGet, query, token, nil, "")
}

func TestAudit(t *testing.T) {
	log := &fakeLog{}
	f := auditfn.New(log, ht.Verifier{})
	cases := []ht.Case{
		ht.Row("first page", get("from=2026-11-01T00:00:00Z&limit=1", ht.AdminToken), ht.Status(http.StatusOK),
			ht.JSONLen("entries", 1), ht.JSON("entries.0.action", audit.ActionHistoryRead), ht.JSON("next", "1-0"), ht.Header("X-Next-Cursor", "1-0")),
		ht.Row("last page", get("cursor=1-0", ht.AdminToken), ht.Status(http.StatusOK), ht.JSONLen("entries", 0), ht.JSON("next", ""), ht.NoHeader("X-Next-Cursor")),
		ht.Row("viewer refused", get("", ht.ViewerToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("device refused", get("", ht.DeviceToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("from not a time", get("from=yesterday", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("from")),
		ht.Row("to before from", get("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("to")),
		ht.Row("limit too big", get("limit=1001", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("forged cursor", get("cursor=abc", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("cursor")),
		ht.Row("POST refused", ht.Request(http.MethodPost, "", ht.AdminToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return get("", token) })...)
	ht.Run(t, f, cases)
	want := []readCall{
		{ht.Tenant, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Time{}, "", 1},
		{ht.Tenant, time.Time{}, time.Time{}, "1-0", auditfn.DefaultLimit},
	}
	if len(log.calls) != len(want) {
		t.Fatalf("%d reads, want %d: %+v", len(log.calls), len(want), log.calls)
	}
	for i, w := range want {
		g := log.calls[i]
		if g.tenant != w.tenant || !g.from.Equal(w.from) || !g.to.Equal(w.to) || g.cursor != w.cursor || g.limit != w.limit {
			t.Fatalf("read %d = %+v, want %+v", i, g, w)
		}
	}
	log.down = true
	ht.Run(t, f, []ht.Case{ht.Row("store down", get("", ht.AdminToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused"))})
}
