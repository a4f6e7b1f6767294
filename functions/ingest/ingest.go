// Package ingest is the function that accepts position reports (CloudEvents
// in binary, structured or batch mode, or plain JSON fixes, GPX and GeoJSON
// documents): it decodes them and hands them to the intake service, which
// validates them and feeds a pipeline: in the cloud the hot store plus
// io.geotrack.location.updated (internal/cloud), at the edge the filtering
// edge pipeline (internal/edge).
package ingest

import (
	"context"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
)

// Ingester takes decoded envelopes on behalf of a caller (intake.Service).
type Ingester interface {
	Ingest(ctx context.Context, p auth.Principal, envs []events.Envelope, device string) (intake.Summary, error)
}

// Function is the ingest function.
type Function struct {
	intake Ingester
	auth   httpkit.Verifier
}

// New builds ingest from its dependencies.
func New(in Ingester, verifier httpkit.Verifier) *Function {
	return &Function{intake: in, auth: verifier}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if req.Method != http.MethodPost && req.Method != http.MethodPut {
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use POST"}
	}
	query, _ := url.ParseQuery(req.QueryString)
	p, err := httpkit.Authenticate(ctx, f.auth, req, query, intake.MayReport)
	if err != nil {
		return handler.Response{}, err
	}
	envs, err := events.Decode(req.Header, req.Body)
	if err != nil {
		return handler.Response{}, httpkit.BadInput(err)
	}
	// The access log has ce_id for binary mode; structured and batch events
	// only show up here, so the function's own log lines carry them.
	if len(envs) == 1 && envs[0].Mode != events.ModeBinary && envs[0].ID != "" {
		ctx = httpkit.WithLogAttrs(ctx, "ce_id", envs[0].ID, "ce_source", envs[0].Source)
	} else if len(envs) > 1 {
		ctx = httpkit.WithLogAttrs(ctx, "ce_batch", len(envs), "ce_first_id", envs[0].ID)
	}
	summary, err := f.intake.Ingest(ctx, p, envs, query.Get("device"))
	if err != nil {
		return handler.Response{}, err // its status (a 403, an outage's 503), else a retryable 500
	}
	httpkit.LoggerFrom(ctx).Debug("ingested", "tenant", p.Tenant, "accepted", summary.Accepted,
		"duplicates", summary.Duplicates, "too_old", summary.TooOld, "over_quota", summary.OverQuota, "rejected", len(summary.Rejected))
	return httpkit.JSON(summary.Status(), summary), nil
}
