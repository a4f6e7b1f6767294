package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issuer is a real OIDC discovery endpoint and JWKS on loopback.
type issuer struct {
	srv *httptest.Server
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{rsa: rk, ec: ek}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pad := func(n *big.Int) []byte { b := make([]byte, 32); return n.FillBytes(b) }
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig", "n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes())},
			{"kty": "EC", "kid": "e1", "alg": "ES256", "use": "sig", "crv": "P-256", "x": b64(pad(ek.X)), "y": b64(pad(ek.Y))},
		}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) sign(t *testing.T, method jwt.SigningMethod, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	var key any = is.rsa
	if kid == "e1" {
		key = is.ec
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOIDCTokens(t *testing.T) {
	is := newIssuer(t)
	v, err := NewVerifierWithSecret(nil, Config{OIDCIssuer: is.srv.URL, OIDCAudience: "geotrack"})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": is.srv.URL, "aud": "geotrack", "sub": "u1", "tenant": "acme", "role": "viewer",
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	cases := []struct {
		name   string
		method jwt.SigningMethod
		kid    string
		claims jwt.MapClaims
		ok     bool
	}{
		{"RS256", jwt.SigningMethodRS256, "r1", claims(nil), true},
		{"ES256", jwt.SigningMethodES256, "e1", claims(nil), true},
		{"wrong audience", jwt.SigningMethodRS256, "r1", claims(func(c jwt.MapClaims) { c["aud"] = "other" }), false},
		{"wrong issuer", jwt.SigningMethodRS256, "r1", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), false},
		{"expired", jwt.SigningMethodRS256, "r1", claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), false},
		{"no tenant", jwt.SigningMethodRS256, "r1", claims(func(c jwt.MapClaims) { delete(c, "tenant") }), false},
		{"unknown key", jwt.SigningMethodRS256, "nope", claims(nil), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), is.sign(t, tc.method, tc.kid, tc.claims))
			if tc.ok {
				if err != nil || p.Tenant != "acme" || p.Role != RoleViewer {
					t.Fatalf("got %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("want ErrUnauthenticated, got %+v, %v", p, err)
			}
		})
	}
	// With OIDC only, HS256 tokens are refused.
	hs, _ := Sign([]byte("some-secret-0123456789"), Principal{Tenant: "acme", Role: RoleAdmin}, time.Hour)
	if _, err := v.Verify(context.Background(), hs); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("HS256 without a secret: %v", err)
	}
}

func TestOIDCIssuerDownIsNotAnAuthFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	v, _ := NewVerifierWithSecret(nil, Config{OIDCIssuer: srv.URL})
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"tenant": "a"})
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	s, _ := tok.SignedString(key)
	_, err := v.Verify(context.Background(), s)
	if err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("issuer down must be a retryable error, got %v", err)
	}
}
