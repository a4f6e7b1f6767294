// Package alerts is the function listing a tenant's fired alerts with their
// delivery state (viewer, admin), its dead letters (?dead=true), and
// redelivering one (POST ?replay=<id>, admin); an edge node's forwarder
// reports the alerts that node fired (POST ?node=<node>, service).
package alerts

import (
	"errors"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/fix"
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
		if q, _ := url.ParseQuery(req.QueryString); q.Has("node") && !q.Has("replay") {
			return f.importEdge(req, q)
		}
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
	case errors.Is(err, alert.ErrFiredAtEdge):
		return handler.Response{}, &httpkit.Error{Status: http.StatusConflict, Field: "replay", Msg: "alert " + id + " was fired and is delivered by an edge node; it is replayed there"}
	case errors.Is(err, alert.ErrPending):
		return handler.Response{}, &httpkit.Error{Status: http.StatusConflict, Field: "replay", Msg: "alert " + id + " is still pending delivery"}
	case err != nil:
		return handler.Response{}, err
	}
	return httpkit.JSON(http.StatusAccepted, Replayed{Replayed: id}), nil
}

// mayReportEdgeAlerts: an edge node's forwarder reports with the node's
// service token; the records go into the token's tenant only.
func mayReportEdgeAlerts(p auth.Principal) error {
	return p.CanActAsEdgeNode("POST ?node= (edge alert reports)")
}

// importEdge stores the alert records an edge node reports: listed with
// the node named, never delivered again from here.
func (f *Function) importEdge(req handler.Request, q url.Values) (handler.Response, error) {
	ctx := req.Context()
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, mayReportEdgeAlerts)
	if err != nil {
		return handler.Response{}, err
	}
	node := q.Get("node")
	if !fix.ValidDevice(node) {
		return handler.Response{}, httpkit.Invalid("node", "not an edge node id (^[A-Za-z0-9._:-]{1,128}$)")
	}
	recs, err := alert.DecodeEdgeReport(req.Body, p.Tenant)
	if err != nil {
		return handler.Response{}, httpkit.BadInput(err)
	}
	imported, err := f.log.ImportEdge(ctx, p.Tenant, node, recs)
	if errors.Is(err, alert.ErrOutboxFull) {
		// The sink has been unreachable for long: 503 with Retry-After;
		// the node sends the records again (the ones stored are unchanged).
		return handler.Response{}, dependency.Unavailable("event sink", err)
	}
	if err != nil {
		return handler.Response{}, err
	}
	return httpkit.JSON(http.StatusOK, imported), nil
}
