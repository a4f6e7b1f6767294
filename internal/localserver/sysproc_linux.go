package localserver

import "syscall"

// sysProcAttr makes the kernel kill a server when its parent dies
// without stopping it (a test binary killed by go test -timeout, a crashed geotrack dev).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
