// Package alerts is the function listing a tenant's fired alerts with their
// delivery state (viewer, admin), its dead letters (?dead=true), and
// redelivering one (POST ?replay=<id>, admin).
package alerts

import (
	"errors"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Page sizes (public contract: limit ≤ MaxLimit).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Function is the alerts function.
type Function struct {
	log  alert.Log
	auth httpkit.Verifier
}

// New builds alerts from its dependencies.
func New(log alert.Log, verifier httpkit.Verifier) *Function {
	return &Function{log: log, auth: verifier}
}

// Replayed is the reply to a replay.
type Replayed struct {
	Replayed string `json:"replayed"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if req.Method == http.MethodPost {
		return f.replay(req)
	}
	p, q, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return handler.Response{}, err
	}
	query := alert.Query{Device: q.Get("device"), Rule: q.Get("rule"), Cursor: q.Get("cursor")}
	if query.From, err = httpkit.QueryTime(q, "from"); err != nil {
		return handler.Response{}, err
	}
	if query.To, err = httpkit.QueryTime(q, "to"); err != nil {
		return handler.Response{}, err
	}
	if !query.From.IsZero() && !query.To.IsZero() && query.To.Before(query.From) {
		return handler.Response{}, httpkit.Invalid("to", "before from")
	}
	if query.Limit, err = httpkit.QueryInt(q, "limit", DefaultLimit, 1, MaxLimit); err != nil {
		return handler.Response{}, err
	}
	switch q.Get("dead") {
	case "", "false":
	case "true":
		query.Dead = true
	default:
		return handler.Response{}, httpkit.Invalid("dead", "%q is not true or false", q.Get("dead"))
	}
	page, err := f.log.ListAlerts(ctx, p.Tenant, query)
	if errors.Is(err, alert.ErrBadCursor) {
		return handler.Response{}, httpkit.Invalid("cursor", "not a cursor this function issued")
	}
	if err != nil {
		return handler.Response{}, err
	}
	if page.Alerts == nil {
		page.Alerts = []alert.Record{}
	}
	return httpkit.JSON(http.StatusOK, page), nil
}

func (f *Function) replay(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, auth.Principal.CanAdmin)
	if err != nil {
		return handler.Response{}, err
	}
	id := q.Get("replay")
	if id == "" {
		return handler.Response{}, httpkit.Invalid("replay", "required: the id of the alert to redeliver")
	}
	switch err := f.log.Replay(ctx, p.Tenant, id); {
	case errors.Is(err, alert.ErrNotFound):
		return handler.Response{}, &httpkit.Error{Status: http.StatusNotFound, Field: "replay", Msg: "no alert " + id}
	case errors.Is(err, alert.ErrPending):
		return handler.Response{}, &httpkit.Error{Status: http.StatusConflict, Field: "replay", Msg: "alert " + id + " is still pending delivery"}
	case err != nil:
		return handler.Response{}, err
	}
	return httpkit.JSON(http.StatusAccepted, Replayed{Replayed: id}), nil
}
