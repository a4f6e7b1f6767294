package httpkit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/httpkit"
)

var secret = []byte("gate-test-secret-0123456789")

// rs256 is an unsigned-looking RS256 token: it is routed to OIDC.
const rs256 = "eyJhbGciOiJSUzI1NiJ9.eyJ0ZW5hbnQiOiJhIn0.c2ln"

func verifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifierWithSecret(secret, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func token(t *testing.T, key []byte, p auth.Principal) string {
	t.Helper()
	s, err := auth.Sign(key, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unreachableOIDC is a verifier whose OIDC discovery fails: a non-auth error.
func unreachableOIDC(t *testing.T) *auth.Verifier {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	return verifier(t, auth.Config{OIDCIssuer: srv.URL})
}

func request(method, query string, header http.Header) handler.Request {
	if header == nil {
		header = http.Header{}
	}
	req := handler.Request{Method: method, QueryString: query, Header: header}
	req.WithContext(context.Background())
	return req
}

func bearer(tok string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	return h
}

func basic(user, pass string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	return h
}

// denial is the response a denied request gets; nil when err is nil.
func denial(err error) *handler.Response {
	if err == nil {
		return nil
	}
	r := httpkit.FromError(err)
	return &r
}

// checkDenied asserts r is a JSON error response with status and message part.
func checkDenied(t *testing.T, r *handler.Response, status int, msgPart string) {
	t.Helper()
	if r == nil {
		t.Fatalf("no response, want %d", status)
	}
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d (%s)", r.StatusCode, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	if !strings.Contains(body.Error, msgPart) {
		t.Fatalf("error %q does not contain %q", body.Error, msgPart)
	}
	wantAuth := ""
	if status == http.StatusUnauthorized {
		wantAuth = `Bearer realm="geotrack"`
	}
	if got := r.Header.Get("WWW-Authenticate"); got != wantAuth {
		t.Fatalf("WWW-Authenticate %q, want %q", got, wantAuth)
	}
	// Only the outage (503) is worth retrying.
	if got, retry := r.Header.Get("Retry-After"), status == http.StatusServiceUnavailable; (got != "") != retry {
		t.Fatalf("Retry-After %q for status %d", got, status)
	}
}

func TestFromErrorAuth(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		msg    string
	}{
		{"unauthenticated", auth.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
		{"wrapped unauthenticated", fmt.Errorf("%w: token expired", auth.ErrUnauthenticated), http.StatusUnauthorized, "token expired"},
		{"forbidden", fmt.Errorf("%w: role viewer is not admin", auth.ErrForbidden), http.StatusForbidden, "not admin"},
		{"other is ours", errors.New("redis: connection refused"), http.StatusInternalServerError, "redis: connection refused"},
		{"issuer outage", dependency.Unavailable("auth", errors.New("oidc discovery: connection refused")), http.StatusServiceUnavailable, "auth unavailable: oidc discovery"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httpkit.FromError(tc.err)
			checkDenied(t, &r, tc.status, tc.msg)
		})
	}
}

func TestAuthenticate(t *testing.T) {
	v := verifier(t, auth.Config{})
	viewer := token(t, secret, auth.Principal{Tenant: "acme", Role: auth.RoleViewer})
	device := token(t, secret, auth.Principal{Tenant: "acme", Role: auth.RoleDevice, Device: "d1"})
	admin := token(t, secret, auth.Principal{Tenant: "acme", Role: auth.RoleAdmin})
	forged := token(t, []byte("another-secret-0123456789"), auth.Principal{Tenant: "acme", Role: auth.RoleAdmin})

	cases := []struct {
		name   string
		v      httpkit.Verifier
		header http.Header
		query  url.Values
		need   func(auth.Principal) error
		status int // 0: allowed
		msg    string
		role   auth.Role
	}{
		{name: "viewer reads", v: v, header: bearer(viewer), need: auth.Principal.CanRead, role: auth.RoleViewer},
		{name: "no need", v: v, header: bearer(device), role: auth.RoleDevice},
		{name: "token in query", v: v, query: url.Values{"token": {admin}}, need: auth.Principal.CanAdmin, role: auth.RoleAdmin},
		{name: "basic auth password", v: v, header: basic("d1", device), need: func(p auth.Principal) error { return p.CanIngest("d1") }, role: auth.RoleDevice},
		{name: "no token", v: v, need: auth.Principal.CanRead, status: http.StatusUnauthorized, msg: "missing bearer token"},
		{name: "garbage token", v: v, header: bearer("not-a-jwt"), status: http.StatusUnauthorized, msg: "malformed token"},
		{name: "wrong secret", v: v, header: bearer(forged), status: http.StatusUnauthorized, msg: "unauthenticated"},
		{name: "RS256 without OIDC", v: v, header: bearer(rs256), status: http.StatusUnauthorized, msg: "OIDC_ISSUER not set"},
		{name: "device may not read", v: v, header: bearer(device), need: auth.Principal.CanRead, status: http.StatusForbidden, msg: "may not read"},
		{name: "viewer may not admin", v: v, header: bearer(viewer), need: auth.Principal.CanAdmin, status: http.StatusForbidden, msg: "not admin"},
		{name: "device for another device", v: v, header: bearer(device), need: func(p auth.Principal) error { return p.CanIngest("d2") }, status: http.StatusForbidden, msg: `"d2"`},
		{name: "OIDC discovery down", v: unreachableOIDC(t), header: bearer(rs256), status: http.StatusServiceUnavailable, msg: "auth unavailable"},
		{name: "need fails with a non-auth error", v: v, header: bearer(viewer), need: func(auth.Principal) error { return errors.New("backend down") }, status: http.StatusServiceUnavailable, msg: "backend down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := request(http.MethodGet, "", tc.header)
			q := tc.query
			if q == nil {
				q = url.Values{}
			}
			p, err := httpkit.Authenticate(context.Background(), tc.v, req, q, tc.need)
			if tc.status != 0 {
				checkDenied(t, denial(err), tc.status, tc.msg)
				if p != (auth.Principal{}) {
					t.Fatalf("principal %+v returned with a denial", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("denied: %v", err)
			}
			if p.Tenant != "acme" || p.Role != tc.role {
				t.Fatalf("principal %+v, want acme/%s", p, tc.role)
			}
		})
	}
}

func TestAuthorizeRead(t *testing.T) {
	v := verifier(t, auth.Config{})
	viewer := token(t, secret, auth.Principal{Tenant: "acme", Role: auth.RoleViewer})
	device := token(t, secret, auth.Principal{Tenant: "acme", Role: auth.RoleDevice, Device: "d1"})

	cases := []struct {
		name   string
		v      httpkit.Verifier
		method string
		query  string
		header http.Header
		status int
		msg    string
		wantQ  string // expected value of ?device= when allowed
	}{
		{name: "GET viewer", v: v, method: http.MethodGet, query: "device=d1&limit=5", header: bearer(viewer), wantQ: "d1"},
		{name: "HEAD viewer", v: v, method: http.MethodHead, query: "device=d2", header: bearer(viewer), wantQ: "d2"},
		{name: "token in query string", v: v, method: http.MethodGet, query: "device=d3&token=" + url.QueryEscape(viewer), wantQ: "d3"},
		{name: "POST", v: v, method: http.MethodPost, header: bearer(viewer), status: http.StatusMethodNotAllowed, msg: "use GET"},
		{name: "DELETE", v: v, method: http.MethodDelete, header: bearer(viewer), status: http.StatusMethodNotAllowed, msg: "use GET"},
		{name: "POST before auth", v: v, method: http.MethodPost, status: http.StatusMethodNotAllowed, msg: "use GET"},
		{name: "bad query", v: v, method: http.MethodGet, query: "device=%zz", header: bearer(viewer), status: http.StatusBadRequest, msg: "query: "},
		{name: "bad query before auth", v: v, method: http.MethodGet, query: "a=%", status: http.StatusBadRequest, msg: "query: "},
		{name: "no token", v: v, method: http.MethodGet, status: http.StatusUnauthorized, msg: "missing bearer token"},
		{name: "device token", v: v, method: http.MethodGet, header: bearer(device), status: http.StatusForbidden, msg: "may not read"},
		{name: "OIDC discovery down", v: unreachableOIDC(t), method: http.MethodGet, header: bearer(rs256), status: http.StatusServiceUnavailable, msg: "auth unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, q, err := httpkit.AuthorizeRead(tc.v, request(tc.method, tc.query, tc.header))
			if tc.status != 0 {
				checkDenied(t, denial(err), tc.status, tc.msg)
				if p != (auth.Principal{}) {
					t.Fatalf("principal %+v returned with a denial", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("denied: %v", err)
			}
			if p.Tenant != "acme" || p.Role != auth.RoleViewer {
				t.Fatalf("principal %+v", p)
			}
			if q.Get("device") != tc.wantQ {
				t.Fatalf("query %v, want device=%s", q, tc.wantQ)
			}
		})
	}
}
