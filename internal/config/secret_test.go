package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	secretName = "jwt-secret"
	secretEnv  = "GEOTRACK_TEST_SECRET"
)

func TestSecretsDir(t *testing.T) {
	t.Setenv("SECRETS_DIR", "")
	if got := SecretsDir(); got != DefaultSecretsDir {
		t.Fatalf("SecretsDir() = %q, want %q", got, DefaultSecretsDir)
	}
	t.Setenv("SECRETS_DIR", "/tmp/elsewhere")
	if got := SecretsDir(); got != "/tmp/elsewhere" {
		t.Fatalf("SecretsDir() = %q with SECRETS_DIR set", got)
	}
}

func TestSecret(t *testing.T) {
	cases := []struct {
		name    string
		file    *string // nil: no file
		dir     bool    // a directory named like the secret
		env     string
		want    string
		wantErr bool
	}{
		{name: "file", file: ptr("s3cret"), want: "s3cret"},
		{name: "trailing newline trimmed", file: ptr("s3cret\n"), want: "s3cret"},
		{name: "trailing CRLF trimmed", file: ptr("s3cret\r\n\n"), want: "s3cret"},
		{name: "inner newline and spaces kept", file: ptr(" a\nb \n"), want: " a\nb "},
		{name: "env fallback", env: "from-env", want: "from-env"},
		{name: "neither", want: ""},
		{name: "file wins over env", file: ptr("from-file\n"), env: "from-env", want: "from-file"},
		{name: "empty file wins over env", file: ptr(""), env: "from-env", want: ""},
		{name: "directory is an error", dir: true, env: "from-env", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("SECRETS_DIR", dir)
			t.Setenv(secretEnv, tc.env)
			path := filepath.Join(dir, secretName)
			if tc.file != nil {
				if err := os.WriteFile(path, []byte(*tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.dir {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Secret(secretName, secretEnv)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error, got %q", got)
				}
				if !strings.Contains(err.Error(), secretName) {
					t.Fatalf("error %q does not name the secret", err)
				}
				if got != "" {
					t.Fatalf("value %q returned with error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSecretMissingDirFallsBackToEnv(t *testing.T) {
	t.Setenv("SECRETS_DIR", filepath.Join(t.TempDir(), "does-not-exist"))
	t.Setenv(secretEnv, "from-env")
	got, err := Secret(secretName, secretEnv)
	if err != nil || got != "from-env" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func ptr(s string) *string { return &s }

// setenv sets k for the test, or unsets it when v is empty (envconfig treats
// a variable set to "" as present, not as absent).
func setenv(t *testing.T, k, v string) {
	t.Helper()
	t.Setenv(k, v) // restores the old value after the test
	if v == "" {
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
}

type testConfig struct {
	Redis
	Port    int           `envconfig:"GEOTRACK_TEST_PORT" default:"8080"`
	Timeout time.Duration `envconfig:"GEOTRACK_TEST_TIMEOUT" default:"5s"`
	Enabled bool          `envconfig:"GEOTRACK_TEST_ENABLED"`
	Name    string        `envconfig:"GEOTRACK_TEST_NAME" required:"true"`
}

func TestLoad(t *testing.T) {
	// An empty value means unset.
	base := map[string]string{
		"REDIS_URL":             "",
		"REDIS_TLS_CA_FILE":     "",
		"GEOTRACK_TEST_PORT":    "",
		"GEOTRACK_TEST_TIMEOUT": "",
		"GEOTRACK_TEST_ENABLED": "",
		"GEOTRACK_TEST_NAME":    "svc",
	}
	cases := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c testConfig)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c testConfig) {
			if c.RedisURL != "redis://127.0.0.1:6379/0" || c.RedisTLSCAFile != "" || c.Port != 8080 || c.Timeout != 5*time.Second || c.Enabled || c.Name != "svc" {
				t.Fatalf("defaults: %+v", c)
			}
		}},
		{name: "overrides", env: map[string]string{
			"REDIS_URL": "redis://r:6380/1", "REDIS_TLS_CA_FILE": "/ca.pem", "GEOTRACK_TEST_PORT": "9000",
			"GEOTRACK_TEST_TIMEOUT": "250ms", "GEOTRACK_TEST_ENABLED": "true",
		}, check: func(t *testing.T, c testConfig) {
			if c.RedisURL != "redis://r:6380/1" || c.RedisTLSCAFile != "/ca.pem" || c.Port != 9000 || c.Timeout != 250*time.Millisecond || !c.Enabled {
				t.Fatalf("overrides: %+v", c)
			}
		}},
		{name: "bad int", env: map[string]string{"GEOTRACK_TEST_PORT": "eighty"}, wantErr: "GEOTRACK_TEST_PORT"},
		{name: "bad duration", env: map[string]string{"GEOTRACK_TEST_TIMEOUT": "5 parsecs"}, wantErr: "GEOTRACK_TEST_TIMEOUT"},
		{name: "bad bool", env: map[string]string{"GEOTRACK_TEST_ENABLED": "maybe"}, wantErr: "GEOTRACK_TEST_ENABLED"},
		{name: "missing required", env: map[string]string{"GEOTRACK_TEST_NAME": ""}, wantErr: "GEOTRACK_TEST_NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			for k, v := range env {
				setenv(t, k, v)
			}
			var c testConfig
			err := Load(&c)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error: %+v", c)
				}
				if !strings.HasPrefix(err.Error(), "configuration: ") || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want configuration: …%s…", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadNeedsPointer(t *testing.T) {
	if err := Load(testConfig{}); err == nil || !strings.HasPrefix(err.Error(), "configuration: ") {
		t.Fatalf("Load(non-pointer) = %v", err)
	}
}
