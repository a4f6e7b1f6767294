// Package position is the function answering GET ?device=ID with the
// device's latest fix, and GET ?all=true[&since=T][&limit=N] with the latest
// fix of every device of the tenant that changed after since (the
// dashboard's fleet view polls it).
package position

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Reader reads a device's latest fix and the fleet's (locate.Service).
type Reader interface {
	Latest(ctx context.Context, tenant, device string) (fix.Fix, bool, error)
	Fleet(ctx context.Context, tenant string, since time.Time, limit int) ([]json.RawMessage, bool, error)
}

// Bounds of ?all=true's limit: a dashboard of 10,000+ devices gets them in
// one answer; later polls with since get only the ones that moved.
const (
	DefaultFleetLimit = 50000
	MaxFleetLimit     = 100000
)

// FleetPage is the answer to ?all=true.
type FleetPage struct {
	Fixes []json.RawMessage `json:"fixes"`
	// More is true when limit left devices out (the newest are kept).
	More bool `json:"more"`
}

// Function is the position function.
type Function struct {
	reader Reader
	auth   httpkit.Verifier
}

// New builds position from its dependencies.
func New(reader Reader, verifier httpkit.Verifier) *Function {
	return &Function{reader: reader, auth: verifier}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	p, query, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return handler.Response{}, err
	}
	if query.Has("all") {
		return f.fleet(req.Context(), p.Tenant, query)
	}
	device := query.Get("device")
	latest, ok, err := f.reader.Latest(req.Context(), p.Tenant, device)
	if err != nil {
		return handler.Response{}, err
	}
	if !ok {
		return handler.Response{}, &httpkit.Error{Status: http.StatusNotFound, Msg: fmt.Sprintf("device %q has no position", device)}
	}
	return httpkit.JSON(http.StatusOK, latest), nil
}

func (f *Function) fleet(ctx context.Context, tenant string, q url.Values) (handler.Response, error) {
	if v := q.Get("all"); v != "true" {
		return handler.Response{}, httpkit.Invalid("all", "%q: want true", v)
	}
	if q.Has("device") {
		return handler.Response{}, httpkit.Invalid("device", "not with all=true")
	}
	since, err := httpkit.QueryTime(q, "since")
	if err != nil {
		return handler.Response{}, err
	}
	limit, err := httpkit.QueryInt(q, "limit", DefaultFleetLimit, 1, MaxFleetLimit)
	if err != nil {
		return handler.Response{}, err
	}
	fixes, more, err := f.reader.Fleet(ctx, tenant, since, limit)
	if err != nil {
		return handler.Response{}, err
	}
	if fixes == nil {
		fixes = []json.RawMessage{} // "fixes": [] rather than null
	}
	return httpkit.JSON(http.StatusOK, FleetPage{Fixes: fixes, More: more}), nil
}
