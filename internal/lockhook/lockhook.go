// Package lockhook wraps a lock.Mutex so that a wrapper of a backend sees
// each of its calls: the logging proxy logs them, the tier drops its local
// copy of a key whose lock was taken.
package lockhook

import (
	"context"
	"time"

	"github.com/dogpile-go/dogpile/lock"
)

// Op names a mutex call.
type Op string

// The calls of a lock.Mutex (and a lock.Waiter's LockOrWait).
const (
	TryLock    Op = "try_lock"
	Lock       Op = "lock"
	Unlock     Op = "unlock"
	LockOrWait Op = "lock_or_wait"
)

// After is told of a call once it has returned: which call, when it began,
// whether the caller holds the lock now, and the call's error.
type After func(ctx context.Context, op Op, start time.Time, held bool, err error)

// Wrap returns m with after called once each call that takes or releases
// the lock returns, or nil if m is nil (the backend has no mutex). The
// wrapper is a lock.Waiter when m is one, and unwraps to m (lock.As), so
// that m's lease, probe and fenced writes are found through it.
func Wrap(m lock.Mutex, after After) lock.Mutex {
	if m == nil {
		return nil
	}
	h := &mutex{Mutex: m, after: after}
	if w, ok := m.(lock.Waiter); ok {
		return &waiter{mutex: h, w: w}
	}
	return h
}

type mutex struct {
	lock.Mutex
	after After
}

// Unwrap returns the wrapped mutex (see lock.As).
func (m *mutex) Unwrap() lock.Mutex { return m.Mutex }

// waiter is the wrapper of a lock.Waiter.
type waiter struct {
	*mutex
	w lock.Waiter
}

func (m *waiter) LockOrWait(ctx context.Context) (bool, error) {
	start := time.Now()
	ok, err := m.w.LockOrWait(ctx)
	m.after(ctx, LockOrWait, start, ok, err)
	return ok, err
}

func (m *mutex) TryLock(ctx context.Context) (bool, error) {
	start := time.Now()
	ok, err := m.Mutex.TryLock(ctx)
	m.after(ctx, TryLock, start, ok, err)
	return ok, err
}

func (m *mutex) Lock(ctx context.Context) error {
	start := time.Now()
	err := m.Mutex.Lock(ctx)
	m.after(ctx, Lock, start, err == nil, err)
	return err
}

func (m *mutex) Unlock(ctx context.Context) error {
	start := time.Now()
	err := m.Mutex.Unlock(ctx)
	m.after(ctx, Unlock, start, false, err)
	return err
}
