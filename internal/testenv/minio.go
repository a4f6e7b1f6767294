package testenv

import (
	"context"
	"testing"

	"github.com/geotrack/geotrack/internal/localserver"
)

// MinIO is one minio server started by StartMinIO; its fields (Addr,
// Endpoint, Port, PID, Dir, AccessKey, SecretKey) and Stop, Kill, Running,
// Restart and LogTail come from localserver.MinIO.
type MinIO struct {
	*localserver.MinIO
}

// StartMinIO starts a minio server (with a KMS key, so SSE-S3 works) on a
// free loopback port in a temp dir. It is stopped by t.Cleanup.
func StartMinIO(t testing.TB) *MinIO { return startMinIO(t, false) }

// StartMinIOTLS is StartMinIO serving https with a self-signed certificate
// (its PEM at CAFile): SSE-C needs TLS.
func StartMinIOTLS(t testing.TB) *MinIO { return startMinIO(t, true) }

func startMinIO(t testing.TB, tls bool) *MinIO {
	t.Helper()
	m, err := localserver.StartMinIO(context.Background(), localserver.MinIOConfig{Dir: t.TempDir(), TLS: tls})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stopOnCleanup(t, "minio", m.Addr, m.Stop, m.LogTail)
	return &MinIO{MinIO: m}
}
