// Package ingest is the function that accepts position reports (CloudEvents
// in binary, structured or batch mode, or plain JSON fixes, GPX and GeoJSON
// documents), validates them and hands them to a pipeline: in the cloud the
// hot store plus io.geotrack.location.updated (Pipeline), at the edge the
// filtering edge pipeline.
package ingest

import (
	"fmt"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
)

// Function is the ingest function.
type Function struct {
	parser   intake.Parser
	acceptor intake.Acceptor
	auth     httpkit.Verifier
}

// New builds ingest from its dependencies.
func New(parser intake.Parser, acceptor intake.Acceptor, verifier httpkit.Verifier) *Function {
	return &Function{parser: parser, acceptor: acceptor, auth: verifier}
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
	p, err := httpkit.Authenticate(ctx, f.auth, req, query, nil)
	if err != nil {
		return handler.Response{}, err
	}
	if p.Role == auth.RoleViewer {
		return handler.Response{}, auth.ErrForbidden
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
	// The tenant comes only from the token; an event that names another
	// tenant (an edge forwarder with the wrong token) is refused, not stored
	// under the token's tenant.
	for _, env := range envs {
		if env.Tenant != "" && env.Tenant != p.Tenant {
			return handler.Response{}, fmt.Errorf("%w: event %q is for tenant %q but the token is for %q", auth.ErrForbidden, env.ID, env.Tenant, p.Tenant)
		}
	}
	// Plain uploads (a GPX or GeoJSON file, fixes without a device) name the
	// device with ?device=, as the CloudEvent subject would.
	if dev := query.Get("device"); dev != "" {
		for i := range envs {
			if envs[i].Mode == events.ModePlain && envs[i].Subject == "" {
				envs[i].Subject = dev
			}
		}
	}
	groups, rejected, err := f.parser.Parse(envs)
	if err != nil {
		return handler.Response{}, err
	}
	summary, err := f.acceptor.AcceptGroups(ctx, p, groups, rejected)
	if err != nil {
		return handler.Response{}, err // its own status, else a retryable 500
	}
	httpkit.LoggerFrom(ctx).Debug("ingested", "tenant", p.Tenant, "accepted", summary.Accepted,
		"duplicates", summary.Duplicates, "rejected", len(summary.Rejected))
	return httpkit.JSON(summary.Status(), summary), nil
}
