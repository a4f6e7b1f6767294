// Package audit is the function a tenant's admin reads the audit trail
// with: GET audit?from=&to=&cursor=&limit=, oldest first, a page at a time.
package audit

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/audit"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Page sizes (public contract: limit ≤ MaxLimit).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Reader reads a tenant's audit log (redisstore.AuditLog).
type Reader interface {
	ReadAudit(ctx context.Context, tenant string, from, to time.Time, cursor string, limit int) ([]audit.Entry, string, error)
}

// Function is the audit function.
type Function struct {
	log  Reader
	auth httpkit.Verifier
}

// New builds audit from its dependencies.
func New(log Reader, verifier httpkit.Verifier) *Function {
	return &Function{log: log, auth: verifier}
}

// Result is the body.
type Result struct {
	Entries []audit.Entry `json:"entries"`
	Next    string        `json:"next"`
}

// cursorPattern is an entry id as the log hands it out.
var cursorPattern = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET"}
	}
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	p, err := httpkit.Authenticate(req.Context(), f.auth, req, q, auth.Principal.CanAdmin)
	if err != nil {
		return handler.Response{}, err
	}
	from, err := httpkit.QueryTime(q, "from")
	if err != nil {
		return handler.Response{}, err
	}
	to, err := httpkit.QueryTime(q, "to")
	if err != nil {
		return handler.Response{}, err
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return handler.Response{}, httpkit.Invalid("to", "is before from")
	}
	limit, err := httpkit.QueryInt(q, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		return handler.Response{}, err
	}
	cursor := q.Get("cursor")
	if cursor != "" && !cursorPattern.MatchString(cursor) {
		return handler.Response{}, httpkit.Invalid("cursor", "not a cursor this function handed out")
	}
	entries, next, err := f.log.ReadAudit(req.Context(), p.Tenant, from, to, cursor, limit)
	if err != nil {
		return handler.Response{}, err
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	resp := httpkit.JSON(http.StatusOK, Result{Entries: entries, Next: next})
	if next != "" {
		resp.Header.Set("X-Next-Cursor", next)
	}
	return resp, nil
}
