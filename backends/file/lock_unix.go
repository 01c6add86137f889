//go:build unix

package file

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// fileLocksSupported: fcntl byte-range locks are available.
const fileLocksSupported = true

// rangeLock takes (exclusive) or releases the one-byte lock at off in f.
// Without wait it reports false, with no error, when another owner holds the
// byte; with wait it blocks until the byte is granted, and reports false if
// the kernel refuses to wait (a deadlock among classic POSIX locks).
func rangeLock(f *os.File, off int64, exclusive, wait bool) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: off, Len: 1}
	if exclusive {
		lk.Type = unix.F_WRLCK
	}
	cmd := lockCmd
	if wait {
		cmd = lockWaitCmd
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var lockErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lockErr = unix.FcntlFlock(fd, cmd, &lk)
			if !errors.Is(lockErr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return false, err
	}
	// POSIX allows either EAGAIN or EACCES for a lock held by someone else.
	if errors.Is(lockErr, unix.EAGAIN) || errors.Is(lockErr, unix.EACCES) || errors.Is(lockErr, unix.EDEADLK) {
		return false, nil
	}
	if lockErr != nil {
		return false, &os.PathError{Op: "fcntl lock", Path: f.Name(), Err: lockErr}
	}
	return true, nil
}
