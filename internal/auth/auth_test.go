package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("unit-test-secret-0123456789")

func sign(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	v, err := NewVerifierWithSecret(secret, Config{})
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour).Unix()
	good, _ := Sign(secret, Principal{Tenant: "acme", Role: RoleDevice, Device: "d1"}, time.Hour)
	cases := []struct {
		name  string
		token string
		want  error
		role  Role
	}{
		{"signed by Sign", good, nil, RoleDevice},
		{"viewer", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "acme", "role": "viewer", "exp": future}, secret), nil, RoleViewer},
		{"missing", "", ErrUnauthenticated, ""},
		{"garbage", "abc", ErrUnauthenticated, ""},
		{"expired", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "acme", "role": "viewer", "exp": time.Now().Add(-time.Hour).Unix()}, secret), ErrUnauthenticated, ""},
		{"no exp", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "acme", "role": "viewer"}, secret), ErrUnauthenticated, ""},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "acme", "role": "viewer", "exp": future}, []byte("other-secret-0123456789")), ErrUnauthenticated, ""},
		{"HS384 refused", sign(t, jwt.SigningMethodHS384, jwt.MapClaims{"tenant": "acme", "role": "viewer", "exp": future}, secret), ErrUnauthenticated, ""},
		{"none alg", sign(t, jwt.SigningMethodNone, jwt.MapClaims{"tenant": "acme", "role": "admin", "exp": future}, jwt.UnsafeAllowNoneSignatureType), ErrUnauthenticated, ""},
		{"no tenant", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"role": "viewer", "exp": future}, secret), ErrUnauthenticated, ""},
		{"bad role", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "acme", "role": "root", "exp": future}, secret), ErrUnauthenticated, ""},
		{"device role without device", sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "acme", "role": "device", "exp": future}, secret), ErrUnauthenticated, ""},
		{"RS256 without OIDC", "eyJhbGciOiJSUzI1NiJ9.eyJ0ZW5hbnQiOiJhIn0.c2ln", ErrUnauthenticated, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tc.token)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || p.Role != tc.role || p.Tenant != "acme" {
				t.Fatalf("got %+v, %v", p, err)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	type perm struct{ ingestOwn, ingestOther, read, admin, edgeNode bool }
	cases := map[Role]perm{
		RoleDevice:  {true, false, false, false, false},
		RoleViewer:  {false, false, true, false, false},
		RoleAdmin:   {true, true, true, true, false},
		RoleService: {true, true, false, false, true},
	}
	for role, want := range cases {
		p := Principal{Tenant: "t", Role: role, Device: "own"}
		got := perm{p.CanIngest("own") == nil, p.CanIngest("other") == nil, p.CanRead() == nil, p.CanAdmin() == nil,
			p.CanActAsEdgeNode("sync") == nil}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", role, got, want)
		}
		if err := p.CanIngest("other"); err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v is not ErrForbidden", role, err)
		}
		if err := p.CanActAsEdgeNode("GET ?all=true"); err != nil &&
			(!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "GET ?all=true") || !strings.Contains(err.Error(), string(role))) {
			t.Errorf("%s: %v is not ErrForbidden naming the request and the role", role, err)
		}
	}
}

func TestCredential(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:tok-basic"))
	cases := []struct {
		header, query, want string
	}{
		{"Bearer tok-1", "", "tok-1"},
		{"bearer  tok-2 ", "", "tok-2"},
		{basic, "", "tok-basic"},
		{"", "token=tok-q", "tok-q"},
		{"Digest x", "", ""},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Authorization", tc.header)
		}
		q, _ := url.ParseQuery(tc.query)
		if got := Credential(h, q); got != tc.want {
			t.Errorf("%q %q: got %q, want %q", tc.header, tc.query, got, tc.want)
		}
	}
}

func TestVerifierNeedsAKey(t *testing.T) {
	if _, err := NewVerifierWithSecret(nil, Config{}); err == nil {
		t.Fatal("no secret and no issuer accepted")
	}
	if _, err := NewVerifierWithSecret([]byte("short"), Config{}); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestTokenCacheHonoursExpiry(t *testing.T) {
	var c tokenCache
	now := time.Now()
	p := Principal{Tenant: "t", Role: RoleViewer}
	c.put("a", p, now.Add(time.Minute), now)
	c.put("b", p, now.Add(-time.Second), now)
	if got, ok := c.get("a", now); !ok || got != p {
		t.Fatalf("fresh token not cached: %v %v", got, ok)
	}
	if _, ok := c.get("a", now.Add(2*time.Minute)); ok {
		t.Fatal("cached token used after its expiry")
	}
	if _, ok := c.get("b", now); ok {
		t.Fatal("expired token cached")
	}
	for i := 0; i < tokenCacheSize+5; i++ {
		c.put(fmt.Sprint(i), p, now.Add(time.Minute), now)
	}
	if len(c.entries) > tokenCacheSize {
		t.Fatalf("cache grew to %d", len(c.entries))
	}
}

func TestVerifyTwiceGivesTheSamePrincipal(t *testing.T) {
	v, _ := NewVerifierWithSecret(secret, Config{})
	tok, _ := Sign(secret, Principal{Tenant: "acme", Role: RoleDevice, Device: "d1"}, time.Hour)
	for i := 0; i < 2; i++ {
		p, err := v.Verify(context.Background(), tok)
		if err != nil || p.Device != "d1" || p.Tenant != "acme" {
			t.Fatalf("verify %d: %+v %v", i, p, err)
		}
	}
	// A token with a bad signature is not cached as valid by its look-alike.
	if _, err := v.Verify(context.Background(), tok+"x"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("tampered token: %v", err)
	}
}

// TestLeeway: a token that expired 10s ago passes only within the leeway.
func TestLeeway(t *testing.T) {
	tok := sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "acme", "role": "viewer", "exp": time.Now().Add(-10 * time.Second).Unix()}, secret)
	cases := []struct {
		leeway time.Duration
		ok     bool
	}{{0, false}, {5 * time.Second, false}, {30 * time.Second, true}}
	for _, tc := range cases {
		v, err := NewVerifierWithSecret(secret, Config{Leeway: tc.leeway})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), tok)
		if (err == nil) != tc.ok {
			t.Errorf("leeway %s: err = %v, want accepted=%v", tc.leeway, err, tc.ok)
		}
	}
	if _, err := NewVerifierWithSecret(secret, Config{Leeway: -time.Second}); err == nil {
		t.Error("negative leeway accepted")
	}
}
