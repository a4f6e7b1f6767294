package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"

	"github.com/geotrack/geotrack/internal/config"
)

// Config selects how tokens are verified. HS256 with the shared secret is
// always available when the secret is set; OIDC adds RS256/ES256 tokens from
// an issuer's JWKS.
type Config struct {
	OIDCIssuer   string `envconfig:"OIDC_ISSUER"`
	OIDCAudience string `envconfig:"OIDC_AUDIENCE"`
	// Leeway is how long after its exp an HS256 token is still accepted, to
	// tolerate clock skew between the issuer and the functions. Zero (the
	// zero Config) accepts none; the environment's default is 30s.
	Leeway time.Duration `envconfig:"AUTH_LEEWAY" default:"30s"`
}

// SecretName is the OpenFaaS secret holding the HS256 key; SecretEnv its
// environment fallback.
const (
	SecretName = "jwt-secret"
	SecretEnv  = "GEOTRACK_JWT_SECRET"
)

// tokenClaims is the JWT body geotrack issues and expects.
type tokenClaims struct {
	Tenant string `json:"tenant"`
	Role   Role   `json:"role"`
	Device string `json:"device,omitempty"`
	jwt.RegisteredClaims
}

// Verifier checks bearer tokens.
type Verifier struct {
	secret []byte
	cfg    Config

	oidcMu sync.Mutex
	oidc   *oidc.IDTokenVerifier

	cache tokenCache
}

// NewVerifier reads the HS256 secret (file, then env) and the OIDC settings.
func NewVerifier(cfg Config) (*Verifier, error) {
	secret, err := config.Secret(SecretName, SecretEnv)
	if err != nil {
		return nil, err
	}
	return NewVerifierWithSecret([]byte(secret), cfg)
}

// NewVerifierWithSecret is NewVerifier with an explicit secret.
func NewVerifierWithSecret(secret []byte, cfg Config) (*Verifier, error) {
	if len(secret) == 0 && cfg.OIDCIssuer == "" {
		return nil, fmt.Errorf("auth: set the %s secret (or %s) or OIDC_ISSUER", SecretName, SecretEnv)
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("auth: AUTH_LEEWAY must not be negative")
	}
	if len(secret) > 0 && len(secret) < 16 {
		return nil, fmt.Errorf("auth: %s must be at least 16 bytes", SecretName)
	}
	return &Verifier{secret: secret, cfg: cfg}, nil
}

// Credential extracts the token from a request: a Bearer header, the password
// of Basic auth (OwnTracks, Traccar URLs with user:token@), or ?token= for
// clients that cannot set headers.
func Credential(h http.Header, query url.Values) string {
	authz := h.Get("Authorization")
	if scheme, rest, ok := strings.Cut(authz, " "); ok {
		switch strings.ToLower(scheme) {
		case "bearer":
			return strings.TrimSpace(rest)
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
			if err == nil {
				if _, pass, ok := strings.Cut(string(raw), ":"); ok {
					return pass
				}
			}
		}
	}
	return query.Get("token")
}

// Verify checks token and returns the principal it names.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, fmt.Errorf("%w: missing bearer token (Authorization: Bearer <JWT>)", ErrUnauthenticated)
	}
	now := time.Now()
	if p, ok := v.cache.get(token, now); ok {
		return p, nil
	}
	alg, err := tokenAlg(token)
	if err != nil {
		return Principal{}, err
	}
	var (
		p   Principal
		exp time.Time
	)
	if alg == "HS256" {
		p, exp, err = v.verifyHS256(token)
	} else {
		p, exp, err = v.verifyOIDC(ctx, token)
	}
	if err != nil {
		return Principal{}, err
	}
	if err := p.Valid(); err != nil {
		return Principal{}, err
	}
	v.cache.put(token, p, exp, now)
	return p, nil
}

func (v *Verifier) verifyHS256(token string) (Principal, time.Time, error) {
	if len(v.secret) == 0 {
		return Principal{}, time.Time{}, fmt.Errorf("%w: HS256 tokens are not accepted (no %s configured)", ErrUnauthenticated, SecretName)
	}
	var c tokenClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(v.cfg.Leeway))
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return Principal{Tenant: c.Tenant, Role: c.Role, Device: c.Device}, c.ExpiresAt.Time.Add(v.cfg.Leeway), nil
}

func (v *Verifier) verifyOIDC(ctx context.Context, token string) (Principal, time.Time, error) {
	if v.cfg.OIDCIssuer == "" {
		return Principal{}, time.Time{}, fmt.Errorf("%w: only HS256 tokens are accepted (OIDC_ISSUER not set)", ErrUnauthenticated)
	}
	verifier, err := v.oidcVerifier(ctx)
	if err != nil {
		return Principal{}, time.Time{}, err
	}
	idt, err := verifier.Verify(ctx, token)
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var c tokenClaims
	if err := idt.Claims(&c); err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: claims: %v", ErrUnauthenticated, err)
	}
	if idt.Expiry.IsZero() {
		return Principal{}, time.Time{}, fmt.Errorf("%w: token has no exp", ErrUnauthenticated)
	}
	return Principal{Tenant: c.Tenant, Role: c.Role, Device: c.Device}, idt.Expiry, nil
}

// tokenAlg reads the alg of a JWT's header only: the claims are parsed once,
// by the verifier that checks the signature.
func tokenAlg(token string) (string, error) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", fmt.Errorf("%w: malformed token: not a JWT", ErrUnauthenticated)
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", fmt.Errorf("%w: malformed token header: %v", ErrUnauthenticated, err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Alg == "" {
		return "", fmt.Errorf("%w: token header has no alg", ErrUnauthenticated)
	}
	return h.Alg, nil
}

// Sign issues an HS256 token for p, valid for ttl.
func Sign(secret []byte, p Principal, ttl time.Duration) (string, error) {
	if err := p.Valid(); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", errors.New("auth: ttl must be positive")
	}
	now := time.Now()
	c := tokenClaims{Tenant: p.Tenant, Role: p.Role, Device: p.Device, RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		Issuer:    "geotrack",
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// oidcVerifier runs discovery lazily so a function starts (and reports ready)
// without waiting for the issuer; a failed discovery is retried next time.
func (v *Verifier) oidcVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.oidcMu.Lock()
	defer v.oidcMu.Unlock()
	if v.oidc != nil {
		return v.oidc, nil
	}
	provider, err := oidc.NewProvider(ctx, v.cfg.OIDCIssuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery %s: %w", v.cfg.OIDCIssuer, err)
	}
	v.oidc = provider.Verifier(&oidc.Config{
		ClientID:             v.cfg.OIDCAudience,
		SkipClientIDCheck:    v.cfg.OIDCAudience == "",
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256},
	})
	return v.oidc, nil
}
