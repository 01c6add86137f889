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

// Async runs f in a goroutine of its own; the channel gets what it returned.
// It is how a test starts a call that will wait (for a lock, a gate, a
// paused server) and then acts while it waits.
func Async(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// LockAsync runs m.Lock(ctx) with Async: a waiter for a lock the test holds.
func LockAsync(ctx context.Context, m interface{ Lock(context.Context) error }) <-chan error {
	return Async(func() error { return m.Lock(ctx) })
}
