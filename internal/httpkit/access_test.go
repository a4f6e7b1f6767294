package httpkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer, xff string
		trusted         bool
		want            string
	}{
		{"no proxies trusted: the peer", "203.0.113.9:4000", "1.2.3.4", false, "203.0.113.9"},
		{"untrusted peer: its XFF ignored", "203.0.113.9:4000", "1.2.3.4", true, "203.0.113.9"},
		{"trusted peer: nearest untrusted hop", "10.1.2.3:4000", "6.6.6.6, 198.51.100.7, 10.9.9.9", true, "198.51.100.7"},
		{"single trusted address", "192.168.1.1:80", "198.51.100.8", true, "198.51.100.8"},
		{"trusted peer, no XFF", "10.1.2.3:4000", "", true, "10.1.2.3"},
		{"garbage hop: the peer", "10.1.2.3:4000", "x; drop", true, "10.1.2.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			var tr = trusted
			if !tc.trusted {
				tr = nil
			}
			if got := clientAddr(r, tr); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/99", "not-an-ip"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Fatalf("TRUSTED_PROXIES %q accepted", bad)
		}
	}
}

// auditingVerifier accepts one token and records what the kit reports.
type auditingVerifier struct {
	mu  sync.Mutex
	got []Access
}

func (v *auditingVerifier) Verify(_ context.Context, token string) (auth.Principal, error) {
	if token != "good" {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	return auth.Principal{Tenant: "acme", Role: auth.RoleAdmin, TokenID: "j1"}, nil
}

func (v *auditingVerifier) Audit(a Access) {
	v.mu.Lock()
	v.got = append(v.got, a)
	v.mu.Unlock()
}

func TestAuthenticatedRequestsReachTheAuditor(t *testing.T) {
	v := &auditingVerifier{}
	fn := handlerFunc(func(req handler.Request) (handler.Response, error) {
		q, _ := url.ParseQuery(req.QueryString)
		_, err := Authenticate(req.Context(), v, req, q, auth.Principal.CanAdmin)
		if err != nil {
			return FromError(err), nil
		}
		if q.Get("fail") != "" {
			return FromError(Invalid("fail", "asked to")), nil
		}
		return handler.Response{StatusCode: http.StatusOK}, nil
	})
	f := start(t, fn, Options{Name: "fences"})
	f.do(t, http.MethodDelete, "/?id=f1&token=good", nil, nil)
	f.do(t, http.MethodDelete, "/?id=f2&token=bad", nil, nil)         // 401: not audited
	f.do(t, http.MethodDelete, "/?id=f3&token=good&fail=1", nil, nil) // 400: not audited
	f.do(t, http.MethodGet, "/_/health", nil, nil)                    // no caller
	if len(v.got) != 1 {
		t.Fatalf("audited %d requests, want 1: %+v", len(v.got), v.got)
	}
	a := v.got[0]
	if a.Function != "fences" || a.Method != http.MethodDelete || a.Query.Get("id") != "f1" || a.Status != 200 ||
		a.Principal.TokenID != "j1" || a.Remote != "127.0.0.1" || a.At.IsZero() {
		t.Fatalf("access %+v", a)
	}
	if a.Query.Has("token") {
		t.Fatal("the token reached the audit record")
	}
}

func TestRetryAfterOfAnError(t *testing.T) {
	r := FromError(&Error{Status: http.StatusTooManyRequests, Msg: "slow down", RetryAfter: 1500_000_000})
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("status %d, Retry-After %q; want 429 and 2 (rounded up)", r.StatusCode, r.Header.Get("Retry-After"))
	}
	err := authFailure(&Error{Status: http.StatusTooManyRequests, Msg: "slow down"})
	if StatusOf(err) != http.StatusTooManyRequests {
		t.Fatalf("a 429 from the verifier became %d", StatusOf(err))
	}
}
