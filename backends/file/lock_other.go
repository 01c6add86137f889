//go:build !unix

package file

import (
	"errors"
	"os"
)

// fileLocksSupported: this package knows no byte-range locks on this OS, so
// New asks for distributed_lock=false (Options.DistributedLock).
const fileLocksSupported = false

func rangeLock(*os.File, int64, bool, bool) (bool, error) {
	return false, errors.New("byte-range file locks are not supported on this OS")
}
