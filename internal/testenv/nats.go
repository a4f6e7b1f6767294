package testenv

import (
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSServerVersion is the nats-server release the tests are written
// against; scripts/install-tools.sh installs the same one.
const NATSServerVersion = "v2.15.2"

// natsInstallHint is how to get nats-server when it is missing.
const natsInstallHint = "go install github.com/nats-io/nats-server/v2@" + NATSServerVersion

// NATS is one nats-server started by StartNATS.
type NATS struct {
	Addr string // 127.0.0.1:port
	URL  string // nats://127.0.0.1:port
	Port int
	PID  int
	Dir  string

	srv server
}

// StartNATS starts a nats-server (core NATS, no JetStream) on a free loopback
// port in a temp dir and waits until it accepts a TCP connection and a NATS
// client handshake. It is stopped by t.Cleanup.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{Dir: t.TempDir()}
	n.srv = server{
		name:    "nats-server",
		bin:     natsBinary(t, "nats-server"),
		dir:     n.Dir,
		logPath: filepath.Join(n.Dir, "nats.log"),
		// nats-server logs to stderr unless told otherwise.
		captureOutput: true,
		args: func(port int) []string {
			return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-n", "testenv-" + strconv.Itoa(port)}
		},
		ready: natsReady,
	}
	n.srv.stopOnCleanup(t)
	n.srv.launch(t, 0, func(port, pid int, addr string) {
		n.Port, n.PID, n.Addr, n.URL = port, pid, addr, "nats://"+addr
	})
	return n
}

// Stop terminates the server (SIGTERM, SIGKILL after a grace period) and
// reaps it. It is idempotent.
func (n *NATS) Stop() { n.srv.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (n *NATS) Kill() { n.srv.signal(syscall.SIGKILL) }

// Running reports whether the server process is alive (not yet reaped).
func (n *NATS) Running() bool { return n.srv.running() }

// LogTail returns the last lines of the server's output, for failure messages.
func (n *NATS) LogTail(lines int) string { return n.srv.logTail(lines) }

// natsReady reports nil once a TCP connect and a full NATS client handshake
// (INFO/CONNECT/PING/PONG, which nats.Connect performs) succeed at addr.
func natsReady(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	nc, err := nats.Connect("nats://"+addr, nats.Name("testenv-ready"), nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	nc.Close()
	return nil
}

// natsBinary finds name on PATH, in $GOBIN or in $(go env GOPATH)/bin, where
// `go install` (and scripts/install-tools.sh) puts it.
func natsBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("testenv: %s not found on PATH or in $(go env GOPATH)/bin: install it with `%s` (or run scripts/install-tools.sh)", name, natsInstallHint)
	return ""
}

// goBinDirs lists where `go install` puts binaries: GOBIN, else bin of every
// GOPATH entry, as `go env` reports them (falling back to the default GOPATH
// when the go command is not at hand).
func goBinDirs() []string {
	var dirs []string
	gobin, gopath := os.Getenv("GOBIN"), os.Getenv("GOPATH")
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) == 2 {
			gobin, gopath = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
		}
	}
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	if gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, p := range filepath.SplitList(gopath) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	return dirs
}
