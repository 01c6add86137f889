package testserver

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts a server in a process group of its own (so that Kill ends
// its children too) that the kernel kills if the test binary dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // it may be gone already
}

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)
