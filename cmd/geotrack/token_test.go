package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/auth"
)

func TestTokenErrorsNameTheMissingFlag(t *testing.T) {
	// No secret anywhere: the flag errors must come first regardless.
	t.Setenv(auth.SecretEnv, "")
	t.Setenv("SECRETS_DIR", t.TempDir())
	t.Chdir(t.TempDir())
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "--tenant and --role"},
		{"no role", []string{"--tenant", "demo"}, "--role"},
		{"no tenant", []string{"--role", "viewer"}, "--tenant is required"},
		{"device role without device", []string{"--tenant", "demo", "--role", "device"}, "--device is required for role device"},
		{"unknown role", []string{"--tenant", "demo", "--role", "boss"}, `--role "boss"`},
		{"short secret", []string{"--tenant", "demo", "--role", "viewer", "--secret", "abc"}, "at least 16"},
		{"no secret", []string{"--tenant", "demo", "--role", "viewer"}, "no secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			err := token(c.args, &out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("token %q: err = %v, want one mentioning %q", c.args, err, c.want)
			}
			if out.Len() != 0 {
				t.Fatalf("printed %q despite the error", out.String())
			}
		})
	}
}

func TestTokenSignsWithTheDevSecret(t *testing.T) {
	t.Setenv(auth.SecretEnv, "")
	t.Setenv("SECRETS_DIR", t.TempDir())
	t.Chdir(t.TempDir())
	secret, err := devSecret()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := devSecret(); err != nil || again != secret {
		t.Fatalf("second devSecret() = %q, %v; want the kept %q", again, err, secret)
	}
	if st, err := os.Stat(filepath.Join(".dev", "secret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dev secret file: %v, %v", st, err)
	}
	var out strings.Builder
	if err := token([]string{"--tenant", "demo", "--role", "device", "--device", "runner-1"}, &out); err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifierWithSecret([]byte(secret), auth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Tenant != "demo" || p.Role != auth.RoleDevice || p.Device != "runner-1" {
		t.Fatalf("token names %+v", p)
	}
}

func TestTokenCarriesTheJtiAndTheNewestKid(t *testing.T) {
	keys := "k2:new-secret-0123456789abcdef\nk1:old-secret-0123456789abcdef"
	var out strings.Builder
	if err := token([]string{"--tenant", "demo", "--role", "viewer", "--jti", "laptop-7", "--secret", keys}, &out); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	// Only the newest key may verify it: it must be signed with k2.
	v, err := auth.NewVerifierWithSecret([]byte("k2:new-secret-0123456789abcdef\nk0:other-secret-0123456789abc"), auth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.TokenID != "laptop-7" {
		t.Fatalf("jti %q, want laptop-7", p.TokenID)
	}
	if err := token([]string{"--tenant", "demo", "--role", "viewer", "--jti", "no spaces", "--secret", keys}, &out); err == nil || !strings.Contains(err.Error(), "--jti") {
		t.Fatalf("err %v, want one naming --jti", err)
	}
}
