// Package owntracks is the function for the OwnTracks apps in HTTP mode:
// POST JSON messages, user/device from X-Limit-U/X-Limit-D (or ?u=&d=),
// Basic auth whose password is a device token (or Bearer). Locations go
// through the same validation and pipeline as ingest; every other message
// type is acknowledged and ignored on purpose. The reply is the JSON array
// the app expects.
package owntracks

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
	ot "github.com/geotrack/geotrack/internal/owntracks"
	prefs "github.com/geotrack/geotrack/internal/preferences"
)

// source is the CloudEvents source of what owntracks accepts.
const source = "urn:geotrack:owntracks"

// FixAcceptor takes the fixes a protocol decoded (intake.Service).
type FixAcceptor interface {
	AcceptFixes(ctx context.Context, p auth.Principal, fixes []fix.Fix, source string) (intake.Summary, error)
}

// Reconfigurer says when a device's app must be sent new report settings
// (preferences.Reconfigurer): ok when they changed since last sent.
type Reconfigurer interface {
	Reconfigure(ctx context.Context, tenant, device string) (prefs.AppConfig, bool, error)
}

// Function is the owntracks function.
type Function struct {
	intake   FixAcceptor
	auth     httpkit.Verifier
	messages *metrics.CounterVec
	reconfig Reconfigurer
}

// WithReconfigurer makes the reply carry an OwnTracks setConfiguration
// command when a device's report preferences changed since its last one.
func (f *Function) WithReconfigurer(r Reconfigurer) *Function {
	f.reconfig = r
	return f
}

// New builds owntracks from its dependencies; reg is the process's metrics
// registry (nil: a registry of its own).
func New(in FixAcceptor, verifier httpkit.Verifier, reg *metrics.Registry) *Function {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	return &Function{intake: in, auth: verifier,
		messages: reg.NewCounterVec("geotrack_owntracks_messages_total", "OwnTracks messages received, by _type.", "type")}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if req.Method != http.MethodPost && req.Method != http.MethodPut {
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "OwnTracks HTTP mode uses POST"}
	}
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, intake.MayReport)
	if err != nil {
		return handler.Response{}, err
	}
	user := first(req.Header.Get("X-Limit-U"), q.Get("u"))
	device := first(req.Header.Get("X-Limit-D"), q.Get("d"))
	msgs, err := ot.DecodeAll(req.Body, user, device)
	if err != nil {
		return handler.Response{}, httpkit.BadInput(err)
	}
	var fixes []fix.Fix
	for _, m := range msgs {
		f.messages.With(m.Type).Inc()
		if m.Fix != nil {
			fixes = append(fixes, *m.Fix)
		}
	}
	if len(fixes) == 0 {
		httpkit.LoggerFrom(ctx).Debug("owntracks message without location acknowledged", "messages", len(msgs))
		return emptyArray(), nil
	}
	summary, err := f.intake.AcceptFixes(ctx, p, fixes, source)
	if err != nil {
		return handler.Response{}, err
	}
	if summary.Status() >= 400 {
		if summary.Error != "" { // e.g. the tenant's device quota
			return httpkit.ErrorResponse(summary.Status(), summary.Error), nil
		}
		return httpkit.JSON(summary.Status(), map[string]any{"error": joinRejections(summary.Rejected), "rejected": summary.Rejected}), nil
	}
	// The app treats any 2xx as delivered and shows the array's contents
	// (friends' cards and locations) and runs the commands in it.
	if f.reconfig != nil {
		cfg, changed, err := f.reconfig.Reconfigure(ctx, p.Tenant, fixes[len(fixes)-1].Device)
		if err != nil {
			// The fixes are stored: the command goes with the next report.
			httpkit.LoggerFrom(ctx).Warn("owntracks: app configuration not checked", "err", err)
		} else if changed {
			return httpkit.JSON(http.StatusOK, []any{setConfiguration(cfg)}), nil
		}
	}
	return emptyArray(), nil
}

// setConfiguration is the OwnTracks command that reconfigures the app.
func setConfiguration(c prefs.AppConfig) map[string]any {
	conf := map[string]any{"_type": "configuration", "monitoring": c.Monitoring}
	if c.IntervalS > 0 {
		conf["locatorInterval"] = c.IntervalS
	}
	if c.DisplacementM > 0 {
		conf["locatorDisplacement"] = c.DisplacementM
	}
	return map[string]any{"_type": "cmd", "action": "setConfiguration", "configuration": conf}
}

func emptyArray() handler.Response {
	return httpkit.Raw(http.StatusOK, "application/json", []byte("[]\n"))
}

func joinRejections(rs []intake.Rejection) string {
	msgs := make([]string, len(rs))
	for i, r := range rs {
		msgs[i] = r.Error
	}
	return strings.Join(msgs, "; ")
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
