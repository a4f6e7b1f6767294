package httpkit

import (
	"context"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
)

// Verifier checks a bearer token.
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// Authenticate verifies the request's credential (header, or ?token= in
// query) and applies need (e.g. auth.Principal.CanRead), so every function
// guards itself the same way. Its errors map to 401 and 403; a verifier
// that cannot decide (OIDC discovery down) is an outage of the issuer: a
// retryable 503 with Retry-After, like any dependency.
func Authenticate(ctx context.Context, v Verifier, req handler.Request, query url.Values, need func(auth.Principal) error) (auth.Principal, error) {
	p, err := v.Verify(ctx, auth.Credential(req.Header, query))
	if err != nil {
		return auth.Principal{}, authFailure(err)
	}
	if need != nil {
		if err := need(p); err != nil {
			return auth.Principal{}, authFailure(err)
		}
	}
	noteCaller(ctx, p, v)
	return p, nil
}

// authFailure keeps a client's fault (401, 403, a rate limit's 429);
// anything else stopped the check on our side: "auth unavailable", 503
// with Retry-After.
func authFailure(err error) error {
	if s := StatusOf(err); s >= 400 && s < 500 {
		return err
	}
	return dependency.Unavailable("auth", err)
}

// AuthorizeRead is the preamble of every read function: GET or HEAD only, a
// parseable query, and a caller allowed to read its tenant.
func AuthorizeRead(v Verifier, req handler.Request) (auth.Principal, url.Values, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return auth.Principal{}, nil, &Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET"}
	}
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return auth.Principal{}, nil, &Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	p, err := Authenticate(req.Context(), v, req, q, auth.Principal.CanRead)
	return p, q, err
}
