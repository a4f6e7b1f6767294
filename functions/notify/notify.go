// Package notify is the function that turns events into alerts: subscribed
// to the geofence events and io.geotrack.location.updated, it evaluates the
// tenant's rules and fires io.geotrack.alert.fired; invoked without a body
// (the cron tick) it sweeps the silence rules and delivers what is due.
package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/webhook"
)

// Evaluator decides and fires alerts (alert.Engine).
type Evaluator interface {
	Handle(ctx context.Context, tenant string, ev alert.Event) (alert.Summary, error)
	Sweep(ctx context.Context) (alert.Summary, error)
}

// Deliverer delivers what is due (webhook.Dispatcher).
type Deliverer interface {
	RunOnce(ctx context.Context) (webhook.Pass, error)
}

// Function is the notify function.
type Function struct {
	eval    Evaluator
	deliver Deliverer
	wake    chan<- struct{} // nil when no delivery loop runs in this process
	auth    httpkit.Verifier
	signer  *auth.EventSigner // nil: bearer tokens only

	fired, duplicate, suppressed *metrics.Counter
}

// New builds notify. wake, when not nil, nudges the process's delivery
// loop instead of delivering inline. Its counters go into reg (nil: a
// registry nobody serves).
func New(eval Evaluator, deliver Deliverer, wake chan<- struct{}, verifier httpkit.Verifier, signer *auth.EventSigner, reg *metrics.Registry) *Function {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	alerts := reg.NewCounterVec("geotrack_alerts_total", "Alerts by what the store did: fired, duplicate (the cause came again), suppressed (cooldown).", "outcome")
	return &Function{eval: eval, deliver: deliver, wake: wake, auth: verifier, signer: signer,
		fired: alerts.With("fired"), duplicate: alerts.With("duplicate"), suppressed: alerts.With("suppressed")}
}

func (f *Function) count(s alert.Summary) {
	f.fired.Add(float64(s.Fired))
	f.duplicate.Add(float64(s.Duplicate))
	f.suppressed.Add(float64(s.Suppressed))
}

// Result is the reply.
type Result struct {
	alert.Summary
	Swept     bool          `json:"swept,omitempty"`
	Delivered *webhook.Pass `json:"delivery,omitempty"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

// mayNotify: events come from the platform's connectors, which hold a
// service (or admin) token of the tenant.
func mayNotify(p auth.Principal) error {
	if p.Role == auth.RoleService || p.Role == auth.RoleAdmin {
		return nil
	}
	return fmt.Errorf("%w: role %s may not post events to notify (service or admin needed)", auth.ErrForbidden, p.Role)
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use POST"}
	}
	if len(strings.TrimSpace(string(req.Body))) == 0 {
		return f.tick(ctx)
	}
	query, _ := url.ParseQuery(req.QueryString)
	p, envs, err := events.AuthenticateDelivery(ctx, f.auth, f.signer, req, query, mayNotify)
	if err != nil {
		return handler.Response{}, err
	}
	var res Result
	for i, env := range envs {
		ev, err := toEvent(env)
		if err != nil {
			return handler.Response{}, err
		}
		sum, err := f.eval.Handle(ctx, p.Tenant, ev)
		if errors.Is(err, alert.ErrBadEvent) {
			return handler.Response{}, httpkit.Invalid(fmt.Sprintf("[%d].data", i), "%v", err)
		}
		if errors.Is(err, alert.ErrOutboxFull) {
			// The sink has been unreachable for long: a dependency outage,
			// 503 with Retry-After; the connector redelivers later.
			return handler.Response{}, dependency.Unavailable("event sink", err)
		}
		if err != nil {
			return handler.Response{}, err
		}
		f.count(sum)
		res.Fired += sum.Fired
		res.Duplicate += sum.Duplicate
		res.Suppressed += sum.Suppressed
		res.Edge += sum.Edge
	}
	if res.Fired > 0 {
		f.nudge(ctx, &res)
	}
	return httpkit.JSON(http.StatusOK, res), nil
}

// tick is a scheduled invocation: it takes no input, so it needs no
// credentials (as the forwarder's).
func (f *Function) tick(ctx context.Context) (handler.Response, error) {
	sum, err := f.eval.Sweep(ctx)
	f.count(sum)
	if err != nil {
		return handler.Response{}, fmt.Errorf("silence sweep: %w", err)
	}
	res := Result{Summary: sum, Swept: true}
	f.nudge(ctx, &res)
	return httpkit.JSON(http.StatusOK, res), nil
}

// nudge wakes the delivery loop, or delivers inline when none runs.
func (f *Function) nudge(ctx context.Context, res *Result) {
	if f.wake != nil {
		select {
		case f.wake <- struct{}{}:
		default:
		}
		return
	}
	pass, err := f.deliver.RunOnce(ctx)
	if err != nil {
		httpkit.LoggerFrom(ctx).Warn("webhook delivery", "err", err)
	}
	res.Delivered = &pass
}

// toEvent keeps the envelope as the alert's "event": one structured-mode
// CloudEvent object.
func toEvent(env events.Envelope) (alert.Event, error) {
	if env.Type == "" {
		return alert.Event{}, httpkit.Invalid("type", "the event has no type (CloudEvent type or X-Topic header)")
	}
	m := map[string]any{"specversion": "1.0", "id": env.ID, "source": env.Source, "type": env.Type}
	if env.Subject != "" {
		m["subject"] = env.Subject
	}
	if env.Tenant != "" {
		m[events.ExtTenant] = env.Tenant
	}
	if env.ContentType != "" {
		m["datacontenttype"] = env.ContentType
	}
	if json.Valid(env.Data) {
		m["data"] = json.RawMessage(env.Data)
	} else if len(env.Data) > 0 {
		m["data_base64"] = base64.StdEncoding.EncodeToString(env.Data)
	}
	structured, err := json.Marshal(m)
	if err != nil {
		return alert.Event{}, fmt.Errorf("encode causing event: %w", err)
	}
	return alert.Event{ID: env.ID, Source: env.Source, Type: env.Type, Subject: env.Subject, Data: env.Data, Structured: structured}, nil
}
