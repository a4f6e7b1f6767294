package testenv

import (
	"context"
	"testing"

	"github.com/geotrack/geotrack/internal/localserver"
)

// NATSServerVersion is the nats-server release the tests are written
// against; scripts/install-tools.sh installs the same one.
const NATSServerVersion = localserver.NATSServerVersion

// NATS is one nats-server started by StartNATS; its fields (Addr, URL, Port,
// PID, Dir) and Stop, Kill, Running and LogTail come from localserver.NATS.
type NATS struct {
	*localserver.NATS
}

// StartNATS starts a nats-server (core NATS, no JetStream) on a free loopback
// port in a temp dir and waits until it accepts a NATS client handshake. It
// is stopped by t.Cleanup.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n, err := localserver.StartNATS(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stopOnCleanup(t, "nats-server", n.Addr, n.Stop, n.LogTail)
	return &NATS{NATS: n}
}

// StartNATSWithTLS starts a nats-server accepting TLS clients only, with a
// certificate of ca; URL is tls://127.0.0.1:port.
func StartNATSWithTLS(t testing.TB, ca *CA) *NATS {
	t.Helper()
	cert, key := ca.Issue(t, "nats-server")
	n, err := localserver.StartNATSWithTLS(context.Background(), t.TempDir(), cert, key, ca.CertFile)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	stopOnCleanup(t, "nats-server", n.Addr, n.Stop, n.LogTail)
	return &NATS{NATS: n}
}
