// Package preferences is the function reading and writing tracking
// preferences: GET/PUT preferences (the tenant's defaults) and
// GET/PUT preferences?device= (a device's overrides); GET ?all=true is the
// whole set an edge node syncs, with an ETag.
package preferences

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	prefs "github.com/geotrack/geotrack/internal/preferences"
)

// Service reads and writes preferences (preferences.Service).
type Service interface {
	Load(ctx context.Context, tenant string) (prefs.Set, error)
	Put(ctx context.Context, tenant, device string, body []byte) (prefs.Document, int64, error)
}

// Function is the preferences function.
type Function struct {
	svc  Service
	auth httpkit.Verifier
}

// New builds preferences from its dependencies.
func New(svc Service, verifier httpkit.Verifier) *Function {
	return &Function{svc: svc, auth: verifier}
}

// Result is the answer for one document.
type Result struct {
	Device      string         `json:"device,omitempty"`
	Version     int64          `json:"version"`
	Preferences prefs.Document `json:"preferences"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	device := q.Get("device")
	all := q.Get("all")
	if all != "" && all != "true" && all != "false" {
		return handler.Response{}, httpkit.Invalid("all", "%q is not true or false", all)
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		p, err := httpkit.Authenticate(ctx, f.auth, req, q, mayRead(device, all == "true"))
		if err != nil {
			return handler.Response{}, err
		}
		if device != "" {
			if err := fix.ValidateDevice("device", device); err != nil {
				return handler.Response{}, err
			}
		}
		set, err := f.svc.Load(ctx, p.Tenant)
		if err != nil {
			return handler.Response{}, err
		}
		if all == "true" {
			set.TenantID = p.Tenant // the edge keys its copy by it
			if match := req.Header.Get("If-None-Match"); match != "" && match == set.ETag() {
				r := httpkit.Raw(http.StatusNotModified, "", nil)
				r.Header.Set("ETag", set.ETag())
				return r, nil
			}
			r := httpkit.JSON(http.StatusOK, set)
			r.Header.Set("ETag", set.ETag())
			return r, nil
		}
		doc := set.Tenant
		if device != "" {
			doc = set.Devices[device]
		}
		r := httpkit.JSON(http.StatusOK, Result{Device: device, Version: set.Version, Preferences: doc})
		r.Header.Set("ETag", set.ETag())
		return r, nil
	case http.MethodPut:
		p, err := httpkit.Authenticate(ctx, f.auth, req, q, auth.Principal.CanAdmin)
		if err != nil {
			return handler.Response{}, err
		}
		if all != "" {
			return handler.Response{}, httpkit.Invalid("all", "only for GET")
		}
		body := req.Body
		if body == nil {
			body = []byte{}
		}
		doc, v, err := f.svc.Put(ctx, p.Tenant, device, body)
		if err != nil {
			return handler.Response{}, err // a field error is a 400, a store failure a 5xx
		}
		r := httpkit.JSON(http.StatusOK, Result{Device: device, Version: v, Preferences: doc})
		r.Header.Set("ETag", fmt.Sprintf(`"%d"`, v))
		return r, nil
	}
	return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET or PUT"}
}

// mayRead: viewers, admins and services (edge sync) read everything of
// their tenant; a device token reads its own device's document only.
func mayRead(device string, all bool) func(auth.Principal) error {
	return func(p auth.Principal) error {
		switch p.Role {
		case auth.RoleViewer, auth.RoleAdmin, auth.RoleService:
			return nil
		case auth.RoleDevice:
			if device == p.Device && !all {
				return nil
			}
			return fmt.Errorf("%w: a device token reads only preferences?device=%s", auth.ErrForbidden, p.Device)
		}
		return fmt.Errorf("%w: role %s may not read preferences", auth.ErrForbidden, p.Role)
	}
}
