//go:build !unix

package testserver

import (
	"os"
	"os/exec"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) {
	cmd.Process.Kill() //nolint:errcheck // it may be gone already
}

// Without SIGSTOP, Pause and Resume fail the test (see Process.signal).
var (
	sigStop os.Signal = unsupportedSignal("SIGSTOP")
	sigCont os.Signal = unsupportedSignal("SIGCONT")
)

type unsupportedSignal string

func (s unsupportedSignal) String() string { return string(s) + " (not on this platform)" }
func (unsupportedSignal) Signal()          {}
