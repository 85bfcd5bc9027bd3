//go:build !linux

package devenv

import "syscall"

// sysProcAttr leaves a component in this process's group: Ctrl-C reaches
// it too, and it is stopped with the rest.
func sysProcAttr() *syscall.SysProcAttr { return nil }
