//go:build !unix

package redis_test

import "testing"

// pause skips the test: stopping a process needs SIGSTOP.
func pause(t testing.TB, pid int) { t.Skip("pausing a server needs SIGSTOP (unix)") }

// resume skips the test: see pause.
func resume(t testing.TB, pid int) { t.Skip("pausing a server needs SIGSTOP (unix)") }
