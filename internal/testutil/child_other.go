//go:build !unix

package testutil

// Pause skips the test: stopping a process needs SIGSTOP.
func (c *Child) Pause() { c.t.Skip("pausing a process needs SIGSTOP (unix)") }

// Resume skips the test: see Pause.
func (c *Child) Resume() { c.t.Skip("pausing a process needs SIGSTOP (unix)") }
