// Package geofences is the function that manages a tenant's fences:
// GeoJSON Features (Polygon, MultiPolygon, or Point with properties.radius_m
// for a circle) that admins create, replace and delete and viewers read.
package geofences

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Page sizes of GET (public contract: limit ≤ MaxLimit).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Manager validates and stores fences (geofence.Service).
type Manager interface {
	Create(ctx context.Context, tenant string, body []byte) ([]string, error)
	Replace(ctx context.Context, tenant, id string, body []byte) error
	Get(ctx context.Context, tenant, id string) ([]byte, bool, error)
	List(ctx context.Context, tenant, cursor string, limit int) ([][]byte, string, error)
	Delete(ctx context.Context, tenant, id string) (bool, error)
	// ChangesSince is the change log an edge node syncs from.
	ChangesSince(ctx context.Context, tenant string, since int64) ([]geofence.Stored, int64, error)
}

// Function is the geofences function.
type Function struct {
	fences Manager
	auth   httpkit.Verifier
}

// New builds geofences from its dependencies.
func New(fences Manager, verifier httpkit.Verifier) *Function {
	return &Function{fences: fences, auth: verifier}
}

// Created is the reply to POST and PUT.
type Created struct {
	IDs []string `json:"ids"`
}

// Collection is the reply to GET without id.
type Collection struct {
	Type     string            `json:"type"`
	Features []json.RawMessage `json:"features"`
	Next     string            `json:"next"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return f.read(req)
	case http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET, POST, PUT or DELETE"}
	}
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, auth.Principal.CanAdmin)
	if err != nil {
		return handler.Response{}, err
	}
	id := q.Get("id")
	switch req.Method {
	case http.MethodPost:
		ids, err := f.fences.Create(ctx, p.Tenant, req.Body)
		if err != nil {
			return handler.Response{}, err
		}
		return httpkit.JSON(http.StatusCreated, Created{IDs: ids}), nil
	case http.MethodPut:
		if id == "" {
			return handler.Response{}, httpkit.Invalid("id", "required: PUT ?id=<fence id>")
		}
		if err := f.fences.Replace(ctx, p.Tenant, id, req.Body); err != nil {
			return handler.Response{}, err
		}
		return httpkit.JSON(http.StatusOK, Created{IDs: []string{id}}), nil
	}
	if id == "" {
		return handler.Response{}, httpkit.Invalid("id", "required: DELETE ?id=<fence id>")
	}
	found, err := f.fences.Delete(ctx, p.Tenant, id)
	if err != nil {
		return handler.Response{}, err
	}
	if !found {
		return handler.Response{}, &httpkit.Error{Status: http.StatusNotFound, Field: "id", Msg: "no fence " + id}
	}
	return handler.Response{StatusCode: http.StatusNoContent, Header: http.Header{}}, nil
}

// Changes is the reply to GET ?since=: the fences changed after that
// version (feature null: deleted), and the version to ask from next time.
// since=0 lists every fence. An edge node applies it to its copy.
type Changes struct {
	Tenant  string   `json:"tenant"`
	Version int64    `json:"version"`
	Changes []Change `json:"changes"`
}

// Change is one fence of Changes.
type Change struct {
	ID      string          `json:"id"`
	Feature json.RawMessage `json:"feature"` // null: deleted
}

// maySync: viewers and admins read fences anyway; a service token is an
// edge node's sync (its GEOFENCES_URL).
func maySync(p auth.Principal) error {
	switch p.Role {
	case auth.RoleViewer, auth.RoleAdmin, auth.RoleService:
		return nil
	}
	return fmt.Errorf("%w: role %s may not read fence changes (viewer, admin or service needed)", auth.ErrForbidden, p.Role)
}

func (f *Function) changes(req handler.Request, q url.Values) (handler.Response, error) {
	ctx := req.Context()
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, maySync)
	if err != nil {
		return handler.Response{}, err
	}
	since, err := strconv.ParseInt(q.Get("since"), 10, 64)
	if err != nil || since < 0 {
		return handler.Response{}, httpkit.Invalid("since", "%q is not a fence version (an integer >= 0)", q.Get("since"))
	}
	changed, version, err := f.fences.ChangesSince(ctx, p.Tenant, since)
	if err != nil {
		return handler.Response{}, err
	}
	out := Changes{Tenant: p.Tenant, Version: version, Changes: make([]Change, len(changed))}
	for i, c := range changed {
		out.Changes[i] = Change{ID: c.ID, Feature: c.Feature}
		if c.Feature == nil {
			out.Changes[i].Feature = json.RawMessage("null")
		}
	}
	return httpkit.JSON(http.StatusOK, out), nil
}

func (f *Function) read(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if raw, err := url.ParseQuery(req.QueryString); err == nil && raw.Has("since") {
		return f.changes(req, raw)
	}
	p, q, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return handler.Response{}, err
	}
	if id := q.Get("id"); id != "" {
		feature, found, err := f.fences.Get(ctx, p.Tenant, id)
		if err != nil {
			return handler.Response{}, err
		}
		if !found {
			return handler.Response{}, &httpkit.Error{Status: http.StatusNotFound, Field: "id", Msg: "no fence " + id}
		}
		return httpkit.Raw(http.StatusOK, "application/geo+json", feature), nil
	}
	limit, err := httpkit.QueryInt(q, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		return handler.Response{}, err
	}
	features, next, err := f.fences.List(ctx, p.Tenant, q.Get("cursor"), limit)
	if err != nil {
		return handler.Response{}, err
	}
	out := Collection{Type: "FeatureCollection", Features: make([]json.RawMessage, len(features)), Next: next}
	for i, b := range features {
		out.Features[i] = b
	}
	body, err := json.Marshal(out)
	if err != nil {
		return handler.Response{}, err
	}
	return httpkit.Raw(http.StatusOK, "application/geo+json", body), nil
}
