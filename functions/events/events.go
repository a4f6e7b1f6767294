// Package events is the function listing a tenant's event log: the
// geofence (and alert, trip) events it emitted, oldest first, each a
// structured-mode CloudEvent, kept for the hot retention.
package events

import (
	"context"
	"encoding/json"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Reader reads the event log (redisstore.Store).
type Reader interface {
	ReadEvents(ctx context.Context, tenant string, q eventlog.Query) (eventlog.Page, error)
}

// Function is the events function.
type Function struct {
	log  Reader
	auth httpkit.Verifier
}

// New builds events from its dependencies.
func New(log Reader, verifier httpkit.Verifier) *Function {
	return &Function{log: log, auth: verifier}
}

// Result is the response body.
type Result struct {
	Events []json.RawMessage `json:"events"`
	Next   string            `json:"next"`
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
	query := eventlog.Query{Device: q.Get("device"), Type: q.Get("type"), Cursor: q.Get("cursor")}
	if query.Device != "" && !fix.ValidDevice(query.Device) {
		return handler.Response{}, httpkit.Invalid("device", "%q is not a device id", query.Device)
	}
	if query.From, err = httpkit.QueryTime(q, "from"); err != nil {
		return handler.Response{}, err
	}
	if query.To, err = httpkit.QueryTime(q, "to"); err != nil {
		return handler.Response{}, err
	}
	if !query.From.IsZero() && !query.To.IsZero() && query.To.Before(query.From) {
		return handler.Response{}, httpkit.Invalid("to", "is before from")
	}
	if query.Limit, err = httpkit.QueryInt(q, "limit", eventlog.DefaultLimit, 1, eventlog.MaxLimit); err != nil {
		return handler.Response{}, err
	}
	page, err := f.log.ReadEvents(req.Context(), p.Tenant, query)
	if err != nil {
		return handler.Response{}, err
	}
	return httpkit.JSON(http.StatusOK, Result{Events: page.Events, Next: page.Next}), nil
}
