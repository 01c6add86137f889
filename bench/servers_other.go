//go:build !unix

package bench

import "syscall"

// sysProcAttr: no process groups to set here.
func sysProcAttr() *syscall.SysProcAttr { return nil }
