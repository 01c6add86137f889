package bench

import "syscall"

// sysProcAttr puts a server in a process group of its own, so that a Ctrl-C
// to the bench reaches it only through Stop, after the bench is done with
// it; and the kernel kills it if the bench dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
