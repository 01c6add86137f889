//go:build unix

package testutil

import "syscall"

// Pause stops the child with SIGSTOP, as a host stalled by a long GC pause,
// a VM migration or a debugger would: it holds what it holds and does
// nothing until Resume.
func (c *Child) Pause() { c.signal(syscall.SIGSTOP) }

// Resume continues a paused child (SIGCONT).
func (c *Child) Resume() { c.signal(syscall.SIGCONT) }

func (c *Child) signal(sig syscall.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("%s child: %v: %v", c.role, sig, err)
	}
}
