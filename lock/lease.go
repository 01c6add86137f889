package lock

import (
	"context"
	"errors"
	"maps"
	"sync/atomic"
	"time"
)

// ErrLockLost is the cause (context.Cause) of a creation's context when the
// lease it ran under was found gone — expired while its holder was stalled,
// evicted, or lost when the store restarted or failed over — and is matched
// by the errors of Lease.Renew and of fenced writes (backend.Fenced) made
// after the loss.
var ErrLockLost = errors.New("dogpile: lock lost")

// A Lease is a Mutex whose hold ends by itself unless it is renewed: a
// distributed lock with a timeout, such as Redis's SET NX PX or Memcached's
// add with an expiry, which outlives a holder that died for at most its TTL.
//
// While a creation runs under a Lease, the Lock renews it every TTL/3 (the
// watchdog of Redisson's locks), so a creator slower than the TTL keeps it. A
// renewal that finds the lock no longer held by this holder ends the
// creation's context with ErrLockLost as its cause, so that the creator can
// stop (context.Cause tells it why).
type Lease interface {
	Mutex
	// TTL is how long a hold lasts from the last TryLock, Lock or Renew.
	TTL() time.Duration
	// Renew extends this holder's hold by TTL. Its error matches ErrLockLost
	// when this holder does not hold the lock any more; any other error is a
	// failure to reach the store, after which the hold may still be there
	// (the Lock tries again, and counts the lease lost once its TTL has
	// passed without a renewal).
	Renew(ctx context.Context) error
}

// A Waiter is a Mutex whose would-be holder can wait for the holder's
// release without taking the lock: the store tells waiters of a release
// (Redis pub/sub). A creation that waits for another process's creation then
// loads the value again at each release instead of taking the lock in turn:
// when the holder stored its value, every waiting process has it at once,
// rather than one after another as each takes the lock, reads and lets go.
type Waiter interface {
	Mutex
	// LockOrWait takes the mutex if it is free and reports true; otherwise
	// it waits until the holder releases it (as the store reports, or a
	// fallback poll interval passes) or ctx ends, and reports false without
	// taking it, so that the caller can look for the holder's value first.
	// Its errors are Lock's.
	LockOrWait(ctx context.Context) (locked bool, err error)
}

// heldKey is the context key under which a creation's context carries the
// mutexes its flight holds.
type heldKey struct{}

// hold is one mutex a creation holds, with whether its loss has been
// reported (by the renewer or by a refused fenced write), so that a loss is
// counted once.
type hold struct {
	m    Mutex
	lost atomic.Bool
}

// held is what a creation's context carries: the hold of each key.
type held map[string]*hold

// withHeld returns ctx carrying add as mutexes held (with those ctx carries
// already).
func withHeld(ctx context.Context, add held) context.Context {
	if len(add) == 0 {
		return ctx
	}
	prev, _ := ctx.Value(heldKey{}).(held)
	h := make(held, len(prev)+len(add))
	maps.Copy(h, prev)
	maps.Copy(h, add)
	return context.WithValue(ctx, heldKey{}, h)
}

// WithHeld returns a copy of ctx that carries m as the mutex held for key,
// as the context of a Lock's creation does once it holds its mutex. A store
// used with locking of its own, or a backend's tests of its fenced writes,
// use it to make such a context.
func WithHeld(ctx context.Context, key string, m Mutex) context.Context {
	return withHeld(ctx, held{key: &hold{m: m}})
}

// Held returns the Mutex held for key by the creation whose context is ctx,
// or nil when it holds none (no cross-process mutex, or another key's
// creation). A cache uses it to write the created value through the mutex
// (fenced, see backend.Fenced) rather than around it. The mutex held may be
// a wrapper of the backend's own (a proxy's, a tier's): a backend finds its
// own behind it with As.
func Held(ctx context.Context, key string) Mutex {
	h, _ := ctx.Value(heldKey{}).(held)
	if x := h[key]; x != nil {
		return x.m
	}
	return nil
}

// ReportLost records that the creation whose context is ctx found its hold
// of key's mutex lost — a fenced write was refused — and reports whether
// this is the first report of that loss: the renewals report it too when
// they find the lease gone (as the LeaseLost event), and a loss should be
// counted once. It reports false when ctx holds no mutex for key.
func ReportLost(ctx context.Context, key string) bool {
	h, _ := ctx.Value(heldKey{}).(held)
	if x := h[key]; x != nil {
		return x.lost.CompareAndSwap(false, true)
	}
	return false
}
