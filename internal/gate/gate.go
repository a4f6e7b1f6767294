// Package gate authenticates a function request and maps auth failures to
// 401/403 responses, so every function guards itself the same way.
package gate

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/respond"
)

// Verifier checks a bearer token.
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// Check authenticates req and applies need (e.g. auth.Principal.CanRead).
// On failure it returns the response to send.
func Check(ctx context.Context, v Verifier, req handler.Request, query url.Values, need func(auth.Principal) error) (auth.Principal, *handler.Response) {
	p, err := v.Verify(ctx, auth.Credential(req.Header, query))
	if err != nil {
		r := Deny(err)
		return auth.Principal{}, &r
	}
	if need != nil {
		if err := need(p); err != nil {
			r := Deny(err)
			return auth.Principal{}, &r
		}
	}
	return p, nil
}

// Deny maps an auth error to its response.
func Deny(err error) handler.Response {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		r := respond.Error(http.StatusUnauthorized, err.Error())
		r.Header.Set("WWW-Authenticate", `Bearer realm="geotrack"`)
		return r
	case errors.Is(err, auth.ErrForbidden):
		return respond.Error(http.StatusForbidden, err.Error())
	}
	// Anything else (OIDC discovery down) is an outage of the issuer:
	// retryable, 503 with Retry-After like any dependency.
	return respond.FromError(dependency.Unavailable("auth", err))
}

// Read is the preamble of every read function: GET or HEAD only, a
// parseable query, and a caller allowed to read its tenant.
func Read(v Verifier, req handler.Request) (auth.Principal, url.Values, *handler.Response) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		r := respond.Error(http.StatusMethodNotAllowed, "method: use GET")
		return auth.Principal{}, nil, &r
	}
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		r := respond.Error(http.StatusBadRequest, "query: "+err.Error())
		return auth.Principal{}, nil, &r
	}
	p, deny := Check(req.Context(), v, req, q, auth.Principal.CanRead)
	return p, q, deny
}
