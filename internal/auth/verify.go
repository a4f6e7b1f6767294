package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
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

	// The tenant policy every Redis-backed function applies after the
	// signature (internal/guard, wired in functions/wire_security.go). Zero
	// values (the zero Config) mean no limits and a 1s poll.
	//
	// MaxTokenLifetime is how long a revocation is kept: the longest a
	// token the deployment issues lives (geotrack token --ttl).
	MaxTokenLifetime time.Duration `envconfig:"AUTH_MAX_TOKEN_LIFETIME" default:"720h"`
	// RevocationPoll is how often each process polls the policy version:
	// a revocation takes effect within about this long.
	RevocationPoll time.Duration `envconfig:"AUTH_REVOCATION_POLL" default:"1s"`
	// Requests per second (and burst) of a tenant, and of one device token;
	// 0 (the default: geotrack dev, tests and benches) turns a limit off;
	// stack.yml sets them for the device-facing functions. Per replica: a
	// deployment admits replicas × the rate.
	RateLimitTenant      float64 `envconfig:"RATE_LIMIT_TENANT" default:"0"`
	RateLimitTenantBurst int     `envconfig:"RATE_LIMIT_TENANT_BURST" default:"0"`
	RateLimitDevice      float64 `envconfig:"RATE_LIMIT_DEVICE" default:"0"`
	RateLimitDeviceBurst int     `envconfig:"RATE_LIMIT_DEVICE_BURST" default:"0"`
	// Fixes per second (and burst) a tenant may store through ingest and
	// edge-ingest, whatever the batch size; 0 turns it off.
	RateLimitTenantFixes      float64 `envconfig:"RATE_LIMIT_TENANT_FIXES" default:"0"`
	RateLimitTenantFixesBurst int     `envconfig:"RATE_LIMIT_TENANT_FIXES_BURST" default:"0"`
	// RateLimitTenantInflight bounds a tenant's requests in progress at
	// once per replica, checked before the body is read, so a flooding
	// tenant cannot queue ahead of the others; 0 turns it off.
	RateLimitTenantInflight int `envconfig:"RATE_LIMIT_TENANT_INFLIGHT" default:"0"`
	// RateLimitTarpit holds each 429 of those limits (refused before the
	// body is read) this long before answering, on a timer, so a client
	// ignoring 429 waits instead of spending the server's CPU (at most
	// 5s; 0: answer at once). RateLimitTarpitMax bounds a tenant's held
	// refusals per replica; past it a 429 goes out at once with
	// "Connection: close".
	RateLimitTarpit    time.Duration `envconfig:"RATE_LIMIT_TARPIT" default:"1s"`
	RateLimitTarpitMax int           `envconfig:"RATE_LIMIT_TARPIT_MAX" default:"64"`
	// AuditRetention is how long audit entries are kept in Redis.
	AuditRetention time.Duration `envconfig:"AUDIT_RETENTION" default:"2160h"`
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
	cfg Config

	// keys are the HS256 keys (newest first); reload, when set, re-reads
	// the secret so a rotated key list applies without a restart. The
	// fast path is two atomic loads; keysMu serialises the re-reads.
	keysMu     sync.Mutex
	keys       atomic.Pointer[KeySet]
	keysRaw    string
	reload     func() (string, error)
	reloadedAt atomic.Int64 // unix nanos of the last re-read

	oidcMu sync.Mutex
	oidc   *oidc.IDTokenVerifier

	cache tokenCache
}

// keyReloadInterval is how often the verifier re-reads the jwt-secret
// secret (a mounted file Kubernetes updates in place) for a rotated list.
const keyReloadInterval = 5 * time.Second

// NewVerifier reads the HS256 keys (the jwt-secret file, then env: a plain
// secret or a key list, see ParseKeys) and the OIDC settings. The secret is
// re-read every few seconds, so a rotation needs no restart.
func NewVerifier(cfg Config) (*Verifier, error) {
	load := func() (string, error) { return config.Secret(SecretName, SecretEnv) }
	secret, err := load()
	if err != nil {
		return nil, err
	}
	v, err := NewVerifierWithSecret([]byte(secret), cfg)
	if err != nil {
		return nil, err
	}
	v.reload = load
	return v, nil
}

// NewVerifierWithSecret is NewVerifier with an explicit secret (a plain
// secret or a key list), never re-read.
func NewVerifierWithSecret(secret []byte, cfg Config) (*Verifier, error) {
	if len(secret) == 0 && cfg.OIDCIssuer == "" {
		return nil, fmt.Errorf("auth: set the %s secret (or %s) or OIDC_ISSUER", SecretName, SecretEnv)
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("auth: AUTH_LEEWAY must not be negative")
	}
	keys, err := ParseKeys(string(secret))
	if err != nil {
		return nil, err
	}
	v := &Verifier{keysRaw: string(secret), cfg: cfg}
	v.keys.Store(&keys)
	v.reloadedAt.Store(time.Now().UnixNano())
	return v, nil
}

// currentKeys returns the key list, re-reading the secret when it is due.
// A secret that no longer parses keeps the last good list (logged by the
// caller's 401s never: the old keys simply stay in force).
func (v *Verifier) currentKeys(now time.Time) KeySet {
	if v.reload == nil || now.UnixNano()-v.reloadedAt.Load() < int64(keyReloadInterval) {
		return *v.keys.Load()
	}
	v.keysMu.Lock()
	defer v.keysMu.Unlock()
	if now.UnixNano()-v.reloadedAt.Load() < int64(keyReloadInterval) {
		return *v.keys.Load() // another request re-read it meanwhile
	}
	v.reloadedAt.Store(now.UnixNano())
	raw, err := v.reload()
	if err != nil || raw == v.keysRaw {
		return *v.keys.Load()
	}
	keys, err := ParseKeys(raw)
	if err != nil || len(keys) == 0 {
		slog.Warn("auth: the changed "+SecretName+" secret is not a valid key list; keeping the previous keys", "err", err)
		return *v.keys.Load()
	}
	v.keys.Store(&keys)
	v.keysRaw = raw
	v.cache.reset() // a removed key must not live on in cached verdicts
	return keys
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
	gen := v.cache.generation()
	keys := v.currentKeys(now)
	if p, ok := v.cache.get(token, now); ok {
		return p, nil
	}
	alg, kid, err := tokenHeader(token)
	if err != nil {
		return Principal{}, err
	}
	var (
		p   Principal
		exp time.Time
	)
	if alg == "HS256" {
		p, exp, err = v.verifyHS256(token, keys, kid)
	} else {
		p, exp, err = v.verifyOIDC(ctx, token)
	}
	if err != nil {
		return Principal{}, err
	}
	if err := p.Valid(); err != nil {
		return Principal{}, err
	}
	v.cache.putUnlessReset(token, p, exp, now, gen)
	return p, nil
}

func (v *Verifier) verifyHS256(token string, keys KeySet, kid string) (Principal, time.Time, error) {
	if len(keys) == 0 {
		return Principal{}, time.Time{}, fmt.Errorf("%w: HS256 tokens are not accepted (no %s configured)", ErrUnauthenticated, SecretName)
	}
	candidates := keys.candidates(kid)
	if len(candidates) == 0 {
		return Principal{}, time.Time{}, fmt.Errorf("%w: token kid %q is not one of the keys in %s (retired?)", ErrUnauthenticated, clipKid(kid), SecretName)
	}
	var err error
	for _, k := range candidates {
		var c tokenClaims
		_, err = jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return []byte(k.Secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(v.cfg.Leeway))
		if err == nil {
			return c.principal(), c.ExpiresAt.Time.Add(v.cfg.Leeway), nil
		}
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			break // expired, malformed...: another key would not change that
		}
	}
	return Principal{}, time.Time{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
}

// principal is who the verified claims name.
func (c tokenClaims) principal() Principal {
	p := Principal{Tenant: c.Tenant, Role: c.Role, Device: c.Device, TokenID: c.ID, Subject: c.Subject}
	if c.IssuedAt != nil {
		p.IssuedAt = c.IssuedAt.Time
	}
	return p
}

// clipKid bounds an attacker-chosen kid in error messages.
func clipKid(kid string) string {
	if len(kid) > 64 {
		return kid[:64] + "..."
	}
	return kid
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
	return c.principal(), idt.Expiry, nil
}

// tokenHeader reads the alg and kid of a JWT's header only: the claims are
// parsed once, by the verifier that checks the signature.
func tokenHeader(token string) (alg, kid string, err error) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", fmt.Errorf("%w: malformed token: not a JWT", ErrUnauthenticated)
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", "", fmt.Errorf("%w: malformed token header: %v", ErrUnauthenticated, err)
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Alg == "" {
		return "", "", fmt.Errorf("%w: token header has no alg", ErrUnauthenticated)
	}
	return h.Alg, h.Kid, nil
}

// Sign issues an HS256 token for p, valid for ttl, signed with the newest
// key of secret (a plain secret or a key list, see ParseKeys) and naming
// it in kid. The token's jti is p.TokenID, or a new random id.
func Sign(secret []byte, p Principal, ttl time.Duration) (string, error) {
	keys, err := ParseKeys(string(secret))
	if err != nil {
		return "", err
	}
	key, ok := keys.Signing()
	if !ok {
		return "", fmt.Errorf("auth: no %s to sign with", SecretName)
	}
	return SignWithKey(key, p, ttl)
}

// SignWithKey is Sign with one key.
func SignWithKey(key Key, p Principal, ttl time.Duration) (string, error) {
	if err := p.Valid(); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", errors.New("auth: ttl must be positive")
	}
	jti := p.TokenID
	if jti == "" {
		jti = NewTokenID()
	}
	if !tokenIDPattern.MatchString(jti) {
		return "", fmt.Errorf("auth: token id must match %s", tokenIDPattern)
	}
	now := time.Now()
	c := tokenClaims{Tenant: p.Tenant, Role: p.Role, Device: p.Device, RegisteredClaims: jwt.RegisteredClaims{
		ID:        jti,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		Issuer:    "geotrack",
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	if key.ID != "" {
		t.Header["kid"] = key.ID
	}
	return t.SignedString([]byte(key.Secret))
}

// tokenIDPattern is what a jti must look like to be revocable by URL.
var tokenIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidTokenID reports whether id can be a jti geotrack revokes.
func ValidTokenID(id string) bool { return tokenIDPattern.MatchString(id) }

// NewTokenID is a random jti: 16 bytes, hex.
func NewTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
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
