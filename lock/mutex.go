package lock

import "context"

// Mutex is a lock on one key that may be shared by several processes, such as
// a Redis "SET NX" lock or an OS file lock. A value returned by a backend's
// mutex constructor represents one would-be holder: Unlock releases the lock
// only if this value holds it.
//
// Implementations must be safe for use by one goroutine at a time; the dogpile
// lock never uses one Mutex value from two goroutines at once, with one
// exception: a [Lease]'s Renew runs in a goroutine of its own while the
// creation may write through the mutex (a fenced write), so a Lease must
// allow Renew concurrently with its other methods.
type Mutex interface {
	// TryLock acquires the mutex if it is free and reports whether it did.
	// It does not wait for another holder.
	TryLock(ctx context.Context) (bool, error)
	// Lock waits until it holds the mutex or ctx ends, in which case it
	// returns an error that wraps ctx.Err().
	Lock(ctx context.Context) error
	// Unlock releases the mutex if this value holds it.
	Unlock(ctx context.Context) error
}

// A Prober is a Mutex that can tell whether anyone holds it — this holder or
// another, in any process — without taking it: a lock that is a key in a
// store, such as Redis's or Memcached's, can, by reading the key; an OS file
// lock can, by asking the kernel for a conflicting lock (fcntl's F_GETLK or
// F_OFD_GETLK) besides its own holders. A cache asks it to report whether a
// key's value is being created (dogpile.Region.KeyIsLocked); the dogpile
// lock itself never needs it.
type Prober interface {
	Mutex
	// Locked reports whether the mutex is held now, by anyone. The answer
	// may be out of date as soon as it is returned.
	Locked(ctx context.Context) (bool, error)
}

// A Mutex may wrap another, as a backend proxy's mutex does to see each of
// its calls: it then has an Unwrap method returning the mutex it wraps. A
// wrapper implements the methods that take or release the lock itself —
// TryLock, Lock, Unlock, and a Waiter's LockOrWait when it wraps a Waiter —
// so that it sees every change of the hold; what the wrapped mutex can do
// besides (a Lease's TTL and Renew, a Prober's Locked, a fenced write) is
// found through Unwrap, with As.
//
// As returns the first mutex of m's chain — m, then what each Unwrap
// returns — that is a T, and whether there is one: As[Lease](m) for the
// lease behind a proxy's mutex, As[*redis.Mutex](m) for a backend looking
// for its own mutex among those a creation holds (see Held).
func As[T any](m Mutex) (T, bool) {
	for m != nil {
		if t, ok := m.(T); ok {
			return t, true
		}
		u, ok := m.(interface{ Unwrap() Mutex })
		if !ok {
			break
		}
		m = u.Unwrap()
	}
	var zero T
	return zero, false
}
