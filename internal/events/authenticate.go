package events

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// AuthenticateDelivery is the guard of every event-triggered function, in
// place of httpkit.Authenticate: it decodes the request's events and returns
// them with the caller. A request with a credential (bearer token, as
// `geotrack dev` or an admin replaying sends) is checked as by Authenticate,
// and its events must be of the token's tenant (else 403). A request
// without one (the OpenFaaS NATS connector, a Knative Trigger add no
// Authorization header) is accepted when every event carries a valid
// signature (geotracksig, see auth.EventSigner) for one tenant: the caller
// is then the service of that tenant. need applies to either.
//
// A request without a credential learns nothing about its body: anything
// undecodable or unsigned is 401.
func AuthenticateDelivery(ctx context.Context, v httpkit.Verifier, signer *auth.EventSigner, req handler.Request, query url.Values, need func(auth.Principal) error) (auth.Principal, []Envelope, error) {
	if auth.Credential(req.Header, query) != "" {
		p, err := httpkit.Authenticate(ctx, v, req, query, need)
		if err != nil {
			return auth.Principal{}, nil, err
		}
		envs, err := Decode(req.Header, req.Body)
		if err != nil {
			return auth.Principal{}, nil, httpkit.BadInput(err)
		}
		for i, e := range envs {
			if e.Tenant != "" && e.Tenant != p.Tenant {
				return auth.Principal{}, nil, httpkit.WithStatus(http.StatusForbidden,
					fmt.Errorf("%w: event %d (id %q) is for tenant %q but the token is for %q", auth.ErrForbidden, i, e.ID, e.Tenant, p.Tenant))
			}
		}
		return p, envs, nil
	}
	envs, err := Decode(req.Header, req.Body)
	if err != nil || len(envs) == 0 {
		return auth.Principal{}, nil, fmt.Errorf("%w: missing bearer token or signed CloudEvents", auth.ErrUnauthenticated)
	}
	var p auth.Principal
	for i, e := range envs {
		ep, err := signer.VerifyEvent(e.Tenant, e.ID, e.Type, e.Source, e.Signature)
		if err != nil {
			return auth.Principal{}, nil, fmt.Errorf("event %d: %w", i, err)
		}
		if i > 0 && ep.Tenant != p.Tenant {
			return auth.Principal{}, nil, fmt.Errorf("%w: event %d is of tenant %q, event 0 of %q: one delivery carries one tenant's events", auth.ErrForbidden, i, ep.Tenant, p.Tenant)
		}
		p = ep
	}
	if need != nil {
		if err := need(p); err != nil {
			return auth.Principal{}, nil, err
		}
	}
	return p, envs, nil
}
