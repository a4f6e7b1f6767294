package s3store

import (
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/config"
)

// env is a configuration as envconfig fills it, with endpoint.
func env(endpoint string) Env {
	return Env{ArchiveTier: config.ArchiveTier{S3Endpoint: endpoint}, S3Bucket: "geotrack-archive", S3Region: "us-east-1", SSE: SSEAuto}
}

func with(e Env, change func(*Env)) Env {
	change(&e)
	return e
}

func TestOpenConfiguration(t *testing.T) {
	t.Setenv("SECRETS_DIR", t.TempDir())
	cases := []struct {
		name string
		cfg  Env
		part string // "" : no error
		none bool   // no archive tier
	}{
		{name: "no endpoint: no archive tier", cfg: Env{}, none: true},
		{name: "an endpoint", cfg: env("http://127.0.0.1:9000")},
		{name: "not a URL", cfg: env("minio:9000"), part: "S3_ENDPOINT"},
		{name: "a path", cfg: env("http://minio:9000/bucket"), part: "S3_ENDPOINT"},
		{name: "missing CA file", cfg: with(env("https://minio:9000"), func(e *Env) { e.S3CAFile = "/nonexistent/ca.pem" }), part: "S3_CA_FILE"},
		{name: "unknown SSE", cfg: with(env("http://minio:9000"), func(e *Env) { e.SSE = "kms" }), part: "ARCHIVE_SSE"},
		{name: "SSE-C without a key", cfg: with(env("http://minio:9000"), func(e *Env) { e.SSE = "c" }), part: "archive-key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := Open(tc.cfg, nil)
			if tc.part == "" && err != nil || tc.part != "" && (err == nil || !strings.Contains(err.Error(), tc.part)) {
				t.Fatalf("error %v, want %q", err, tc.part)
			}
			if err == nil && (cs == nil) != tc.none {
				t.Fatalf("store %v", cs)
			}
		})
	}
}
