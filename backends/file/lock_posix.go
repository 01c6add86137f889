//go:build unix && !linux

package file

import "golang.org/x/sys/unix"

// Elsewhere the byte-range locks are classic POSIX record locks: they belong
// to the process and the kernel releases them when it exits. POSIX also drops
// them when the process closes any descriptor of the file, which is why a
// process opens each lock file once (see lockFiles) and keeps it open while
// any backend uses it.
const (
	lockCmd     = unix.F_SETLK
	lockWaitCmd = unix.F_SETLKW
)
