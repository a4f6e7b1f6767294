package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	oldKey = "old-secret-0123456789abcdef"
	newKey = "new-secret-0123456789abcdef"
)

func TestParseKeys(t *testing.T) {
	cases := []struct {
		name    string
		raw     string
		want    KeySet
		wantErr string
	}{
		{"plain secret", oldKey + "\n", KeySet{{Secret: oldKey}}, ""},
		{"empty", "  ", nil, ""},
		{"plain too short", "short", nil, "at least 16 bytes"},
		{"json list", `[{"kid":"b","secret":"` + newKey + `"},{"kid":"a","secret":"` + oldKey + `"}]`,
			KeySet{{ID: "b", Secret: newKey}, {ID: "a", Secret: oldKey}}, ""},
		{"newline list", "# rotated 2026-11\nb:" + newKey + "\n\na:" + oldKey + "\n",
			KeySet{{ID: "b", Secret: newKey}, {ID: "a", Secret: oldKey}}, ""},
		{"json unknown field", `[{"kid":"b","secret":"` + newKey + `","alg":"none"}]`, nil, "not a JSON list"},
		{"json trailing text", `[{"kid":"b","secret":"` + newKey + `"}] x`, nil, "after the JSON list"},
		{"json empty list", `[]`, nil, "empty"},
		{"duplicate kid", "a:" + newKey + "\na:" + oldKey, nil, `kid "a" listed twice`},
		{"missing kid", `[{"secret":"` + newKey + `"}]`, nil, "kid must match"},
		{"bad kid", "a b:" + newKey + "\nc:" + oldKey, nil, "kid must match"},
		{"line without colon", "a:" + newKey + "\n" + oldKey, nil, "line 2: want kid:secret"},
		{"short listed secret", "a:" + newKey + "\nb:short", nil, `key "b": secret must be at least 16 bytes`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeys(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), newKey) || strings.Contains(err.Error(), oldKey) {
					t.Fatalf("error quotes a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("key %d: got kid %q, want %q", i, got[i].ID, tc.want[i].ID)
				}
			}
		})
	}
}

func TestSignSetsKidAndJti(t *testing.T) {
	list := "b:" + newKey + "\na:" + oldKey
	tok, err := Sign([]byte(list), Principal{Tenant: "acme", Role: RoleViewer, TokenID: "tok-1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	alg, kid, err := tokenHeader(tok)
	if err != nil || alg != "HS256" || kid != "b" {
		t.Fatalf("header alg=%q kid=%q err=%v, want HS256 and the newest kid b", alg, kid, err)
	}
	v, err := NewVerifierWithSecret([]byte(list), Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.TokenID != "tok-1" || p.IssuedAt.IsZero() {
		t.Fatalf("principal %+v: want jti tok-1 and an iat", p)
	}
	plain, _ := Sign([]byte(oldKey), Principal{Tenant: "acme", Role: RoleViewer}, time.Hour)
	if _, kid, _ := tokenHeader(plain); kid != "" {
		t.Fatalf("a plain secret signs without kid, got %q", kid)
	}
	if _, err := Sign([]byte(list), Principal{Tenant: "acme", Role: RoleViewer, TokenID: "a b"}, time.Hour); err == nil {
		t.Fatal("a jti with a space was accepted")
	}
}

// TestKeyRotationWithoutRestart walks a rotation on a mounted secret: the
// verifier re-reads it, accepts old tokens while the old key is listed and
// refuses them once it is removed.
func TestKeyRotationWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SECRETS_DIR", dir)
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, SecretName), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(oldKey)
	v, err := NewVerifier(Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func(d time.Duration) { v.reloadedAt.Store(now.Add(-d).UnixNano()) }
	ctx := context.Background()
	oldTok, _ := Sign([]byte(oldKey), Principal{Tenant: "acme", Role: RoleViewer}, time.Hour)
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatalf("old token before rotation: %v", err)
	}

	write("new:" + newKey + "\nold:" + oldKey)
	clock(keyReloadInterval)
	newTok, _ := Sign([]byte("new:"+newKey+"\nold:"+oldKey), Principal{Tenant: "acme", Role: RoleViewer}, time.Hour)
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("%s token while both keys are listed: %v", name, err)
		}
	}

	write(`[{"kid":"new","secret":"` + newKey + `"}]`)
	clock(keyReloadInterval)
	if _, err := v.Verify(ctx, oldTok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("old token after its key was removed: err %v, want 401", err)
	}
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("new token after the old key was removed: %v", err)
	}
	oldKid, _ := SignWithKey(Key{ID: "old", Secret: oldKey}, Principal{Tenant: "acme", Role: RoleViewer}, time.Hour)
	if _, err := v.Verify(ctx, oldKid); err == nil || !strings.Contains(err.Error(), `kid "old"`) {
		t.Fatalf("token naming a retired kid: err %v, want one naming the kid", err)
	}

	write("broken\nlist")
	clock(keyReloadInterval)
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("a broken secret must keep the last good keys: %v", err)
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add(oldKey)
	f.Add(`[{"kid":"b","secret":"` + newKey + `"}]`)
	f.Add("b:" + newKey + "\na:" + oldKey)
	f.Add("[")
	f.Fuzz(func(t *testing.T, raw string) {
		keys, err := ParseKeys(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), SecretName) && !strings.HasPrefix(err.Error(), "auth:") {
				t.Fatalf("error does not name the secret: %v", err)
			}
			return
		}
		for _, k := range keys {
			if len(k.Secret) < minKeyBytes {
				t.Fatalf("accepted a %d-byte secret", len(k.Secret))
			}
		}
	})
}

// TestVerdictOfRetiredKeysIsNotCached: a token verified while the keys
// changed (its check began before the reset) is not kept in the cache.
func TestVerdictOfRetiredKeysIsNotCached(t *testing.T) {
	var c tokenCache
	now := time.Now()
	p := Principal{Tenant: "acme", Role: RoleViewer}
	gen := c.generation()
	c.reset() // the keys changed meanwhile
	c.putUnlessReset("old", p, now.Add(time.Hour), now, gen)
	if _, ok := c.get("old", now); ok {
		t.Fatal("a verdict from before the reset was cached")
	}
	c.putUnlessReset("new", p, now.Add(time.Hour), now, c.generation())
	if _, ok := c.get("new", now); !ok {
		t.Fatal("a verdict after the reset was not cached")
	}
}
