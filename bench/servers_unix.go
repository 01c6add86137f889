//go:build unix && !linux

package bench

import "syscall"

// sysProcAttr puts a server in a process group of its own, so that a Ctrl-C
// to the bench reaches it only through Stop. (Only Linux can have the kernel
// kill it when the bench dies first.)
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
