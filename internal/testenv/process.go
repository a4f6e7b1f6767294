package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// stopGrace is how long a server gets to exit after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// readyTimeout bounds the wait for a server to answer; generous because
	// AOF replay and a shared 2-core CI box can both be slow.
	readyTimeout = 30 * time.Second
	// startAttempts retries start-up when a picked port was taken meanwhile.
	startAttempts = 5
)

var errPortInUse = errors.New("port in use")

// process is one started server process.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
}

// server is the process lifecycle Redis and NATS share: one process at a
// time, started on a loopback port with its output in a log file, waited on
// until ready, stopped by PID (SIGTERM, then SIGKILL) and reaped.
type server struct {
	name    string // binary name for messages, e.g. "redis-server"
	bin     string
	dir     string
	logPath string
	// captureOutput sends the process's stdout and stderr to logPath; off
	// for servers that write logPath themselves (redis-server --logfile).
	captureOutput bool
	// args returns the command line for a port.
	args func(port int) []string
	// ready reports nil once the server at addr answers.
	ready func(addr string) error

	mu   sync.Mutex
	proc *process
	addr string
}

// stopOnCleanup stops the server when t ends and logs the tail of its log
// if t failed.
func (s *server) stopOnCleanup(t testing.TB) {
	t.Cleanup(func() {
		s.signal(syscall.SIGTERM)
		if t.Failed() {
			s.mu.Lock()
			addr := s.addr
			s.mu.Unlock()
			t.Logf("testenv: %s %s log tail:\n%s", s.name, addr, s.logTail(30))
		}
	})
}

// launch starts the process; port 0 picks a fresh free port on each attempt,
// a fixed port (Restart) is retried in place. Under s.mu it records the
// process and calls started with the port, PID and address it runs on.
func (s *server) launch(t testing.TB, port int, started func(port, pid int, addr string)) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(); err != nil {
				t.Fatalf("testenv: find free port: %v", err)
			}
		}
		proc, addr, err := s.try(p)
		if err == nil {
			s.mu.Lock()
			s.proc, s.addr = proc, addr
			started(p, proc.cmd.Process.Pid, addr)
			s.mu.Unlock()
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
	t.Fatalf("testenv: start %s: %v\nlog tail:\n%s", s.name, lastErr, s.logTail(30))
}

// try starts one process on port and waits until it is ready. A process
// that was started is returned even on error, for the caller to kill.
func (s *server) try(port int) (*process, string, error) {
	logStart := fileSize(s.logPath)
	cmd := exec.Command(s.bin, s.args(port)...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	if s.captureOutput {
		logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, "", fmt.Errorf("open log: %w", err)
		}
		// The child keeps its own descriptor, so ours can be closed once it
		// has started.
		defer logFile.Close()
		cmd.Stdout, cmd.Stderr = logFile, logFile
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("exec %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(p, func() error { return s.ready(addr) }); err != nil {
		if strings.Contains(strings.ToLower(readFrom(s.logPath, logStart)), "address already in use") {
			return p, addr, fmt.Errorf("%s: %w", addr, errPortInUse)
		}
		return p, addr, fmt.Errorf("%s: %w", addr, err)
	}
	return p, addr, nil
}

// waitReady polls ready until it returns nil, the process exits or
// readyTimeout passes.
func waitReady(p *process, ready func() error) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited during start-up (%s)", p.cmd.ProcessState)
		default:
		}
		if last = ready(); last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s: %v", readyTimeout, last)
}

// running reports whether the process is alive (not yet reaped).
func (s *server) running() bool {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
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

// signal stops the process with sig (SIGTERM: SIGKILL after stopGrace) and
// reaps it. It is idempotent.
func (s *server) signal(sig syscall.Signal) {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	stopProcess(p, sig)
}

func (s *server) logTail(lines int) string { return tail(s.logPath, lines) }

func stopProcess(p *process, sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL {
		<-p.done
		return
	}
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < offset {
		return ""
	}
	return string(data[offset:])
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
