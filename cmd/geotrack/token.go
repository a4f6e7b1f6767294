package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

func init() {
	register(command{name: "token", summary: "print a signed token: --tenant T --role R [--device D] [--ttl 24h] [--jti ID] [--show-jti]", run: runToken})
}

// minSecretBytes is the shortest HS256 secret the functions accept
// (auth.NewVerifierWithSecret); a token signed with less is useless.
const minSecretBytes = 16

// devSecretPath is where `geotrack dev` keeps its JWT secret, so tokens
// survive restarts and the other commands find it without being told.
var devSecretPath = filepath.Join(".dev", "secret")

func runToken(ctx context.Context, args []string) error {
	return token(args, os.Stdout)
}

func token(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "tenant the token belongs to (required)")
	role := fs.String("role", "", "device | viewer | admin | service (required)")
	device := fs.String("device", "", "device id (required for role device)")
	ttl := fs.Duration("ttl", 24*time.Hour, "validity; functions still accept the token for AUTH_LEEWAY (default 30s) after it expires, for clock skew")
	secretFlag := fs.String("secret", "", "HS256 secret, at least 16 bytes, or a key list (newest first) of which the newest signs and is named in kid (default: /var/openfaas/secrets/jwt-secret, then $GEOTRACK_JWT_SECRET, then .dev/secret of geotrack dev)")
	jti := fs.String("jti", "", "token id (jti) to revoke it by later (default: a random id)")
	showJTI := fs.Bool("show-jti", false, "print the token id on stderr (jti: <id>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	p := auth.Principal{Tenant: *tenant, Role: auth.Role(*role), Device: *device, TokenID: *jti}
	if err := checkPrincipal(p); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if p.TokenID == "" {
		p.TokenID = auth.NewTokenID()
	}
	if !auth.ValidTokenID(p.TokenID) {
		return fmt.Errorf("token: --jti %q: use 1-128 letters, digits, '.', '_' or '-'", p.TokenID)
	}
	secret, err := jwtSecret(*secretFlag)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	tok, err := auth.Sign([]byte(secret), p, *ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(out, tok)
	if *showJTI {
		fmt.Fprintln(os.Stderr, "jti:", p.TokenID)
	}
	return nil
}

// checkPrincipal says which flag is missing, in the CLI's words, before any
// secret is looked up.
func checkPrincipal(p auth.Principal) error {
	var missing []string
	if p.Tenant == "" {
		missing = append(missing, "--tenant")
	}
	if p.Role == "" {
		missing = append(missing, "--role (device, viewer, admin or service)")
	}
	switch len(missing) {
	case 1:
		return fmt.Errorf("%s is required, e.g. geotrack token --tenant demo --role viewer", missing[0])
	case 2:
		return fmt.Errorf("%s and %s are required, e.g. geotrack token --tenant demo --role viewer", missing[0], missing[1])
	}
	switch p.Role {
	case auth.RoleViewer, auth.RoleAdmin, auth.RoleService:
	case auth.RoleDevice:
		if p.Device == "" {
			return errors.New("--device is required for role device")
		}
	default:
		return fmt.Errorf("--role %q is not one of device, viewer, admin, service", p.Role)
	}
	if err := p.Valid(); err != nil {
		return fmt.Errorf("--tenant %q: %w", p.Tenant, err)
	}
	return nil
}

// jwtSecret resolves the signing secret the way the functions do (the
// secret file, then $GEOTRACK_JWT_SECRET), falling back to the secret
// `geotrack dev` keeps in .dev/secret, and refuses one the functions would.
func jwtSecret(explicit string) (string, error) {
	s, from, err := findSecret(explicit)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("no secret: pass --secret, set %s, or run `make dev` once (it keeps one in %s)", auth.SecretEnv, devSecretPath)
	}
	if len(s) < minSecretBytes {
		return "", fmt.Errorf("the secret from %s is %d bytes; the functions require at least %d (e.g. openssl rand -hex 24)", from, len(s), minSecretBytes)
	}
	if _, err := auth.ParseKeys(s); err != nil {
		return "", fmt.Errorf("the secret from %s: %w", from, err)
	}
	return s, nil
}

func findSecret(explicit string) (secret, from string, err error) {
	if explicit != "" {
		return explicit, "--secret", nil
	}
	s, err := config.Secret(auth.SecretName, auth.SecretEnv)
	if err != nil || s != "" {
		return s, filepath.Join(config.SecretsDir(), auth.SecretName) + " or $" + auth.SecretEnv, err
	}
	data, err := os.ReadFile(devSecretPath)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read dev secret: %w", err)
	}
	return strings.TrimSpace(string(data)), devSecretPath, nil
}

// devSecret returns the secret in .dev/secret, creating it (24 random bytes,
// hex) on first use.
func devSecret() (string, error) {
	data, err := os.ReadFile(devSecretPath)
	if err == nil && len(strings.TrimSpace(string(data))) >= minSecretBytes {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read dev secret: %w", err)
	}
	s := randomHex(24)
	if err := os.MkdirAll(filepath.Dir(devSecretPath), 0o700); err != nil {
		return "", fmt.Errorf("dev secret: %w", err)
	}
	if err := os.WriteFile(devSecretPath, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev secret: %w", err)
	}
	return s, nil
}
