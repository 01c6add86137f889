package backend

import (
	"context"

	"github.com/dogpile-go/dogpile/lock"
)

// Fenced is implemented by the mutexes of a Locking backend whose holder can
// write a value only while it holds the lock, in one step on the store (a
// Redis script that compares the lock's token and sets the value, say). A
// region writes the value a creation made through the mutex the creation
// holds (lock.Held), so that a creation that lost its lock — it expired while
// the holder was stalled, was evicted, or was lost when the store restarted
// or failed over — never overwrites the value of a later holder.
type Fenced interface {
	lock.Mutex
	// SetFenced stores value under key, as Backend.Set does, if this holder
	// holds the mutex; otherwise it stores nothing and returns an error
	// matching lock.ErrLockLost.
	SetFenced(ctx context.Context, key string, value []byte) error
}

// Swapper is implemented by backends that replace a value only if it is
// still what the caller read, atomically on the store (a Redis script,
// Memcached's cas, a database transaction). A region updates its shared
// invalidation record with it, so that two processes invalidating at once
// never lose one of the invalidations.
type Swapper interface {
	Backend
	// CompareAndSwap stores new under key if key holds old — or holds
	// nothing, when old is nil — and reports whether it did.
	CompareAndSwap(ctx context.Context, key string, old, new []byte) (swapped bool, err error)
}
