// Package movement is the function subscribed to
// io.geotrack.location.updated: it runs each announced device's trip state
// machine and emits io.geotrack.trip.started/ended and
// io.geotrack.stop.started/ended through the event outbox.
package movement

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
	mv "github.com/geotrack/geotrack/internal/movement"
)

// Observer runs the machines of announced fixes (movement.Live).
type Observer interface {
	Observe(ctx context.Context, tenant string, fixes []fix.Fix) (mv.Result, error)
}

// Function is the movement function.
type Function struct {
	live   Observer
	auth   httpkit.Verifier
	signer *auth.EventSigner // nil: only bearer tokens
	fixes  *metrics.CounterVec
}

// New builds movement from its dependencies: deliveries are authenticated
// by a bearer token (verifier) or by their events' signatures (signer, nil:
// not accepted); reg is the process's metrics registry (nil: its own).
func New(live Observer, verifier httpkit.Verifier, signer *auth.EventSigner, reg *metrics.Registry) *Function {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	return &Function{live: live, auth: verifier, signer: signer,
		fixes: reg.NewCounterVec("geotrack_movement_fixes_total", "Fixes movement received, by outcome (accepted, late, duplicate: the last two ignored).", "outcome")}
}

// mayObserve: the connector's service token or signed events, or an admin
// replaying.
func mayObserve(p auth.Principal) error {
	if p.Role == auth.RoleService || p.Role == auth.RoleAdmin {
		return nil
	}
	return fmt.Errorf("%w: role %s may not deliver location events (service or admin needed)", auth.ErrForbidden, p.Role)
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use POST"}
	}
	query, _ := url.ParseQuery(req.QueryString)
	p, envs, err := events.AuthenticateDelivery(ctx, f.auth, f.signer, req, query, mayObserve)
	if err != nil {
		return handler.Response{}, err
	}
	var fixes []fix.Fix
	for i, e := range envs {
		if e.Type != "" && e.Type != events.TypeLocationUpdated {
			return handler.Response{}, httpkit.Invalid("type", "event %d is %q, movement takes %s", i, e.Type, events.TypeLocationUpdated)
		}
		batch, errs, err := fix.DecodeBatch(e.Data, e.Subject)
		if err != nil {
			return handler.Response{}, httpkit.BadInput(err)
		}
		for j, fe := range errs {
			if fe != nil {
				return handler.Response{}, httpkit.BadInput(fmt.Errorf("event %d fix %d: %w", i, j, fe))
			}
		}
		for j := range batch {
			if err := fix.Validate(&batch[j], time.Now()); err != nil {
				return handler.Response{}, httpkit.BadInput(err)
			}
		}
		fixes = append(fixes, batch...)
	}
	if len(fixes) == 0 {
		return handler.Response{}, httpkit.BadInput(errors.New("data: no fixes"))
	}
	res, err := f.live.Observe(ctx, p.Tenant, fixes)
	if err != nil {
		return handler.Response{}, err
	}
	f.fixes.With("accepted").Add(float64(res.Fixes - res.Late - res.Repeats))
	f.fixes.With("late").Add(float64(res.Late))
	f.fixes.With("duplicate").Add(float64(res.Repeats))
	return httpkit.JSON(http.StatusOK, res), nil
}
