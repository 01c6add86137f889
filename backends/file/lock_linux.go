//go:build linux

package file

import "golang.org/x/sys/unix"

// On Linux the byte-range locks are open file description locks (Linux 3.15
// and later): they belong to the open file, not to the process, so closing
// some other descriptor of the lock file never drops them, and the kernel
// still releases them when the process exits or is killed.
const (
	lockCmd     = unix.F_OFD_SETLK
	lockWaitCmd = unix.F_OFD_SETLKW
)
