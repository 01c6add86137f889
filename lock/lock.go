package lock

import (
	"context"
	"fmt"
	"time"
)

// State is what a loader found for a key.
type State uint8

const (
	// Missing: there is no usable value; callers wait for the creator.
	Missing State = iota
	// Stale: there is a value, but it is expired or soft-invalidated; one
	// caller regenerates it while the others are served the stale value.
	Stale
	// Fresh: the value is good; it is returned without locking.
	Fresh
)

func (s State) String() string {
	switch s {
	case Missing:
		return "missing"
	case Stale:
		return "stale"
	case Fresh:
		return "fresh"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Lock is the dogpile lock for one key: the [Batch] of that one key. Fill in
// its fields and call Get; a Lock value describes one call and is not
// reused.
type Lock[T any] struct {
	// Group is where the callers of one key in this process meet. All locks of
	// one cache share one Group. Required.
	Group *Group
	// Key identifies the value in Group (and usually in the store).
	Key string
	// Mutex, if not nil, is the key's cross-process mutex: the flight's leader
	// takes it before it creates, so that one creator runs across processes.
	// Without it the flight alone elects the creator within this process.
	Mutex Mutex
	// Load returns the current value and its state. Required.
	Load func(ctx context.Context) (T, State, error)
	// Create creates the value and stores it where Load will find it.
	// Required.
	Create func(ctx context.Context) (T, error)
	// Async, if not nil, runs a regeneration of a stale value in the
	// background: every caller, the leader included, returns the stale value
	// at once. It must call regenerate exactly once, in any goroutine.
	Async func(regenerate func())
	// Timeout, if positive, bounds a flight's work (waiting for Mutex, Create),
	// which runs detached from the cancellation of the caller that started it:
	// the hard timeout.
	Timeout time.Duration
	// SoftTimeout, if positive, bounds how long a caller that holds a stale
	// value waits for its regeneration (see Batch.SoftTimeout).
	SoftTimeout time.Duration
	// Epoch is how many invalidations the caller knows the cache to have
	// had (see Batch.Epoch).
	Epoch uint64
	// NoStale makes callers that find a stale value wait for the new one
	// instead of being served the stale one.
	NoStale bool
	// Observe, if not nil, is told what the lock does, for metrics. It is
	// called synchronously and must be cheap and safe for concurrent use.
	Observe func(e Event, d time.Duration)
}

// Event is something a Lock or a Batch did, reported to its Observe.
type Event uint8

const (
	// ServedStale: a caller got the stale value while the key is being
	// regenerated (by another caller, another process, or in the background).
	ServedStale Event = iota
	// Waited: a caller waited for a creation it did not run; d is the wait.
	Waited
	// MutexWaited: a flight waited for the cross-process mutex; d is the wait.
	MutexWaited
	// Created: the creator returned a value; d is how long it ran.
	Created
	// CreateFailed: the creator returned an error or panicked; d is how long
	// it ran.
	CreateFailed
	// LeaseLost: the lease a creation held (a Lease mutex) was found gone;
	// the creation's context was ended with ErrLockLost as its cause.
	LeaseLost
	// MutexFailed: a call of the cross-process mutex failed (the store is
	// unreachable, say) and its error was not returned: a caller with a
	// stale value was served that instead, a renewal will be tried again,
	// a release is left to the lock's timeout. (A failure that is returned,
	// as a *MutexError, is not reported here.)
	MutexFailed
	// SoftTimedOut: a caller holding a stale value stopped waiting for its
	// regeneration after SoftTimeout and was served the stale value (also
	// reported as ServedStale); the creation goes on. d is the wait.
	SoftTimedOut
)

// Get returns the key's value: loaded if fresh, stale while another caller
// regenerates it, or created (by this caller or the one it waits for).
func (l *Lock[T]) Get(ctx context.Context) (T, error) {
	v, st, err := l.Load(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return l.GetLoaded(ctx, v, st)
}

// GetLoaded is Get for a caller that has already called Load itself (a cache
// does, to serve hits without building a Lock). v and st are what Load
// returned.
func (l *Lock[T]) GetLoaded(ctx context.Context, v T, st State) (T, error) {
	if st == Fresh {
		return v, nil
	}
	vs, err := l.batch().GetLoaded(ctx, []T{v}, []State{st})
	if err != nil {
		var zero T
		return zero, err
	}
	return vs[0], nil
}

// batch returns l as the Batch of its one key: the state machine is written
// once, for many keys.
func (l *Lock[T]) batch() *Batch[T] {
	b := &Batch[T]{
		Group:       l.Group,
		Keys:        []string{l.Key},
		Async:       l.Async,
		Timeout:     l.Timeout,
		SoftTimeout: l.SoftTimeout,
		Epoch:       l.Epoch,
		NoStale:     l.NoStale,
		Observe:     l.Observe,
		Load: func(ctx context.Context, _ []string) ([]T, []State, error) {
			v, st, err := l.Load(ctx)
			return []T{v}, []State{st}, err
		},
		Create: func(ctx context.Context, _ []string) ([]T, error) {
			v, err := l.Create(ctx)
			return []T{v}, err
		},
	}
	if m := l.Mutex; m != nil {
		b.Mutex = func(string) Mutex { return m }
	}
	return b
}

// MutexError is a failure of the cross-process mutex itself (not a wait that
// the caller's context ended): the store could not be reached, say. Op is
// "lock"; Key is the key whose mutex failed.
type MutexError struct {
	Op  string
	Key string
	Err error
}

func (e *MutexError) Error() string {
	return fmt.Sprintf("dogpile: %s %q: %v", e.Op, e.Key, e.Err)
}

// Unwrap returns the mutex's error.
func (e *MutexError) Unwrap() error { return e.Err }
