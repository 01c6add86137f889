package backend

import (
	"context"

	"github.com/dogpile-go/dogpile/lock"
)

// Fenced is implemented by the mutexes of a Locking backend that fences
// writes: a holder can write a value only while it holds the lock, checked
// and written in one step on the store (a Redis script that compares the
// lock's token and sets the value, say).
//
// The region writes a created value with the backend's Set (or SetMulti),
// under the creation's context, which carries the mutexes the creation holds
// (lock.Held). A backend that fences writes looks there: when the context
// holds one of its own mutexes for the key — or a wrapper of one, such as a
// proxy's or a tier's, which lock.As sees through — Set writes through it
// (SetFenced), so that a creation that lost its lock — it expired while the
// holder was stalled, was evicted, or was lost when the store restarted or
// failed over — never overwrites the value of a later holder. Going through
// Set keeps every proxy between the region and the backend (metrics,
// compression, a local tier) in the write's path.
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
