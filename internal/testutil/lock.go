package testutil

import (
	"context"
	"testing"
)

// MustLock takes m's lock with a single TryLock and fails the test unless it
// got it: the holder that the lock and lease tests of every backend need
// before they can attack the lock. m is any lock (lock.Mutex, a backend's own
// mutex type); only TryLock is asked of it.
func MustLock(t testing.TB, m interface {
	TryLock(context.Context) (bool, error)
}) {
	t.Helper()
	if ok, err := m.TryLock(Context(t)); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v; want the lock", ok, err)
	}
}
