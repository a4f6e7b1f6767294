// Package geofencedetect is the function subscribed to
// io.geotrack.location.updated: it evaluates each fix against the tenant's
// fences and emits io.geotrack.geofence.entered, exited and dwelled
// (internal/geofence has the rules), each also appended to the tenant's
// event log.
package geofencedetect

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Detector evaluates a tenant's fixes (geofence.Detector).
type Detector interface {
	Detect(ctx context.Context, tenant string, fixes []fix.Fix, traceParent string) (geofence.Result, error)
}

// Function is the geofence-detect function.
type Function struct {
	detector Detector
	auth     httpkit.Verifier
	signer   *auth.EventSigner // nil: bearer tokens only
}

// New builds geofence-detect from its dependencies.
func New(detector Detector, verifier httpkit.Verifier, signer *auth.EventSigner) *Function {
	return &Function{detector: detector, auth: verifier, signer: signer}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

// mayDetect: the connector's service token, or an admin replaying events.
func mayDetect(p auth.Principal) error {
	if p.Role == auth.RoleService || p.Role == auth.RoleAdmin {
		return nil
	}
	return fmt.Errorf("%w: role %s may not deliver location events (service or admin needed)", auth.ErrForbidden, p.Role)
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use POST"}
	}
	query, _ := url.ParseQuery(req.QueryString)
	p, envs, err := events.AuthenticateDelivery(ctx, f.auth, f.signer, req, query, mayDetect)
	if err != nil {
		return handler.Response{}, err
	}
	var total geofence.Result
	for i, env := range envs {
		if env.Type != "" && env.Type != events.TypeLocationUpdated {
			return handler.Response{}, httpkit.Invalid("type", "%q: geofence-detect takes %s", env.Type, events.TypeLocationUpdated)
		}
		fixes, errs, err := fix.DecodeBatch(env.Data, env.Subject)
		if err != nil {
			return handler.Response{}, httpkit.BadInput(err)
		}
		now := time.Now()
		for j := range fixes {
			var e error
			if j < len(errs) {
				e = errs[j]
			}
			if e == nil {
				e = fix.Validate(&fixes[j], now)
			}
			if e != nil {
				return handler.Response{}, httpkit.Invalid(fmt.Sprintf("data[%d]", j), "event %d: %v", i, e)
			}
		}
		res, err := f.detector.Detect(ctx, p.Tenant, fixes, env.TraceParent)
		if err != nil {
			return handler.Response{}, err
		}
		total.Fixes += res.Fixes
		total.Ignored += res.Ignored
		total.Events += res.Events
	}
	return httpkit.JSON(http.StatusOK, total), nil
}
