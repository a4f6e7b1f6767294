package rules_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/rules"
	"github.com/geotrack/geotrack/internal/alert"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

// fakeRules keeps rules per tenant; tenant "broken" is a store that is down.
type fakeRules struct {
	byTenant map[string]map[string]alert.Rule
	puts     int
}

func newFake() *fakeRules {
	return &fakeRules{byTenant: map[string]map[string]alert.Rule{ht.Tenant: {
		"r_1": {ID: "r_1", Name: "depot", On: []string{alert.TypeGeofenceEntered}, Webhook: alert.Webhook{URL: "https://h.example.com/", Secret: "whsec_old"}},
	}}}
}

func (f *fakeRules) PutRule(_ context.Context, tenant string, r alert.Rule) error {
	if r.Name == "broken" {
		return errors.New("redis: connection refused")
	}
	if f.byTenant[tenant] == nil {
		f.byTenant[tenant] = map[string]alert.Rule{}
	}
	f.byTenant[tenant][r.ID] = r
	f.puts++
	return nil
}

func (f *fakeRules) Rule(_ context.Context, tenant, id string) (alert.Rule, error) {
	r, ok := f.byTenant[tenant][id]
	if !ok {
		return alert.Rule{}, alert.ErrNotFound
	}
	return r, nil
}

func (f *fakeRules) ListRules(_ context.Context, tenant string) ([]alert.Rule, error) {
	var out []alert.Rule
	for _, r := range f.byTenant[tenant] {
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeRules) DeleteRule(_ context.Context, tenant, id string) error {
	if _, ok := f.byTenant[tenant][id]; !ok {
		return alert.ErrNotFound
	}
	delete(f.byTenant[tenant], id)
	return nil
}

// noSecret: listings never show a webhook secret.
func noSecret(t testing.TB, resp handler.Response) {
	t.Helper()
	if strings.Contains(string(resp.Body), "whsec_") {
		t.Errorf("body shows a secret: %s", resp.Body)
	}
}

func req(method, query, token, body string) handler.Request {
	return ht.Request(method, query, token, http.Header{"Content-Type": {"application/json"}}, body)
}

const rule = `{"name":"fast","on":["io.geotrack.location.updated"],"when":{"speed_above":30},"webhook":{"url":"https://h.example.com/x"}}`

func TestHandle(t *testing.T) {
	store := newFake()
	fn := rules.New(store, ht.Verifier{}, alert.URLPolicy{})
	cases := []ht.Case{
		ht.Row("create", req("POST", "", ht.AdminToken, rule), ht.Status(http.StatusCreated), ht.JSON("rule.name", "fast"),
			ht.JSON("rule.when.speed_above", 30), ht.BodyContains(`"secret":"whsec_`)),
		ht.Row("list hides secrets", req("GET", "", ht.AdminToken, ""), ht.Status(http.StatusOK), ht.JSONLen("rules", 2), noSecret),
		ht.Row("get one", req("GET", "id=r_1", ht.AdminToken, ""), ht.Status(http.StatusOK), ht.JSON("name", "depot"), noSecret),
		ht.Row("get unknown", req("GET", "id=r_nope", ht.AdminToken, ""), ht.Status(http.StatusNotFound), ht.Error("id")),
		ht.Row("replace keeps secret", req("PUT", "id=r_1", ht.AdminToken, rule), ht.Status(http.StatusOK), ht.JSON("id", "r_1"), ht.JSON("name", "fast")),
		ht.Row("replace unknown", req("PUT", "id=r_nope", ht.AdminToken, rule), ht.Status(http.StatusNotFound)),
		ht.Row("bad rule", req("POST", "", ht.AdminToken, `{"name":"x","on":["io.geotrack.location.updated"],"webhook":{"url":"https://h.example.com/"}}`),
			ht.Status(http.StatusBadRequest), ht.Error("when")),
		ht.Row("private webhook", req("POST", "", ht.AdminToken, strings.Replace(rule, "h.example.com", "10.0.0.1", 1)), ht.Status(http.StatusBadRequest), ht.Error("webhook.url")),
		ht.Row("POST with id", req("POST", "id=r_1", ht.AdminToken, rule), ht.Status(http.StatusBadRequest), ht.Error("id")),
		ht.Row("DELETE without id", req("DELETE", "", ht.AdminToken, ""), ht.Status(http.StatusBadRequest), ht.Error("id")),
		ht.Row("viewer", req("GET", "", ht.ViewerToken, ""), ht.Status(http.StatusForbidden)),
		ht.Row("service", req("POST", "", ht.ServiceToken, rule), ht.Status(http.StatusForbidden)),
		ht.Row("device", req("POST", "", ht.DeviceToken, rule), ht.Status(http.StatusForbidden)),
		ht.Row("PATCH", req("PATCH", "", ht.AdminToken, rule), ht.Status(http.StatusMethodNotAllowed)),
		ht.Row("store down", req("POST", "", ht.AdminToken, strings.Replace(rule, `"fast"`, `"broken"`, 1)), ht.Status(http.StatusInternalServerError)),
		ht.Row("delete", req("DELETE", "id=r_1", ht.AdminToken, ""), ht.Status(http.StatusNoContent)),
	}
	cases = append(cases, ht.AuthCases(func(tok string) handler.Request { return req("GET", "", tok, "") })...)
	ht.Run(t, fn, cases)

	for _, r := range store.byTenant[ht.Tenant] {
		if r.Webhook.Secret == "" {
			t.Errorf("rule %s stored without a secret", r.ID)
		}
	}
	if store.puts != 2 {
		t.Errorf("%d rules written, want the create and the replace only", store.puts)
	}
}

func TestReplaceKeepsTheStoredSecret(t *testing.T) {
	store := newFake()
	fn := rules.New(store, ht.Verifier{}, alert.URLPolicy{})
	ht.Run(t, fn, []ht.Case{ht.Row("replace", req("PUT", "id=r_1", ht.AdminToken, rule), ht.Status(http.StatusOK), ht.NoHeader("Location"))})
	if got := store.byTenant[ht.Tenant]["r_1"].Webhook.Secret; got != "whsec_old" {
		t.Fatalf("secret %q after PUT without one, want the stored one", got)
	}
}

// TestSyncForTheEdge: GET ?all=true is an edge node's sync: only a service
// token reads it, with the webhook secrets (the edge signs its deliveries),
// the tenant, and an ETag that makes an unchanged set a 304.
func TestSyncForTheEdge(t *testing.T) {
	fn := rules.New(newFake(), ht.Verifier{}, alert.URLPolicy{})
	ht.Run(t, fn, []ht.Case{
		ht.Row("service", req("GET", "all=true", ht.ServiceToken, ""), ht.Status(http.StatusOK), ht.JSON("tenant", ht.Tenant),
			ht.JSONLen("rules", 1), ht.JSON("rules.0.webhook.secret", "whsec_old"), ht.Header("Cache-Control", "no-store")),
		ht.Row("admin", req("GET", "all=true", ht.AdminToken, ""), ht.Status(http.StatusForbidden), ht.BodyContains("service")),
		ht.Row("viewer", req("GET", "all=true", ht.ViewerToken, ""), ht.Status(http.StatusForbidden)),
		ht.Row("device", req("GET", "all=true", ht.DeviceToken, ""), ht.Status(http.StatusForbidden)),
		ht.Row("all=yes", req("GET", "all=yes", ht.ServiceToken, ""), ht.Status(http.StatusBadRequest), ht.Error("all")),
		ht.Row("POST all=true", req("POST", "all=true", ht.ServiceToken, rule), ht.Status(http.StatusBadRequest), ht.Error("all")),
	})
	first, _ := fn.Handle(req("GET", "all=true", ht.ServiceToken, ""))
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := ht.Request("GET", "all=true", ht.ServiceToken, http.Header{"If-None-Match": {etag}}, "")
	ht.Run(t, fn, []ht.Case{ht.Row("unchanged", again, ht.Status(http.StatusNotModified), ht.Header("ETag", etag))})
}
