// Package position is the function answering GET ?device=ID with the
// device's latest fix.
package position

import (
	"context"
	"fmt"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Store reads a device's latest fix.
type Store interface {
	Latest(ctx context.Context, tenant, device string) (fix.Fix, bool, error)
}

// Function is the position function.
type Function struct {
	store Store
	auth  httpkit.Verifier
}

// New builds position from its dependencies.
func New(store Store, verifier httpkit.Verifier) *Function {
	return &Function{store: store, auth: verifier}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	p, query, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return handler.Response{}, err
	}
	device := query.Get("device")
	if err := fix.ValidateDevice("device", device); err != nil {
		return handler.Response{}, err
	}
	latest, ok, err := f.store.Latest(ctx, p.Tenant, device)
	if err != nil {
		return handler.Response{}, fmt.Errorf("read latest position: %w", err)
	}
	if !ok {
		return handler.Response{}, &httpkit.Error{Status: http.StatusNotFound, Msg: fmt.Sprintf("device %q has no position", device)}
	}
	return httpkit.JSON(http.StatusOK, latest), nil
}
