package testenv

import "syscall"

// sysProcAttr makes the kernel kill a server when the test binary dies
// without running its cleanups (e.g. go test -timeout panics).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
