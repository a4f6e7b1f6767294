// Package tokens is the function a tenant's admin revokes tokens with: one
// token by its id (POST ?revoke=<jti>), or every token issued before an
// instant (POST ?not_before=<RFC 3339>); GET lists the tenant's revocations.
package tokens

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/guard"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Revocations stores a tenant's revocations (redisstore.Policies).
type Revocations interface {
	Revoke(ctx context.Context, tenant, jti string, keep time.Duration, now time.Time) error
	SetNotBefore(ctx context.Context, tenant string, at time.Time, keep time.Duration) error
	Policy(ctx context.Context, tenant string, now time.Time) (guard.Policy, error)
}

// Settings the function is built with.
type Settings struct {
	// Keep is how long a revocation is kept: the longest a token lives
	// (plus the verifier's leeway), after which it has expired anyway.
	Keep time.Duration
	// EffectiveWithin is how soon every replica applies a revocation (the
	// policy poll), reported to the caller.
	EffectiveWithin time.Duration
	// SyncVerifier checks the token of GET ?sync=true (nil: the function's
	// verifier). The guard's ForRevocationReads lets an edge node's service
	// token issued before the tenant's "not before" read the list, so the
	// node learns the cut that also cut its own token.
	SyncVerifier httpkit.Verifier
}

// Function is the tokens function.
type Function struct {
	store Revocations
	auth  httpkit.Verifier
	set   Settings
	now   func() time.Time
}

// New builds tokens from its dependencies.
func New(store Revocations, verifier httpkit.Verifier, s Settings) *Function {
	return &Function{store: store, auth: verifier, set: s, now: time.Now}
}

// notBeforeSkew is how far in the future a not_before may lie (clock skew
// between the admin and us); further would lock the tenant out, its new
// tokens included.
const notBeforeSkew = time.Minute

// Revoked is one entry of the list.
type Revoked struct {
	TokenID string    `json:"jti"`
	Until   time.Time `json:"kept_until"`
}

// List is GET's body.
type List struct {
	Tenant    string     `json:"tenant"`
	Revoked   []Revoked  `json:"revoked"`
	NotBefore *time.Time `json:"not_before,omitempty"`
}

// Result is POST's body.
type Result struct {
	Tenant     string     `json:"tenant"`
	Revoked    string     `json:"revoked,omitempty"`
	NotBefore  *time.Time `json:"not_before,omitempty"`
	KeptUntil  time.Time  `json:"kept_until"`
	EffectiveS float64    `json:"effective_within_s"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET or POST"}
	}
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	ctx := req.Context()
	need, verifier := auth.Principal.CanAdmin, f.auth
	if req.Method != http.MethodPost && q.Get("sync") == "true" {
		need = canSync
		if f.set.SyncVerifier != nil {
			verifier = f.set.SyncVerifier
		}
	}
	p, err := httpkit.Authenticate(ctx, verifier, req, q, need)
	if err != nil {
		return handler.Response{}, err
	}
	now := f.now()
	if req.Method != http.MethodPost {
		return f.list(ctx, p.Tenant, now)
	}
	jti, notBefore := q.Get("revoke"), q.Get("not_before")
	switch {
	case q.Has("revoke") && q.Has("not_before"):
		return handler.Response{}, httpkit.Invalid("revoke", "give revoke or not_before, not both")
	case q.Has("revoke"):
		if !auth.ValidTokenID(jti) {
			return handler.Response{}, httpkit.Invalid("revoke", "a token id (jti) of 1-128 letters, digits, '.', '_' or '-'")
		}
		if err := f.store.Revoke(ctx, p.Tenant, jti, f.set.Keep, now); err != nil {
			return handler.Response{}, err
		}
		return httpkit.JSON(http.StatusOK, Result{Tenant: p.Tenant, Revoked: jti, KeptUntil: now.Add(f.set.Keep).UTC(),
			EffectiveS: f.set.EffectiveWithin.Seconds()}), nil
	case q.Has("not_before"):
		at, err := time.Parse(time.RFC3339Nano, notBefore)
		if err != nil {
			return handler.Response{}, httpkit.Invalid("not_before", "want an RFC 3339 time, e.g. 2026-11-29T15:00:00Z")
		}
		if at.After(now.Add(notBeforeSkew)) {
			return handler.Response{}, httpkit.Invalid("not_before", "must not be in the future (it would refuse the tenant's new tokens too)")
		}
		if err := f.store.SetNotBefore(ctx, p.Tenant, at, f.set.Keep); err != nil {
			return handler.Response{}, err
		}
		at = at.UTC()
		return httpkit.JSON(http.StatusOK, Result{Tenant: p.Tenant, NotBefore: &at, KeptUntil: now.Add(f.set.Keep).UTC(),
			EffectiveS: f.set.EffectiveWithin.Seconds()}), nil
	}
	return handler.Response{}, httpkit.Invalid("revoke", "give revoke=<jti> or not_before=<RFC 3339>")
}

func (f *Function) list(ctx context.Context, tenant string, now time.Time) (handler.Response, error) {
	pol, err := f.store.Policy(ctx, tenant, now)
	if err != nil {
		return handler.Response{}, err
	}
	out := List{Tenant: tenant, Revoked: []Revoked{}}
	for jti, until := range pol.Revoked {
		out.Revoked = append(out.Revoked, Revoked{TokenID: jti, Until: until.UTC()})
	}
	sort.Slice(out.Revoked, func(i, j int) bool { return out.Revoked[i].TokenID < out.Revoked[j].TokenID })
	if !pol.NotBefore.IsZero() {
		nb := pol.NotBefore.UTC()
		out.NotBefore = &nb
	}
	return httpkit.JSON(http.StatusOK, out), nil
}

// canSync admits GET ?sync=true, the list an edge node pulls with its
// service token to enforce the tenant's revocations in its own Redis
// (guard.RevocationSync); an admin may read it too.
func canSync(p auth.Principal) error {
	if p.Role == auth.RoleService || p.Role == auth.RoleAdmin {
		return nil
	}
	return fmt.Errorf("%w: role %s may not read the revocation list (service or admin)", auth.ErrForbidden, p.Role)
}
