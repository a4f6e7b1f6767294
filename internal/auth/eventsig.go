package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/eventtype"
)

// Event signatures let an event-triggered function trust a delivery that
// carries no Authorization header (the OpenFaaS NATS connector and a Knative
// Trigger add none): the emitter's relay signs every event it sends, and a
// receiver takes an event whose signature is valid for its tenant as coming
// from a service principal of that tenant.
//
// The signature is the CloudEvent extension attribute geotracksig =
// base64url(HMAC-SHA256(key, "v1\n" + tenant + "\n" + id + "\n" + type +
// "\n" + source)), tenant being the event's tenant extension. It binds the
// event's identity to its tenant, not its data: it keeps one tenant's
// deliveries from being passed off as another's and unsigned posts out, and
// relies on the transport (cluster network, NATS credentials) for the rest.
const (
	// EventSigningKeySecret is the OpenFaaS secret with the signing key;
	// EventSigningKeyEnv its environment fallback.
	EventSigningKeySecret = "event-signing-key"
	EventSigningKeyEnv    = "EVENT_SIGNING_KEY"
)

// eventKeyLabel derives the signing key from the HS256 JWT secret when no
// event-signing-key is set, so existing deployments sign without a new
// secret; the label keeps the two keys distinct (an event signature is never
// a valid JWT signature or the reverse).
const eventKeyLabel = "geotrack event-signing-key v1"

// EventSigner signs and checks event signatures with one key.
type EventSigner struct {
	key []byte
}

// NewEventSigner returns a signer with key, or nil (signing off) if key is
// empty.
func NewEventSigner(key []byte) *EventSigner {
	if len(key) == 0 {
		return nil
	}
	return &EventSigner{key: key}
}

// DeriveEventKey is the signing key used when only the JWT secret is set:
// HMAC-SHA256(jwtSecret, "geotrack event-signing-key v1").
func DeriveEventKey(jwtSecret []byte) []byte {
	m := hmac.New(sha256.New, jwtSecret)
	m.Write([]byte(eventKeyLabel))
	return m.Sum(nil)
}

// LoadEventSigner reads the event-signing-key secret (file, then
// EVENT_SIGNING_KEY), else derives the key from the jwt-secret (file, then
// GEOTRACK_JWT_SECRET). With neither (an OIDC-only deployment) it returns
// nil: events are not signed and only bearer tokens are accepted. from says
// where the key came from, for the start-up log.
func LoadEventSigner() (s *EventSigner, from string, err error) {
	key, err := config.Secret(EventSigningKeySecret, EventSigningKeyEnv)
	if err != nil {
		return nil, "", err
	}
	if key != "" {
		if len(key) < 16 {
			return nil, "", fmt.Errorf("auth: %s must be at least 16 bytes", EventSigningKeySecret)
		}
		return NewEventSigner([]byte(key)), EventSigningKeySecret, nil
	}
	jwtSecret, err := config.Secret(SecretName, SecretEnv)
	if err != nil {
		return nil, "", err
	}
	if jwtSecret == "" {
		return nil, "", nil
	}
	return NewEventSigner(DeriveEventKey([]byte(jwtSecret))), "derived from " + SecretName, nil
}

// Sign returns the geotracksig value of an event.
func (s *EventSigner) Sign(tenant, id, typ, source string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(tenant, id, typ, source))
}

func (s *EventSigner) mac(tenant, id, typ, source string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("v1\n" + tenant + "\n" + id + "\n" + typ + "\n" + source))
	return m.Sum(nil)
}

// VerifyEvent checks sig against the event's tenant, id, type and source and
// returns the principal a valid signature stands for: the service of that
// tenant. A nil signer (signing off) accepts nothing. Errors wrap
// ErrUnauthenticated and say why.
func (s *EventSigner) VerifyEvent(tenant, id, typ, source, sig string) (Principal, error) {
	if sig == "" {
		return Principal{}, fmt.Errorf("%w: missing bearer token or event signature (extension %s)", ErrUnauthenticated, eventtype.ExtSignature)
	}
	if s == nil {
		return Principal{}, fmt.Errorf("%w: event signatures are not accepted (no %s or %s configured): send a bearer token", ErrUnauthenticated, EventSigningKeySecret, SecretName)
	}
	if tenant == "" {
		return Principal{}, fmt.Errorf("%w: a signed event needs the tenant extension", ErrUnauthenticated)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(raw) != sha256.Size {
		return Principal{}, fmt.Errorf("%w: malformed event signature (extension %s)", ErrUnauthenticated, eventtype.ExtSignature)
	}
	if !hmac.Equal(raw, s.mac(tenant, id, typ, source)) {
		return Principal{}, fmt.Errorf("%w: invalid event signature (extension %s) for tenant %q: wrong key, or tenant, id, type or source changed", ErrUnauthenticated, eventtype.ExtSignature, tenant)
	}
	p := Principal{Tenant: tenant, Role: RoleService}
	if err := p.Valid(); err != nil {
		return Principal{}, err
	}
	return p, nil
}
