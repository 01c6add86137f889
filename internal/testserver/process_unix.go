//go:build unix && !linux

package testserver

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts a server in a process group of its own, so that Kill ends
// its children too. (Only Linux can have the kernel kill it when the test
// binary dies first; elsewhere a crashed test run may leave a server behind.)
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // it may be gone already
}

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)
