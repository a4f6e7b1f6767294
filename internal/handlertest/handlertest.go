// Package handlertest holds what the functions' handler tests share: a fake
// token verifier with one token per role, a request builder, and matchers
// that check a handler.Response (status, headers, JSON fields, body), so a
// table row reads as the response it expects.
package handlertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
)

// Tenant is the tenant of every token the fake verifier knows.
const Tenant = "acme"

// Tokens of the fake verifier, one per role. DeviceToken reports for Device.
const (
	AdminToken   = "admin-token"
	ViewerToken  = "viewer-token"
	ServiceToken = "service-token"
	DeviceToken  = "device-token"
	// UndecidableToken makes the verifier fail without an auth error, as an
	// OIDC verifier does while its discovery endpoint is down.
	UndecidableToken = "undecidable-token"
	Device           = "d1"
)

// ErrVerifierDown is what the fake verifier returns for UndecidableToken.
var ErrVerifierDown = errors.New("oidc discovery unreachable")

// Verifier is a fake httpkit.Verifier: the tokens above map to principals
// of Tenant; any other token (or none) is auth.ErrUnauthenticated.
type Verifier struct{}

// Verify implements httpkit.Verifier.
func (Verifier) Verify(_ context.Context, token string) (auth.Principal, error) {
	switch token {
	case AdminToken:
		return auth.Principal{Tenant: Tenant, Role: auth.RoleAdmin}, nil
	case ViewerToken:
		return auth.Principal{Tenant: Tenant, Role: auth.RoleViewer}, nil
	case ServiceToken:
		return auth.Principal{Tenant: Tenant, Role: auth.RoleService}, nil
	case DeviceToken:
		return auth.Principal{Tenant: Tenant, Role: auth.RoleDevice, Device: Device}, nil
	case UndecidableToken:
		return auth.Principal{}, ErrVerifierDown
	case "":
		return auth.Principal{}, fmt.Errorf("%w: missing bearer token", auth.ErrUnauthenticated)
	}
	return auth.Principal{}, fmt.Errorf("%w: unknown token", auth.ErrUnauthenticated)
}

// Request builds a request with a background context. token, when not
// empty, goes into an Authorization: Bearer header; header may be nil.
func Request(method, query, token string, header http.Header, body string) handler.Request {
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	req := handler.Request{Method: method, QueryString: query, Header: h, Body: []byte(body)}
	req.WithContext(context.Background())
	return req
}

// Matcher checks one aspect of a response.
type Matcher func(t testing.TB, resp handler.Response)

// Check applies every matcher to resp, reporting the body on failure.
func Check(t testing.TB, resp handler.Response, matchers ...Matcher) {
	t.Helper()
	for _, m := range matchers {
		m(t, resp)
	}
	if t.Failed() {
		t.Logf("response %d %v\n%s", resp.StatusCode, resp.Header, resp.Body)
	}
}

// Status expects the status code.
func Status(code int) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		if resp.StatusCode != code {
			t.Errorf("status = %d, want %d", resp.StatusCode, code)
		}
	}
}

// Header expects header name to be exactly value.
func Header(name, value string) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		if got := resp.Header.Get(name); got != value {
			t.Errorf("header %s = %q, want %q", name, got, value)
		}
	}
}

// NoHeader expects header name to be absent.
func NoHeader(name string) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		if v, ok := resp.Header[http.CanonicalHeaderKey(name)]; ok {
			t.Errorf("header %s = %q, want none", name, v)
		}
	}
}

// Body expects the body to be exactly body.
func Body(body string) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		if string(resp.Body) != body {
			t.Errorf("body = %q, want %q", resp.Body, body)
		}
	}
}

// BodyContains expects each of parts in the body.
func BodyContains(parts ...string) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		for _, p := range parts {
			if !bytes.Contains(resp.Body, []byte(p)) {
				t.Errorf("body lacks %q", p)
			}
		}
	}
}

// Error expects the uniform error body {"error": ...} containing each part
// (typically the name of the field at fault).
func Error(parts ...string) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(resp.Body, &e); err != nil || e.Error == "" {
			t.Errorf("body is not {\"error\": ...}: %s", resp.Body)
			return
		}
		for _, p := range parts {
			if !strings.Contains(e.Error, p) {
				t.Errorf("error %q lacks %q", e.Error, p)
			}
		}
	}
}

// JSON expects the JSON value at path to equal want (compared as JSON:
// numbers are numbers whatever their Go type). path is dot-separated
// object keys and array indexes ("devices.0.distance_m"); "" is the root.
func JSON(path string, want any) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		got, err := lookup(resp.Body, path)
		if err != nil {
			t.Errorf("JSON %q: %v", path, err)
			return
		}
		wantJSON, err := json.Marshal(want)
		if err != nil {
			t.Fatalf("JSON %q: encode want: %v", path, err)
		}
		var w any
		_ = json.Unmarshal(wantJSON, &w)
		if !reflect.DeepEqual(got, w) {
			gotJSON, _ := json.Marshal(got)
			t.Errorf("JSON %q = %s, want %s", path, gotJSON, wantJSON)
		}
	}
}

// JSONLen expects the array at path to have n elements.
func JSONLen(path string, n int) Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		got, err := lookup(resp.Body, path)
		if err != nil {
			t.Errorf("JSON %q: %v", path, err)
			return
		}
		arr, ok := got.([]any)
		if !ok {
			t.Errorf("JSON %q is %T, not an array", path, got)
			return
		}
		if len(arr) != n {
			t.Errorf("JSON %q has %d elements, want %d", path, len(arr), n)
		}
	}
}

func lookup(body []byte, path string) (any, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	if path == "" {
		return v, nil
	}
	for _, key := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[key]
			if !ok {
				return nil, fmt.Errorf("no key %q", key)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				return nil, fmt.Errorf("no element %q of %d", key, len(node))
			}
			v = node[i]
		default:
			return nil, fmt.Errorf("%q: not an object or array", key)
		}
	}
	return v, nil
}

// Case is one row of a handler table: a request and what its response must be.
type Case struct {
	Name string
	Req  handler.Request
	Want []Matcher
}

// Handler is a function of the pack (the OpenFaaS go-http signature).
type Handler interface {
	Handle(req handler.Request) (handler.Response, error)
}

// Run sends each case's request to h and checks the response. The kit
// answers every failure with a response, so Handle's error must be nil.
func Run(t *testing.T, h Handler, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			resp, err := h.Handle(tc.Req)
			if err != nil {
				t.Fatalf("Handle returned error %v; the kit maps errors to responses", err)
			}
			Check(t, resp, tc.Want...)
		})
	}
}

// AuthCases are the rows every authenticated function shares: no token and
// an unknown token (401 with the challenge header), a verifier that cannot
// decide (503). req builds the function's otherwise valid request.
func AuthCases(req func(token string) handler.Request) []Case {
	unauthenticated := []Matcher{Status(http.StatusUnauthorized), Header("WWW-Authenticate", `Bearer realm="geotrack"`), Error("unauthenticated")}
	return []Case{
		{"no token", req(""), unauthenticated},
		{"unknown token", req("forged"), unauthenticated},
		{"verifier down", req(UndecidableToken), []Matcher{Status(http.StatusServiceUnavailable), Error("auth unavailable")}},
	}
}

// Row builds a Case.
func Row(name string, req handler.Request, want ...Matcher) Case {
	return Case{Name: name, Req: req, Want: want}
}
