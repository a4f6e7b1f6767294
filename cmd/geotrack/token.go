package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

func init() {
	register(command{name: "token", summary: "print a signed token: --tenant T --role R [--device D] [--ttl 24h]", run: runToken})
}

func runToken(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "tenant the token belongs to (required)")
	role := fs.String("role", "", "device | viewer | admin | service (required)")
	device := fs.String("device", "", "device id (required for role device)")
	ttl := fs.Duration("ttl", 24*time.Hour, "validity; functions still accept the token for AUTH_LEEWAY (default 30s) after it expires, for clock skew")
	secretFlag := fs.String("secret", "", "HS256 secret (default: /var/openfaas/secrets/jwt-secret, then $GEOTRACK_JWT_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret, err := jwtSecret(*secretFlag)
	if err != nil {
		return err
	}
	tok, err := auth.Sign([]byte(secret), auth.Principal{Tenant: *tenant, Role: auth.Role(*role), Device: *device}, *ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Println(tok)
	return nil
}

// jwtSecret resolves the signing secret the same way the functions do.
func jwtSecret(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	s, err := config.Secret(auth.SecretName, auth.SecretEnv)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", errors.New("no secret: pass --secret or set GEOTRACK_JWT_SECRET")
	}
	return s, nil
}
