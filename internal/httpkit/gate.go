// Package gate authenticates a function request and maps auth failures to
// 401/403 responses, so every function guards itself the same way.
package httpkit

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
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
		r := Error(http.StatusUnauthorized, err.Error())
		r.Header.Set("WWW-Authenticate", `Bearer realm="geotrack"`)
		return r
	case errors.Is(err, auth.ErrForbidden):
		return Error(http.StatusForbidden, err.Error())
	}
	// Anything else (OIDC discovery down) is on our side and retryable.
	return Error(http.StatusServiceUnavailable, "auth unavailable: "+err.Error())
}

// Read is the preamble of every read function: GET or HEAD only, a
// parseable query, and a caller allowed to read its tenant.
func Read(v Verifier, req handler.Request) (auth.Principal, url.Values, *handler.Response) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		r := Error(http.StatusMethodNotAllowed, "method: use GET")
		return auth.Principal{}, nil, &r
	}
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		r := Error(http.StatusBadRequest, "query: "+err.Error())
		return auth.Principal{}, nil, &r
	}
	p, deny := Check(req.Context(), v, req, q, auth.Principal.CanRead)
	return p, q, deny
}
