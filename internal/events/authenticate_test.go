package events_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/httpkit"
)

var (
	signer  = auth.NewEventSigner([]byte("event-key-0123456789abcdef"))
	another = auth.NewEventSigner([]byte("another-key-0123456789abcdef"))
)

const (
	updated = "io.geotrack.location.updated"
	source  = "urn:geotrack:ingest"
)

// signedEvent is a structured-mode event of tenant with id and typ, whose
// geotracksig is sig (see sign).
func signedEvent(tenant, id, typ, sig string) string {
	ext := ""
	if tenant != "" {
		ext += `,"tenant":"` + tenant + `"`
	}
	if sig != "" {
		ext += `,"geotracksig":"` + sig + `"`
	}
	return `{"specversion":"1.0","id":"` + id + `","source":"` + source + `","type":"` + typ + `","subject":"d1"` + ext +
		`,"datacontenttype":"application/json","data":[{"ts":"2026-11-29T08:00:00Z","lat":1,"lon":2}]}`
}

func sign(s *auth.EventSigner, tenant, id, typ string) string { return s.Sign(tenant, id, typ, source) }

func request(token, contentType, body string) handler.Request {
	return ht.Request(http.MethodPost, "", token, http.Header{"Content-Type": {contentType}}, body)
}

func TestAuthenticateDelivery(t *testing.T) {
	binary := ht.Request(http.MethodPost, "", "", http.Header{
		"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"b1"}, "Ce-Source": {source},
		"Ce-Type": {updated}, "Ce-Tenant": {"acme"}, "Ce-Geotracksig": {sign(signer, "acme", "b1", updated)},
	}, `[{"device":"d1","ts":"2026-11-29T08:00:00Z","lat":1,"lon":2}]`)
	serviceOnly := func(p auth.Principal) error {
		if p.Role == auth.RoleService || p.Role == auth.RoleAdmin {
			return nil
		}
		return auth.ErrForbidden
	}
	adminOnly := auth.Principal.CanAdmin
	cases := []struct {
		name   string
		signer *auth.EventSigner
		req    handler.Request
		need   func(auth.Principal) error
		status int    // 0: accepted
		reason string // in the error
		tenant string // accepted: the principal's tenant
		events int
	}{
		{"signed structured event, no header", signer, request("", events.MediaStructured, signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))), serviceOnly, 0, "", "acme", 1},
		{"signed batch, no header", signer, request("", events.MediaBatch, "["+signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))+","+
			signedEvent("acme", "e2", updated, sign(signer, "acme", "e2", updated))+"]"), serviceOnly, 0, "", "acme", 2},
		{"signed binary-mode event", signer, binary, serviceOnly, 0, "", "acme", 1},
		{"signed for another tenant", signer, request("", events.MediaStructured, signedEvent("beta", "e1", updated, sign(signer, "acme", "e1", updated))), serviceOnly,
			http.StatusUnauthorized, "invalid event signature", "", 0},
		{"tampered id", signer, request("", events.MediaStructured, signedEvent("acme", "e2", updated, sign(signer, "acme", "e1", updated))), serviceOnly,
			http.StatusUnauthorized, "invalid event signature", "", 0},
		{"tampered type", signer, request("", events.MediaStructured, signedEvent("acme", "e1", "io.geotrack.trip.ended", sign(signer, "acme", "e1", updated))), serviceOnly,
			http.StatusUnauthorized, "invalid event signature", "", 0},
		{"wrong key", signer, request("", events.MediaStructured, signedEvent("acme", "e1", updated, sign(another, "acme", "e1", updated))), serviceOnly,
			http.StatusUnauthorized, "invalid event signature", "", 0},
		{"missing signature", signer, request("", events.MediaStructured, signedEvent("acme", "e1", updated, "")), serviceOnly,
			http.StatusUnauthorized, "missing bearer token or event signature", "", 0},
		{"one unsigned event in a batch", signer, request("", events.MediaBatch, "["+signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))+","+
			signedEvent("acme", "e2", updated, "")+"]"), serviceOnly, http.StatusUnauthorized, "event 1: unauthenticated: missing", "", 0},
		{"two tenants in one delivery", signer, request("", events.MediaBatch, "["+signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))+","+
			signedEvent("beta", "e2", updated, sign(signer, "beta", "e2", updated))+"]"), serviceOnly, http.StatusForbidden, "one tenant's events", "", 0},
		{"signing off", nil, request("", events.MediaStructured, signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))), serviceOnly,
			http.StatusUnauthorized, "not accepted", "", 0},
		{"plain body, no header", signer, request("", "application/json", `[{"device":"d1","ts":"2026-11-29T08:00:00Z","lat":1,"lon":2}]`), serviceOnly,
			http.StatusUnauthorized, "missing bearer token or event signature", "", 0},
		{"undecodable, no header", signer, request("", events.MediaStructured, "{"), serviceOnly,
			http.StatusUnauthorized, "missing bearer token or signed CloudEvents", "", 0},
		{"signed, but the function needs an admin", signer, request("", events.MediaStructured, signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))), adminOnly,
			http.StatusForbidden, "not admin", "", 0},
		{"bearer token", signer, request(ht.ServiceToken, events.MediaStructured, signedEvent("acme", "e1", updated, "")), serviceOnly, 0, "", ht.Tenant, 1},
		{"bearer token, another tenant's event", signer, request(ht.ServiceToken, events.MediaStructured, signedEvent("beta", "e1", updated, sign(signer, "beta", "e1", updated))), serviceOnly,
			http.StatusForbidden, `is for tenant "beta" but the token is for "acme"`, "", 0},
		{"bad bearer token beats a valid signature", signer, request("forged", events.MediaStructured, signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))), serviceOnly,
			http.StatusUnauthorized, "unknown token", "", 0},
		{"bearer token, bad body", signer, request(ht.ServiceToken, events.MediaStructured, "{"), serviceOnly, http.StatusBadRequest, "body", "", 0},
		{"bearer token, role refused", signer, request(ht.ViewerToken, events.MediaStructured, signedEvent("acme", "e1", updated, "")), serviceOnly, http.StatusForbidden, "forbidden", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, envs, err := events.AuthenticateDelivery(context.Background(), ht.Verifier{}, tc.signer, tc.req, nil, tc.need)
			if tc.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if p.Tenant != tc.tenant || p.Role != auth.RoleService || len(envs) != tc.events {
					t.Fatalf("principal %+v with %d events, want the service of %s with %d", p, len(envs), tc.tenant, tc.events)
				}
				return
			}
			if got := httpkit.StatusOf(err); got != tc.status || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("%d %v, want %d naming %q", got, err, tc.status, tc.reason)
			}
			if envs != nil {
				t.Fatal("events returned with a refusal")
			}
		})
	}
}

// FuzzAuthenticateDelivery: without a credential, any body is either
// refused with 401/403 or accepted as the service of the tenant every one of
// its events is signed for; never a panic or another status.
func FuzzAuthenticateDelivery(f *testing.F) {
	f.Add(events.MediaStructured, signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated)))
	f.Add(events.MediaBatch, "["+signedEvent("acme", "e1", updated, sign(signer, "acme", "e1", updated))+"]")
	f.Add("application/json", `{"device":"d"}`)
	f.Add(events.MediaStructured, "{")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		p, envs, err := events.AuthenticateDelivery(context.Background(), ht.Verifier{}, signer, request("", contentType, body), nil, nil)
		if err != nil {
			if s := httpkit.StatusOf(err); s != http.StatusUnauthorized && s != http.StatusForbidden {
				t.Fatalf("status %d for %v", s, err)
			}
			return
		}
		for _, e := range envs {
			if e.Tenant != p.Tenant || e.Signature != signer.Sign(e.Tenant, e.ID, e.Type, e.Source) {
				t.Fatalf("accepted event %+v as %+v", e, p)
			}
		}
	})
}
