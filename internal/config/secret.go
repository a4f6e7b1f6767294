// Package config reads function configuration: envconfig structs and
// OpenFaaS-style secrets.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// DefaultSecretsDir is where OpenFaaS (and our Helm chart) mount secrets.
const DefaultSecretsDir = "/var/openfaas/secrets"

// SecretsDir returns the secrets folder; SECRETS_DIR overrides it for tests
// and for platforms that mount secrets elsewhere.
func SecretsDir() string {
	if d := os.Getenv("SECRETS_DIR"); d != "" {
		return d
	}
	return DefaultSecretsDir
}

// Secret reads secret name from the secrets folder, falling back to the
// environment variable env. Empty means the secret is not configured.
// A file wins over the environment so that a mounted secret cannot be
// shadowed by a stale variable.
func Secret(name, env string) (string, error) {
	data, err := os.ReadFile(filepath.Join(SecretsDir(), name))
	switch {
	case err == nil:
		return strings.TrimRight(string(data), "\r\n"), nil
	case errors.Is(err, fs.ErrNotExist):
		return os.Getenv(env), nil
	default:
		return "", fmt.Errorf("read secret %s: %w", name, err)
	}
}

// Load fills cfg (a pointer to an envconfig struct) from the environment.
func Load(cfg any) error {
	if err := envconfig.Process("", cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// Redis is the connection settings every Redis-backed function embeds.
type Redis struct {
	RedisURL       string `envconfig:"REDIS_URL" default:"redis://127.0.0.1:6379/0"`
	RedisTLSCAFile string `envconfig:"REDIS_TLS_CA_FILE"`
	// RedisDialTimeout and RedisTimeout bound a connection attempt and one
	// command, so a request fails with 503 soon after Redis goes away
	// instead of hanging; dial_timeout etc. in REDIS_URL win over them.
	RedisDialTimeout time.Duration `envconfig:"REDIS_DIAL_TIMEOUT" default:"1s"`
	RedisTimeout     time.Duration `envconfig:"REDIS_TIMEOUT" default:"3s"`
}
