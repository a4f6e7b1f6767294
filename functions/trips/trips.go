// Package trips is the function answering a device's trips and stops
// between two times, computed from its history by the same state machine
// the movement function runs live.
package trips

import (
	"context"
	"net/http"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/movement"
)

// Reporter builds a device's trips report (movement.Reports).
type Reporter interface {
	Build(ctx context.Context, tenant, device string, from, to time.Time) (movement.Report, error)
}

// Function is the trips function.
type Function struct {
	reports Reporter
	auth    httpkit.Verifier
}

// New builds trips from its dependencies.
func New(reports Reporter, verifier httpkit.Verifier) *Function {
	return &Function{reports: reports, auth: verifier}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	p, q, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return handler.Response{}, err
	}
	from, err := httpkit.QueryTime(q, "from")
	if err != nil {
		return handler.Response{}, err
	}
	to, err := httpkit.QueryTime(q, "to")
	if err != nil {
		return handler.Response{}, err
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return handler.Response{}, httpkit.Invalid("to", "must not be before from")
	}
	rep, err := f.reports.Build(req.Context(), p.Tenant, q.Get("device"), from, to)
	if err != nil {
		return handler.Response{}, err
	}
	return httpkit.JSON(http.StatusOK, rep), nil
}
