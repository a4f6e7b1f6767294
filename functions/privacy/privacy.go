// Package privacy is the function a tenant's admin hands a device's data
// over and erases it with (GDPR Art. 15/17/20):
//
//	GET  privacy?device=&format=zip   the device's data as a streamed ZIP (a device token: its own)
//	POST privacy?device=&action=erase erase it from every tier; 200 with the receipt
//	GET  privacy?receipt=             an erasure's progress per tier
//	GET  privacy?erasures=true        the tenant's erasure list, for edge nodes (service token)
//	POST privacy?receipt=&edge=<node> an edge node confirms its purge (service token)
//
// It is an http.Handler (Built.HTTP) so the ZIP streams to the client
// with bounded memory instead of being built as one response body.
package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	privacysvc "github.com/geotrack/geotrack/internal/privacy"
)

// Service is what the function asks of internal/privacy.
type Service interface {
	Export(ctx context.Context, w io.Writer, tenant, device string) (privacysvc.Manifest, error)
	Erase(ctx context.Context, tenant, device string) (privacysvc.Receipt, error)
	Receipt(ctx context.Context, tenant, id string) (privacysvc.Receipt, bool, error)
	Erasures(ctx context.Context, tenant string) ([]privacysvc.Erasure, error)
	ConfirmEdge(ctx context.Context, tenant, receipt, node string, t privacysvc.Tier) (bool, error)
}

// exportChecker is a Service that can tell before an export whether its
// tiers answer (privacysvc.Service.CheckExport).
type exportChecker interface {
	CheckExport(ctx context.Context, tenant, device string) error
}

// Function is the privacy function.
type Function struct {
	svc  Service
	auth httpkit.Verifier
	now  func() time.Time
}

// New builds privacy from its dependencies.
func New(svc Service, verifier httpkit.Verifier) *Function {
	return &Function{svc: svc, auth: verifier, now: time.Now}
}

// ServeHTTP implements http.Handler.
func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := handler.Request{Header: r.Header, QueryString: r.URL.RawQuery, Method: r.Method, Host: r.Host}
	req.WithContext(r.Context())
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxConfirmation+1))
		if err != nil {
			write(w, httpkit.FromError(&httpkit.Error{Status: http.StatusBadRequest, Field: "body", Err: err}))
			return
		}
		req.Body = body
	}
	if r.Method == http.MethodGet && r.URL.Query().Get("device") != "" && r.URL.Query().Get("receipt") == "" {
		f.export(w, r, req)
		return
	}
	resp, p, q, err := f.handle(req)
	resp = httpkit.Respond(r.Context(), resp, err)
	if err == nil {
		f.audit(r, p, q, resp.StatusCode)
	}
	write(w, resp)
}

func write(w http.ResponseWriter, resp handler.Response) {
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(resp.Body)
}

// query parses the request's query; the error names the field.
func query(req handler.Request) (url.Values, error) {
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return nil, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	return q, nil
}

// device reads and checks ?device=.
func device(q url.Values) (string, error) {
	d := q.Get("device")
	if d == "" {
		return "", httpkit.Invalid("device", "is required")
	}
	if err := fix.ValidateDevice("device", d); err != nil {
		return "", httpkit.BadInput(err)
	}
	return d, nil
}

// handle serves erase and receipt reads (and every refusal of an export
// before it starts streaming).
func (f *Function) handle(req handler.Request) (handler.Response, auth.Principal, url.Values, error) {
	q, err := query(req)
	if err != nil {
		return handler.Response{}, auth.Principal{}, nil, err
	}
	if q.Has("erasures") || q.Has("edge") {
		return f.edge(req, q)
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		p, err := httpkit.Authenticate(req.Context(), f.auth, req, q, auth.Principal.CanAdmin)
		if err != nil {
			return handler.Response{}, p, q, err
		}
		id := q.Get("receipt")
		if id == "" {
			return handler.Response{}, p, q, httpkit.Invalid("device", "is required (or receipt)")
		}
		if !privacysvc.ValidReceiptID(id) {
			return handler.Response{}, p, q, httpkit.Invalid("receipt", "not a receipt id this function handed out")
		}
		r, found, err := f.svc.Receipt(req.Context(), p.Tenant, id)
		if err != nil {
			return handler.Response{}, p, q, err
		}
		if !found {
			return handler.Response{}, p, q, &httpkit.Error{Status: http.StatusNotFound, Field: "receipt", Msg: "no such receipt"}
		}
		return httpkit.JSON(http.StatusOK, r), p, q, nil
	case http.MethodPost:
		p, err := httpkit.Authenticate(req.Context(), f.auth, req, q, auth.Principal.CanAdmin)
		if err != nil {
			return handler.Response{}, p, q, err
		}
		if a := q.Get("action"); a != "erase" {
			return handler.Response{}, p, q, httpkit.Invalid("action", "must be erase")
		}
		d, err := device(q)
		if err != nil {
			return handler.Response{}, p, q, err
		}
		r, err := f.svc.Erase(req.Context(), p.Tenant, d)
		if err != nil {
			return handler.Response{}, p, q, err
		}
		return httpkit.JSON(http.StatusOK, r), p, q, nil
	default:
		return handler.Response{}, auth.Principal{}, q, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET or POST"}
	}
}

// maxConfirmation bounds an edge node's confirmation body.
const maxConfirmation = 64 << 10

// edgeNodePattern is an EDGE_NODE_ID.
var edgeNodePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// mayServeEdges: an edge node's service token, or the tenant's admin.
func mayServeEdges(p auth.Principal) error {
	if p.CanActAsEdgeNode("the erasure list") == nil {
		return nil
	}
	return p.CanAdmin()
}

// edge serves the erasure list (GET ?erasures=true) and edge nodes'
// confirmations (POST ?receipt=&edge=).
func (f *Function) edge(req handler.Request, q url.Values) (handler.Response, auth.Principal, url.Values, error) {
	p, err := httpkit.Authenticate(req.Context(), f.auth, req, q, mayServeEdges)
	if err != nil {
		return handler.Response{}, p, q, err
	}
	switch {
	case req.Method == http.MethodGet && q.Has("erasures"):
		if v := q.Get("erasures"); v != "true" {
			return handler.Response{}, p, q, httpkit.Invalid("erasures", "must be true")
		}
		list, err := f.svc.Erasures(req.Context(), p.Tenant)
		if err != nil {
			return handler.Response{}, p, q, err
		}
		if list == nil {
			list = []privacysvc.Erasure{}
		}
		return httpkit.JSON(http.StatusOK, privacysvc.ErasureList{Tenant: p.Tenant, Erasures: list}), p, q, nil
	case req.Method == http.MethodPost && q.Has("edge"):
		node := q.Get("edge")
		if !edgeNodePattern.MatchString(node) {
			return handler.Response{}, p, q, httpkit.Invalid("edge", "want 1-64 characters of A-Z a-z 0-9 . _ -")
		}
		id := q.Get("receipt")
		if !privacysvc.ValidReceiptID(id) {
			return handler.Response{}, p, q, httpkit.Invalid("receipt", "not a receipt id this function handed out")
		}
		if len(req.Body) > maxConfirmation {
			return handler.Response{}, p, q, &httpkit.Error{Status: http.StatusRequestEntityTooLarge, Field: "body", Msg: "too large"}
		}
		t := privacysvc.Tier{State: privacysvc.StateDone}
		if len(req.Body) > 0 {
			var in privacysvc.Tier
			if err := json.Unmarshal(req.Body, &in); err != nil {
				return handler.Response{}, p, q, httpkit.Invalid("body", "not a confirmation: %v", err)
			}
			t.Removed = in.Removed
		}
		found, err := f.svc.ConfirmEdge(req.Context(), p.Tenant, id, node, t)
		if err != nil {
			return handler.Response{}, p, q, err
		}
		if !found {
			return handler.Response{}, p, q, &httpkit.Error{Status: http.StatusNotFound, Field: "receipt", Msg: "no such receipt"}
		}
		return httpkit.JSON(http.StatusOK, map[string]string{"receipt": id, "edge": node, "state": t.State}), p, q, nil
	default:
		return handler.Response{}, p, q, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "GET ?erasures=true or POST ?receipt=&edge="}
	}
}

// mayExport: the tenant's admin, or a device token for its own device.
func mayExport(device string) func(auth.Principal) error {
	return func(p auth.Principal) error {
		if p.Role == auth.RoleDevice && p.Device == device && device != "" {
			return nil
		}
		return p.CanAdmin()
	}
}

// export streams the ZIP. Refusals come before the first byte; a failure
// after it can only cut the response short (the client sees a truncated
// ZIP without its manifest, and the error is logged).
func (f *Function) export(w http.ResponseWriter, r *http.Request, req handler.Request) {
	fail := func(err error) { write(w, httpkit.FromError(err)) }
	q, err := query(req)
	if err != nil {
		fail(err)
		return
	}
	d := q.Get("device")
	p, err := httpkit.Authenticate(r.Context(), f.auth, req, q, mayExport(d))
	if err != nil {
		fail(err)
		return
	}
	if d, err = device(q); err != nil {
		fail(err)
		return
	}
	if format := q.Get("format"); format != "" && format != "zip" {
		fail(httpkit.Invalid("format", "must be zip"))
		return
	}
	// The tiers are checked before the status goes out: an archive that
	// is down is a 503 with Retry-After, not a cut-off ZIP.
	if c, ok := f.svc.(exportChecker); ok {
		if err := c.CheckExport(r.Context(), p.Tenant, d); err != nil {
			fail(err)
			return
		}
	}
	// The export is audited before it starts: once bytes flow, the data
	// has left.
	f.audit(r, p, q, http.StatusOK)
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+d+`.zip"`)
	w.WriteHeader(http.StatusOK)
	if _, err := f.svc.Export(r.Context(), w, p.Tenant, d); err != nil && !errors.Is(err, context.Canceled) {
		httpkit.LoggerFrom(r.Context()).Error("privacy export cut short", "device", d, "err", err)
	}
}

// audit hands a served request to the verifier's audit trail (the guard),
// as the go-http runtime does for the other functions.
func (f *Function) audit(r *http.Request, p auth.Principal, q url.Values, status int) {
	a, ok := f.auth.(httpkit.Auditor)
	if !ok {
		return
	}
	clean := url.Values{}
	for k, v := range q {
		if k != "token" && k != "access_token" {
			clean[k] = v
		}
	}
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	a.Audit(httpkit.Access{Function: "privacy", Method: r.Method, Query: clean, Status: status, Principal: p, Remote: remote, At: f.now()})
}
