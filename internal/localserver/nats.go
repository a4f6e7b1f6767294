package localserver

import (
	"context"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSServerVersion is the nats-server release geotrack is tested against;
// scripts/install-tools.sh installs the same one.
const NATSServerVersion = "v2.15.2"

// natsInstallHint is how to get nats-server when it is missing.
const natsInstallHint = "install it with `go install github.com/nats-io/nats-server/v2@" + NATSServerVersion + "` (or run scripts/install-tools.sh)"

// NATS is one nats-server started by StartNATS.
type NATS struct {
	Addr string // 127.0.0.1:port
	URL  string // nats://127.0.0.1:port
	Port int
	PID  int
	Dir  string

	srv server
}

// StartNATS starts a nats-server (core NATS, no JetStream) on a free
// loopback port, logging to dir/nats.log, and waits until it accepts a NATS
// client handshake. The caller stops it with Stop.
func StartNATS(ctx context.Context, dir string) (*NATS, error) {
	return startNATS(ctx, dir, nil, "nats://", natsReady)
}

// StartNATSWithTLS is StartNATS with client connections over TLS only
// (nats-server --tls), presenting certFile/keyFile; URL is tls://addr.
// Readiness is checked with a client trusting caFile.
func StartNATSWithTLS(ctx context.Context, dir, certFile, keyFile, caFile string) (*NATS, error) {
	tlsArgs := []string{"--tls", "--tlscert", certFile, "--tlskey", keyFile}
	ready := func(_ context.Context, addr string, _ int) error {
		nc, err := nats.Connect("tls://"+addr, nats.Name("localserver-ready"), nats.Timeout(2*time.Second), nats.NoReconnect(),
			nats.RootCAs(caFile))
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	}
	return startNATS(ctx, dir, tlsArgs, "tls://", ready)
}

func startNATS(ctx context.Context, dir string, extra []string, scheme string, ready func(context.Context, string, int) error) (*NATS, error) {
	bin, err := findBinary("nats-server", goBinDirs(), natsInstallHint)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("nats-server dir: %w", err)
	}
	n := &NATS{Dir: dir}
	n.srv = server{
		name:    "nats-server",
		bin:     bin,
		dir:     dir,
		logPath: filepath.Join(dir, "nats.log"),
		// nats-server logs to stderr unless told otherwise.
		captureOutput: true,
		args: func(port int) []string {
			return append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-n", "localserver-" + strconv.Itoa(port)}, extra...)
		},
		ready: ready,
	}
	err = n.srv.launch(ctx, 0, func(port, pid int, addr string) {
		n.Port, n.PID, n.Addr, n.URL = port, pid, addr, scheme+addr
	})
	if err != nil {
		return nil, err
	}
	return n, nil
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
// nats-server always gets a fresh port, so the answer is its own.
func natsReady(_ context.Context, addr string, _ int) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	nc, err := nats.Connect("nats://"+addr, nats.Name("localserver-ready"), nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	nc.Close()
	return nil
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
