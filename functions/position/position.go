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

// Reader reads a device's latest fix (locate.Service).
type Reader interface {
	Latest(ctx context.Context, tenant, device string) (fix.Fix, bool, error)
}

// Function is the position function.
type Function struct {
	reader Reader
	auth   httpkit.Verifier
}

// New builds position from its dependencies.
func New(reader Reader, verifier httpkit.Verifier) *Function {
	return &Function{reader: reader, auth: verifier}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	p, query, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return handler.Response{}, err
	}
	device := query.Get("device")
	latest, ok, err := f.reader.Latest(req.Context(), p.Tenant, device)
	if err != nil {
		return handler.Response{}, err
	}
	if !ok {
		return handler.Response{}, &httpkit.Error{Status: http.StatusNotFound, Msg: fmt.Sprintf("device %q has no position", device)}
	}
	return httpkit.JSON(http.StatusOK, latest), nil
}
