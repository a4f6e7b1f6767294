//go:build !linux

package localserver

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
