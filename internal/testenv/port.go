package testenv

import (
	"testing"

	"github.com/geotrack/geotrack/internal/localserver"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process can still take it before the caller binds it, so code that
// starts servers on it should retry on "address in use" (StartRedis does).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return port
}
