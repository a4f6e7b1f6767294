package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEventSignature(t *testing.T) {
	key := []byte("event-key-0123456789abcdef")
	s := NewEventSigner(key)
	good := s.Sign("acme", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest")
	other := NewEventSigner([]byte("another-key-0123456789"))
	cases := []struct {
		name                         string
		signer                       *EventSigner
		tenant, id, typ, source, sig string
		reason                       string // "" = accepted
	}{
		{"valid", s, "acme", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", good, ""},
		{"other tenant", s, "beta", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", good, "invalid event signature"},
		{"tampered id", s, "acme", "id-2", "io.geotrack.location.updated", "urn:geotrack:ingest", good, "invalid event signature"},
		{"tampered type", s, "acme", "id-1", "io.geotrack.trip.ended", "urn:geotrack:ingest", good, "invalid event signature"},
		{"tampered source", s, "acme", "id-1", "io.geotrack.location.updated", "urn:evil", good, "invalid event signature"},
		{"wrong key", other, "acme", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", good, "invalid event signature"},
		{"missing", s, "acme", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", "", "missing bearer token or event signature"},
		{"no tenant", s, "", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", good, "tenant extension"},
		{"not base64url", s, "acme", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", "!!!", "malformed"},
		{"truncated", s, "acme", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", good[:20], "malformed"},
		{"signing off", nil, "acme", "id-1", "io.geotrack.location.updated", "urn:geotrack:ingest", good, "not accepted"},
		// The separator keeps "a\nb" + "c" from signing as "a" + "b\nc".
		{"fields shifted", s, "acme\nid-1", "", "io.geotrack.location.updated", "urn:geotrack:ingest", good, "invalid event signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.signer.VerifyEvent(tc.tenant, tc.id, tc.typ, tc.source, tc.sig)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p != (Principal{Tenant: tc.tenant, Role: RoleService}) {
					t.Fatalf("principal %+v, want the service of %s", p, tc.tenant)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err %v, want unauthenticated: %s", err, tc.reason)
			}
		})
	}
}

func TestLoadEventSigner(t *testing.T) {
	const jwtSecret = "jwt-secret-0123456789abcdef"
	cases := []struct {
		name              string
		file, env, jwtEnv string
		wantKey           []byte // nil: signing off
		wantErr           string
	}{
		{"secret file wins", "file-key-0123456789abcdef", "env-key-0123456789abcdef", jwtSecret, []byte("file-key-0123456789abcdef"), ""},
		{"environment", "", "env-key-0123456789abcdef", jwtSecret, []byte("env-key-0123456789abcdef"), ""},
		{"derived from the JWT secret", "", "", jwtSecret, DeriveEventKey([]byte(jwtSecret)), ""},
		{"OIDC only: off", "", "", "", nil, ""},
		{"too short", "", "short", jwtSecret, nil, "at least 16 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("SECRETS_DIR", dir)
			t.Setenv(EventSigningKeyEnv, tc.env)
			t.Setenv(SecretEnv, tc.jwtEnv)
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, EventSigningKeySecret), []byte(tc.file+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, _, err := LoadEventSigner()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantKey == nil {
				if s != nil {
					t.Fatal("signing on without any key")
				}
				return
			}
			want := NewEventSigner(tc.wantKey).Sign("acme", "i", "t", "s")
			if s == nil || s.Sign("acme", "i", "t", "s") != want {
				t.Fatalf("signer does not use the expected key")
			}
		})
	}
	if string(DeriveEventKey([]byte(jwtSecret))) == jwtSecret {
		t.Fatal("the derived key is the JWT secret itself")
	}
}

// FuzzVerifyEvent: any attributes and signature give a principal or a 401,
// never a panic, and only the signature of exactly those attributes passes.
func FuzzVerifyEvent(f *testing.F) {
	s := NewEventSigner([]byte("event-key-0123456789abcdef"))
	f.Add("acme", "id-1", "io.geotrack.location.updated", "urn:x", s.Sign("acme", "id-1", "io.geotrack.location.updated", "urn:x"))
	f.Add("", "", "", "", "")
	f.Add("acme", "id", "t", "s", "====")
	f.Fuzz(func(t *testing.T, tenant, id, typ, source, sig string) {
		p, err := s.VerifyEvent(tenant, id, typ, source, sig)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v is not unauthenticated", err)
			}
			return
		}
		if sig != s.Sign(tenant, id, typ, source) || p.Tenant != tenant || p.Role != RoleService {
			t.Fatalf("accepted %q for %q/%q/%q/%q as %+v", sig, tenant, id, typ, source, p)
		}
	})
}
