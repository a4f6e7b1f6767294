// Package position is the function answering GET ?device=ID with the
// device's latest fix.
package position

import (
	"context"
	"fmt"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gate"
	"github.com/geotrack/geotrack/internal/respond"
)

// Store reads a device's latest fix.
type Store interface {
	Latest(ctx context.Context, tenant, device string) (fix.Fix, bool, error)
}

// Function is the position function.
type Function struct {
	store Store
	auth  gate.Verifier
}

// New builds position from its dependencies.
func New(store Store, verifier gate.Verifier) *Function {
	return &Function{store: store, auth: verifier}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	p, query, deny := gate.Read(f.auth, req)
	if deny != nil {
		return *deny, nil
	}
	device := query.Get("device")
	if err := fix.ValidateDevice("device", device); err != nil {
		return respond.Error(http.StatusBadRequest, err.Error()), nil
	}
	latest, ok, err := f.store.Latest(ctx, p.Tenant, device)
	if err != nil {
		return respond.FromError(fmt.Errorf("read latest position: %w", err)), nil
	}
	if !ok {
		return respond.Error(http.StatusNotFound, fmt.Sprintf("device %q has no position", device)), nil
	}
	return respond.JSON(http.StatusOK, latest), nil
}
