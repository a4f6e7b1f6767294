package testenv

import (
	"errors"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

	bin string

	mu   sync.Mutex
	proc *process
}

// StartNATS starts a nats-server (core NATS, no JetStream) on a free loopback
// port in a temp dir and waits until it accepts a TCP connection and a NATS
// client handshake. It is stopped by t.Cleanup.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{bin: natsBinary(t, "nats-server"), Dir: t.TempDir()}
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("testenv: nats-server %s log tail:\n%s", n.Addr, n.LogTail(30))
		}
	})
	n.launch(t)
	return n
}

// Stop terminates the server (SIGTERM, SIGKILL after a grace period) and
// reaps it. It is idempotent.
func (n *NATS) Stop() { n.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (n *NATS) Kill() { n.signal(syscall.SIGKILL) }

// Running reports whether the server process is alive (not yet reaped).
func (n *NATS) Running() bool {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// LogTail returns the last lines of the server's output, for failure messages.
func (n *NATS) LogTail(lines int) string {
	return tail(filepath.Join(n.Dir, "nats.log"), lines)
}

func (n *NATS) signal(sig syscall.Signal) {
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		return
	}
	stopProcess(p, sig)
}

// launch starts the server on a fresh free port, retrying when the port was
// taken between FreePort and the server's bind.
func (n *NATS) launch(t testing.TB) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testenv: find free port: %v", err)
		}
		proc, err := n.try(port)
		if err == nil {
			return
		}
		lastErr = err
		if proc != nil {
			stopProcess(proc, syscall.SIGKILL)
		}
		if !errors.Is(err, errPortInUse) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testenv: start nats-server: %v\nlog tail:\n%s", lastErr, n.LogTail(30))
}

func (n *NATS) try(port int) (*process, error) {
	logPath := filepath.Join(n.Dir, "nats.log")
	logStart := fileSize(logPath)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	// nats-server logs to stderr unless told otherwise; the child keeps its
	// own descriptor, so ours can be closed once it has started.
	defer logFile.Close()
	cmd := exec.Command(n.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-n", "testenv-"+strconv.Itoa(port))
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", n.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	url := "nats://" + addr
	if err := waitNATS(p, addr, url); err != nil {
		if strings.Contains(strings.ToLower(readFrom(logPath, logStart)), "address already in use") {
			return p, fmt.Errorf("%s: %w", addr, errPortInUse)
		}
		return p, fmt.Errorf("%s: %w", addr, err)
	}
	n.mu.Lock()
	n.proc = p
	n.Port, n.PID, n.Addr, n.URL = port, cmd.Process.Pid, addr, url
	n.mu.Unlock()
	return p, nil
}

// waitNATS polls until a TCP connect and a full NATS client handshake
// (INFO/CONNECT/PING/PONG, which nats.Connect performs) succeed.
func waitNATS(p *process, addr, url string) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited during start-up (%s)", p.cmd.ProcessState)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			nc, err := nats.Connect(url, nats.Name("testenv-ready"), nats.Timeout(2*time.Second), nats.NoReconnect())
			if err == nil {
				nc.Close()
				return nil
			}
			last = err
		} else {
			last = err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s: %v", readyTimeout, last)
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
