// Package osmand is the function for Traccar Client and OsmAnd: the OsmAnd
// protocol as a GET query or form POST (id, lat, lon, timestamp, speed in
// knots, ...) and the Traccar Client JSON form. Those apps cannot set
// headers, so a device token is also accepted as ?token= or through Basic
// auth in the server URL. Replies are an empty 200, as Traccar's server does.
package osmand

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/osmand"
)

// source is the CloudEvents source of what osmand accepts.
const source = "urn:geotrack:osmand"

// FixAcceptor takes the fixes a protocol decoded (intake.Service).
type FixAcceptor interface {
	AcceptFixes(ctx context.Context, p auth.Principal, fixes []fix.Fix, source string) (intake.Summary, error)
}

// Function is the osmand function.
type Function struct {
	intake FixAcceptor
	auth   httpkit.Verifier
	now    func() time.Time
}

// New builds osmand from its dependencies.
func New(in FixAcceptor, verifier httpkit.Verifier) *Function {
	return &Function{intake: in, auth: verifier, now: time.Now}
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	var decoded fix.Fix
	switch req.Method {
	case http.MethodGet, http.MethodPost:
	default:
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET or POST"}
	}
	mediaType, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	isJSON := req.Method == http.MethodPost && (mediaType == "application/json" || strings.HasPrefix(strings.TrimSpace(string(req.Body)), "{"))
	if req.Method == http.MethodPost && !isJSON && len(req.Body) > 0 {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return handler.Response{}, httpkit.Invalid("body", "not a form: %v", err)
		}
		for k, v := range form {
			q[k] = append(q[k], v...)
		}
	}
	if auth.Credential(req.Header, q) == "" {
		// OsmAnd and Traccar Client cannot set headers: the token goes in
		// the server URL, so say that rather than "send a Bearer header".
		return handler.Response{}, fmt.Errorf("%w: missing token: put it in the server URL as ?token=<JWT> (or send Authorization: Bearer <JWT>)", auth.ErrUnauthenticated)
	}
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, intake.MayReport)
	if err != nil {
		return handler.Response{}, err
	}
	if isJSON {
		decoded, err = osmand.DecodeJSON(req.Body, f.now())
	} else {
		q.Del("token")
		decoded, err = osmand.DecodeQuery(q, f.now())
	}
	if err != nil {
		return handler.Response{}, httpkit.BadInput(err)
	}
	summary, err := f.intake.AcceptFixes(ctx, p, []fix.Fix{decoded}, source)
	if err != nil {
		return handler.Response{}, err
	}
	if summary.Status() >= 400 {
		if summary.Error != "" { // e.g. the tenant's device quota
			return httpkit.ErrorResponse(summary.Status(), summary.Error), nil
		}
		return httpkit.ErrorResponse(summary.Status(), summary.Rejected[0].Error), nil
	}
	return handler.Response{StatusCode: http.StatusOK}, nil
}
