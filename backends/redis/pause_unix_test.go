//go:build unix

package redis_test

import (
	"syscall"
	"testing"
)

// pause stops the process as a hung server would be (it keeps its
// connections and accepts new ones, and answers nothing), until resume or
// the end of the test.
func pause(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) }) //nolint:errcheck // so that it can be stopped
}

func resume(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}
