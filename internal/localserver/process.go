package localserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/geotrack/geotrack/internal/poll"
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

// ErrPortInUse is returned when a server could not bind its port.
var ErrPortInUse = errors.New("port in use")

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
	// env is added to the process's environment (minio's credentials).
	env []string
	// ready reports nil once the server at addr answers as process pid (and
	// not another server that had the port already).
	ready func(ctx context.Context, addr string, pid int) error

	mu   sync.Mutex
	proc *process
	addr string
}

// launch starts the process; port 0 picks a fresh free port on each attempt,
// a fixed port (Restart) is retried in place. Under s.mu it records the process and calls started with the port,
// PID and address it runs on.
func (s *server) launch(ctx context.Context, port int, started func(port, pid int, addr string)) error {
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		p := port
		if p == 0 {
			var err error
			if p, err = FreePort(); err != nil {
				return err
			}
		}
		proc, addr, err := s.try(ctx, p)
		if err == nil {
			s.mu.Lock()
			s.proc, s.addr = proc, addr
			started(p, proc.cmd.Process.Pid, addr)
			s.mu.Unlock()
			return nil
		}
		lastErr = err
		if proc != nil {
			stopProcess(proc, syscall.SIGKILL)
		}
		if !errors.Is(err, ErrPortInUse) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("start %s: %w\nlog tail:\n%s", s.name, lastErr, s.logTail(30))
}

// try starts one process on port and waits until it is ready. A process
// that was started is returned even on error, for the caller to kill.
func (s *server) try(ctx context.Context, port int) (*process, string, error) {
	logStart := fileSize(s.logPath)
	cmd := exec.Command(s.bin, s.args(port)...)
	cmd.Dir = s.dir
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
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
	err := poll.Until(ctx, readyTimeout, 20*time.Millisecond, func(ctx context.Context) error {
		select {
		case <-p.done:
			return poll.Abort(fmt.Errorf("exited during start-up (%s)", p.cmd.ProcessState))
		default:
		}
		return s.ready(ctx, addr, cmd.Process.Pid)
	})
	if err != nil {
		if strings.Contains(strings.ToLower(readFrom(s.logPath, logStart)), "address already in use") {
			return p, addr, fmt.Errorf("%s: %w", addr, ErrPortInUse)
		}
		return p, addr, fmt.Errorf("%s: %w", addr, err)
	}
	return p, addr, nil
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

// findBinary looks name up on PATH, then in dirs; hint says how to install
// it when it is nowhere.
func findBinary(name string, dirs []string, hint string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in %s: %s", name, strings.Join(dirs, ", "), hint)
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
