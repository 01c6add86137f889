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

// The calls of a lock.Mutex.
const (
	TryLock Op = "try_lock"
	Lock    Op = "lock"
	Unlock  Op = "unlock"
)

// After is told of a call once it has returned: which call, when it began,
// whether the caller holds the lock now, and the call's error.
type After func(ctx context.Context, op Op, start time.Time, held bool, err error)

// Wrap returns m with after called once each of its calls returns, or nil
// if m is nil (the backend has no mutex).
func Wrap(m lock.Mutex, after After) lock.Mutex {
	if m == nil {
		return nil
	}
	return &mutex{Mutex: m, after: after}
}

type mutex struct {
	lock.Mutex
	after After
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
