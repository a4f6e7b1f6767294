package geofences_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/geofences"
	"github.com/geotrack/geotrack/internal/geofence"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

// fakeStore keeps fences in memory per tenant; tenant "down" fails.
type fakeStore struct {
	fences map[string]map[string][]byte
	fail   bool
}

func (s *fakeStore) tenant(t string) map[string][]byte {
	if s.fences == nil {
		s.fences = map[string]map[string][]byte{}
	}
	if s.fences[t] == nil {
		s.fences[t] = map[string][]byte{}
	}
	return s.fences[t]
}

var errDown = errors.New("redis: connection refused")

func (s *fakeStore) PutFences(_ context.Context, tenant string, fs []geofence.Stored, quota int) error {
	if s.fail {
		return errDown
	}
	m := s.tenant(tenant)
	n := len(m)
	for _, f := range fs {
		if _, ok := m[f.ID]; !ok {
			n++
		}
	}
	if n > quota {
		return fmt.Errorf("%w: %d > %d", geofence.ErrQuota, n, quota)
	}
	for _, f := range fs {
		m[f.ID] = f.Feature
	}
	return nil
}

func (s *fakeStore) GetFence(_ context.Context, tenant, id string) ([]byte, bool, error) {
	b, ok := s.tenant(tenant)[id]
	return b, ok, nil
}

func (s *fakeStore) ListFences(_ context.Context, tenant, cursor string, limit int) ([][]byte, string, error) {
	var ids []string
	for id := range s.tenant(tenant) {
		if id > cursor {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], ids[limit-1]
	}
	out := [][]byte{}
	for _, id := range ids {
		out = append(out, s.tenant(tenant)[id])
	}
	return out, next, nil
}

func (s *fakeStore) DeleteFence(_ context.Context, tenant, id string) (bool, error) {
	m := s.tenant(tenant)
	_, ok := m[id]
	delete(m, id)
	return ok, nil
}

const yard = `{"type":"Feature","id":"yard","geometry":{"type":"Polygon","coordinates":[[[0,0],[0,1],[1,1],[1,0],[0,0]]]},"properties":{"name":"Yard"}}`
const depot = `{"type":"Feature","id":"depot","geometry":{"type":"Point","coordinates":[2,2]},"properties":{"name":"Depot","radius_m":100}}`

func req(method, query, token, body string) handler.Request {
	return ht.Request(method, query, token, nil, body)
}

func TestHandle(t *testing.T) {
	store := &fakeStore{}
	f := geofences.New(&geofence.Service{Store: store, Quota: 3}, ht.Verifier{})
	cases := []ht.Case{
		ht.Row("admin creates", req(http.MethodPost, "", ht.AdminToken, yard), ht.Status(http.StatusCreated), ht.JSON("ids", []string{"yard"})),
		ht.Row("admin creates a collection", req(http.MethodPost, "", ht.AdminToken, `{"type":"FeatureCollection","features":[`+depot+`]}`),
			ht.Status(http.StatusCreated), ht.JSON("ids", []string{"depot"})),
		ht.Row("viewer reads one, stored per RFC 7946 winding", req(http.MethodGet, "id=yard", ht.ViewerToken, ""), ht.Status(http.StatusOK),
			ht.Header("Content-Type", "application/geo+json"), ht.JSON("properties.name", "Yard"),
			ht.JSON("geometry.coordinates.0.1", []float64{1, 0})),
		ht.Row("viewer lists a page", req(http.MethodGet, "limit=1", ht.ViewerToken, ""), ht.Status(http.StatusOK),
			ht.JSON("type", "FeatureCollection"), ht.JSONLen("features", 1), ht.JSON("features.0.id", "depot"), ht.JSON("next", "depot")),
		ht.Row("viewer lists the next page", req(http.MethodGet, "limit=1&cursor=depot", ht.ViewerToken, ""), ht.Status(http.StatusOK),
			ht.JSON("features.0.id", "yard"), ht.JSON("next", "")),
		ht.Row("admin replaces", req(http.MethodPut, "id=yard", ht.AdminToken, `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"name":"Yard 2","radius_m":5}}`),
			ht.Status(http.StatusOK), ht.JSON("ids", []string{"yard"})),
		ht.Row("replaced", req(http.MethodGet, "id=yard", ht.AdminToken, ""), ht.JSON("properties.name", "Yard 2")),
		ht.Row("server-assigned id", req(http.MethodPost, "", ht.AdminToken, `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"name":"x","radius_m":5}}`),
			ht.Status(http.StatusCreated), ht.JSONLen("ids", 1)),
		ht.Row("over the quota", req(http.MethodPost, "", ht.AdminToken, `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"name":"x","radius_m":5}}`),
			ht.Status(http.StatusBadRequest), ht.Error("body", "quota")),
		ht.Row("admin deletes", req(http.MethodDelete, "id=depot", ht.AdminToken, ""), ht.Status(http.StatusNoContent)),
		ht.Row("deleted is gone", req(http.MethodGet, "id=depot", ht.ViewerToken, ""), ht.Status(http.StatusNotFound), ht.Error("id")),
		ht.Row("delete again", req(http.MethodDelete, "id=depot", ht.AdminToken, ""), ht.Status(http.StatusNotFound)),
		ht.Row("bad fence names the field", req(http.MethodPost, "", ht.AdminToken, `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"name":"x","radius_m":0}}`),
			ht.Status(http.StatusBadRequest), ht.Error("properties.radius_m")),
		ht.Row("PUT without id", req(http.MethodPut, "", ht.AdminToken, yard), ht.Status(http.StatusBadRequest), ht.Error("id")),
		ht.Row("PUT with another id in the body", req(http.MethodPut, "id=other", ht.AdminToken, yard), ht.Status(http.StatusBadRequest), ht.Error("id", "differs")),
		ht.Row("DELETE without id", req(http.MethodDelete, "", ht.AdminToken, ""), ht.Status(http.StatusBadRequest), ht.Error("id")),
		ht.Row("limit out of range", req(http.MethodGet, "limit=1001", ht.ViewerToken, ""), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("viewer may not write", req(http.MethodPost, "", ht.ViewerToken, yard), ht.Status(http.StatusForbidden)),
		ht.Row("device may not read", req(http.MethodGet, "", ht.DeviceToken, ""), ht.Status(http.StatusForbidden)),
		ht.Row("device may not write", req(http.MethodPost, "", ht.DeviceToken, yard), ht.Status(http.StatusForbidden)),
		ht.Row("service may not write", req(http.MethodDelete, "id=yard", ht.ServiceToken, ""), ht.Status(http.StatusForbidden)),
		ht.Row("PATCH refused", req(http.MethodPatch, "", ht.AdminToken, yard), ht.Status(http.StatusMethodNotAllowed)),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return req(http.MethodPost, "", token, yard) })...)
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return req(http.MethodGet, "", token, "") })...)
	ht.Run(t, f, cases)

	// Refused requests stored nothing: yard, and the server-assigned one.
	if n := len(store.tenant(ht.Tenant)); n != 2 {
		t.Fatalf("%d fences stored, want 2", n)
	}
	store.fail = true
	ht.Run(t, f, []ht.Case{ht.Row("store down", req(http.MethodPost, "", ht.AdminToken, yard), ht.Status(http.StatusInternalServerError))})
}

// fakeChanges is a change log: version 3, yard changed at 2, gone deleted at 3.
type fakeChanges struct{ asked []int64 }

func (c *fakeChanges) FenceVersion(context.Context, string) (int64, error) { return 3, nil }
func (c *fakeChanges) FenceChanges(_ context.Context, tenant string, since int64) ([]geofence.Stored, int64, error) {
	c.asked = append(c.asked, since)
	if tenant == "down" {
		return nil, 0, errDown
	}
	var out []geofence.Stored
	if since < 2 {
		out = append(out, geofence.Stored{ID: "yard", Feature: []byte(yard)})
	}
	if since < 3 && since > 0 {
		out = append(out, geofence.Stored{ID: "gone"})
	}
	return out, 3, nil
}

// TestChangesForTheEdge: GET ?since= is the incremental change log an edge
// node syncs (viewer, admin and service read it; a deleted fence is null).
func TestChangesForTheEdge(t *testing.T) {
	changes := &fakeChanges{}
	f := geofences.New(&geofence.Service{Store: &fakeStore{}, Changes: changes}, ht.Verifier{})
	ht.Run(t, f, []ht.Case{
		ht.Row("service, from the start", req(http.MethodGet, "since=0", ht.ServiceToken, ""), ht.Status(http.StatusOK),
			ht.JSON("tenant", ht.Tenant), ht.JSON("version", 3.0), ht.JSONLen("changes", 1), ht.JSON("changes.0.id", "yard"),
			ht.JSON("changes.0.feature.properties.name", "Yard")),
		ht.Row("viewer, since 1", req(http.MethodGet, "since=1", ht.ViewerToken, ""), ht.Status(http.StatusOK),
			ht.JSONLen("changes", 2), ht.JSON("changes.1.id", "gone"), ht.JSON("changes.1.feature", nil)),
		ht.Row("admin, up to date", req(http.MethodGet, "since=3", ht.AdminToken, ""), ht.Status(http.StatusOK), ht.JSONLen("changes", 0)),
		ht.Row("device", req(http.MethodGet, "since=0", ht.DeviceToken, ""), ht.Status(http.StatusForbidden)),
		ht.Row("negative", req(http.MethodGet, "since=-1", ht.ServiceToken, ""), ht.Status(http.StatusBadRequest), ht.Error("since")),
		ht.Row("not a number", req(http.MethodGet, "since=x", ht.ServiceToken, ""), ht.Status(http.StatusBadRequest), ht.Error("since")),
	})
	if want := []int64{0, 1, 3}; fmt.Sprint(changes.asked) != fmt.Sprint(want) {
		t.Errorf("asked for %v, want %v (refused requests ask nothing)", changes.asked, want)
	}
}
