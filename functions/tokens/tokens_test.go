package tokens_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/tokens"
	"github.com/geotrack/geotrack/internal/guard"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

// fakeRevocations records writes; tenant "broken" stands for Redis down
// (every token of the fake verifier is of tenant acme, so failures are
// switched on by a field instead).
type fakeRevocations struct {
	revoked   map[string]time.Duration // jti → keep
	notBefore []time.Time
	tenants   []string
	down      bool
}

func (f *fakeRevocations) Revoke(_ context.Context, tenant, jti string, keep time.Duration, _ time.Time) error {
	if f.down {
		return errors.New("revoke token: redis: connection refused")
	}
	f.tenants = append(f.tenants, tenant)
	f.revoked[jti] = keep
	return nil
}

func (f *fakeRevocations) SetNotBefore(_ context.Context, tenant string, at time.Time, _ time.Duration) error {
	if f.down {
		return errors.New("set not_before: redis: connection refused")
	}
	f.tenants = append(f.tenants, tenant)
	f.notBefore = append(f.notBefore, at)
	return nil
}

func (f *fakeRevocations) Policy(_ context.Context, tenant string, _ time.Time) (guard.Policy, error) {
	if f.down {
		return guard.Policy{}, errors.New("load policies: redis: connection refused")
	}
	pol := guard.Policy{Revoked: map[string]time.Time{}}
	for jti := range f.revoked {
		pol.Revoked[jti] = time.Date(2026, 12, 29, 0, 0, 0, 0, time.UTC)
	}
	if n := len(f.notBefore); n > 0 {
		pol.NotBefore = f.notBefore[n-1]
	}
	return pol, nil
}

func post(query, token string) handler.Request {
	return ht.Request(http.MethodPost, query, token, nil, "")
}

func TestTokens(t *testing.T) {
	store := &fakeRevocations{revoked: map[string]time.Duration{}}
	f := tokens.New(store, ht.Verifier{}, tokens.Settings{Keep: 720 * time.Hour, EffectiveWithin: 2 * time.Second})
	cases := []ht.Case{
		ht.Row("revoke", post("revoke=jti-1", ht.AdminToken), ht.Status(http.StatusOK),
			ht.JSON("tenant", ht.Tenant), ht.JSON("revoked", "jti-1"), ht.JSON("effective_within_s", 2)),
		ht.Row("not before", post("not_before=2026-01-02T03:04:05Z", ht.AdminToken), ht.Status(http.StatusOK),
			ht.JSON("not_before", "2026-01-02T03:04:05Z")),
		ht.Row("list", ht.Request(http.MethodGet, "", ht.AdminToken, nil, ""), ht.Status(http.StatusOK),
			ht.JSONLen("revoked", 1), ht.JSON("revoked.0.jti", "jti-1"), ht.JSON("not_before", "2026-01-02T03:04:05Z")),
		ht.Row("viewer refused", post("revoke=jti-2", ht.ViewerToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("device refused", post("revoke=jti-2", ht.DeviceToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("service refused", ht.Request(http.MethodGet, "", ht.ServiceToken, nil, ""), ht.Status(http.StatusForbidden)),
		ht.Row("edge sync with a service token", ht.Request(http.MethodGet, "sync=true", ht.ServiceToken, nil, ""), ht.Status(http.StatusOK),
			ht.JSON("tenant", ht.Tenant), ht.JSONLen("revoked", 1), ht.JSON("revoked.0.jti", "jti-1")),
		ht.Row("sync by an admin", ht.Request(http.MethodGet, "sync=true", ht.AdminToken, nil, ""), ht.Status(http.StatusOK), ht.JSONLen("revoked", 1)),
		ht.Row("sync refused to a viewer", ht.Request(http.MethodGet, "sync=true", ht.ViewerToken, nil, ""), ht.Status(http.StatusForbidden), ht.Error("service or admin")),
		ht.Row("sync refused to a device", ht.Request(http.MethodGet, "sync=true", ht.DeviceToken, nil, ""), ht.Status(http.StatusForbidden)),
		ht.Row("service cannot revoke with sync", post("sync=true&revoke=jti-2", ht.ServiceToken), ht.Status(http.StatusForbidden)),
		ht.Row("neither", post("", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("revoke", "not_before")),
		ht.Row("both", post("revoke=a&not_before=2026-01-02T03:04:05Z", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("revoke", "not both")),
		ht.Row("empty jti", post("revoke=", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("revoke")),
		ht.Row("jti with a space", post("revoke=a%20b", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("revoke")),
		ht.Row("not_before not a time", post("not_before=yesterday", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("not_before", "RFC 3339")),
		ht.Row("not_before in the future", post("not_before=2999-01-01T00:00:00Z", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("not_before", "future")),
		ht.Row("bad query", post("revoke=%zz", ht.AdminToken), ht.Status(http.StatusBadRequest), ht.Error("query")),
		ht.Row("DELETE refused", ht.Request(http.MethodDelete, "revoke=a", ht.AdminToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return post("revoke=jti-3", token) })...)
	ht.Run(t, f, cases)

	// Only the admin's writes arrived, for the admin's tenant, kept for
	// the longest token lifetime.
	if len(store.revoked) != 1 || store.revoked["jti-1"] != 720*time.Hour {
		t.Fatalf("revoked %v, want only jti-1 kept 720h", store.revoked)
	}
	if len(store.notBefore) != 1 || !store.notBefore[0].Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("not_before writes %v", store.notBefore)
	}
	for _, tenant := range store.tenants {
		if tenant != ht.Tenant {
			t.Fatalf("a write for tenant %q", tenant)
		}
	}

	store.down = true
	ht.Run(t, f, []ht.Case{
		ht.Row("store down", post("revoke=jti-4", ht.AdminToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
	})
}
