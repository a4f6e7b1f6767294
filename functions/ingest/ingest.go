// Package ingest is the function that accepts position reports (CloudEvents
// in binary, structured or batch mode, or plain JSON fixes), validates them,
// stores them once in the hot store and emits io.geotrack.location.updated.
package ingest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gate"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/respond"
	"github.com/geotrack/geotrack/internal/runtime"
)

// Store keeps accepted fixes, deduplicating by event and by device+ts.
type Store interface {
	Save(ctx context.Context, tenant string, groups []redisstore.Group, now time.Time) (redisstore.SaveResult, error)
}

// Sink receives the events ingest emits.
type Sink interface {
	Send(ctx context.Context, e event.Event) error
}

// Function is the ingest function.
type Function struct {
	store  Store
	sink   Sink
	auth   gate.Verifier
	parser intake.Parser
	source string
	now    func() time.Time
}

// New builds ingest from its dependencies. source is the CloudEvents source
// of emitted events.
func New(store Store, sink Sink, verifier gate.Verifier, parser intake.Parser, source string) *Function {
	return &Function{store: store, sink: sink, auth: verifier, parser: parser, source: source, now: time.Now}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if req.Method != http.MethodPost && req.Method != http.MethodPut {
		return respond.Error(http.StatusMethodNotAllowed, "method: use POST"), nil
	}
	query, _ := url.ParseQuery(req.QueryString)
	p, deny := gate.Check(ctx, f.auth, req, query, nil)
	if deny != nil {
		return *deny, nil
	}
	if p.Role == auth.RoleViewer {
		return gate.Deny(auth.ErrForbidden), nil
	}
	envs, err := events.Decode(req.Header, req.Body)
	if err != nil {
		var de *events.Error
		if errors.As(err, &de) {
			return respond.Error(de.Status, de.Error()), nil
		}
		return respond.Error(http.StatusBadRequest, err.Error()), nil
	}
	summary, status, err := Accept(ctx, f.parser, f.store, f.sink, f.source, p, envs, f.now())
	if err != nil {
		return respond.FromError(err), nil
	}
	return respond.JSON(status, summary), nil
}

// Accept runs the shared ingest pipeline: parse → authorise → store → emit.
// It is exported for the device-protocol functions that reuse it.
func Accept(ctx context.Context, parser intake.Parser, store Store, sink Sink, source string, p auth.Principal,
	envs []events.Envelope, now time.Time) (intake.Summary, int, error) {
	groups, rejected, err := parser.Parse(envs)
	if err != nil {
		var re *intake.RequestError
		if errors.As(err, &re) {
			return intake.Summary{}, 0, respond.WithStatus(re.Status, err)
		}
		return intake.Summary{}, 0, err
	}
	if err := intake.Authorize(p, groups); err != nil {
		return intake.Summary{}, 0, respond.WithStatus(http.StatusForbidden, err)
	}
	summary := intake.Summary{Rejected: rejected}
	if summary.Rejected == nil {
		summary.Rejected = []intake.Rejection{}
	}
	if len(groups) == 0 {
		return summary, summary.Status(), nil
	}
	res, err := store.Save(ctx, p.Tenant, toStoreGroups(groups), now)
	if err != nil {
		return intake.Summary{}, 0, err // retryable 5xx: nothing was marked seen
	}
	summary.Accepted, summary.Duplicates = res.Accepted, res.Duplicates
	emitUpdated(ctx, sink, source, p.Tenant, groups, res)
	return summary, summary.Status(), nil
}

func toStoreGroups(groups []intake.Group) []redisstore.Group {
	out := make([]redisstore.Group, len(groups))
	for i, g := range groups {
		out[i] = redisstore.Group{Source: g.Source, ID: g.ID, Fixes: g.Fixes}
	}
	return out
}

// emitUpdated publishes the fixes stored for the first time, one event per
// request. A sink failure is logged, not returned: the fixes are stored and a
// retry would be deduplicated without re-emitting anyway.
func emitUpdated(ctx context.Context, sink Sink, source, tenant string, groups []intake.Group, res redisstore.SaveResult) {
	var fixes []fix.Fix
	trace := ""
	for i, g := range groups {
		if i < len(res.PerGroup) && res.PerGroup[i].Duplicate {
			continue
		}
		fixes = append(fixes, g.Fixes...)
		if trace == "" {
			trace = g.TraceParent
		}
	}
	if len(fixes) == 0 || res.Accepted == 0 {
		return
	}
	subject := fixes[0].Device
	for _, f := range fixes {
		if f.Device != subject {
			subject = ""
			break
		}
	}
	log := runtime.LoggerFrom(ctx)
	e, err := events.New(source, events.TypeLocationUpdated, subject, trace, fixes)
	if err != nil {
		log.Error("build location.updated event", "err", err)
		return
	}
	e.SetExtension(events.ExtTenant, tenant)
	if err := sink.Send(ctx, e); err != nil {
		log.Error("emit location.updated", "err", err, "event_id", e.ID())
	}
}
