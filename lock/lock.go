package lock

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
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

// Lock is the dogpile lock for one key. Fill in its fields and call Get; a
// Lock value describes one call and is not reused.
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
	// which runs detached from the cancellation of the caller that started it.
	Timeout time.Duration
	// NoStale makes callers that find a stale value wait for the new one
	// instead of being served the stale one.
	NoStale bool
	// Observe, if not nil, is told what the lock does, for metrics. It is
	// called synchronously and must be cheap and safe for concurrent use.
	Observe func(e Event, d time.Duration)
}

// Event is something a Lock did, reported to Lock.Observe.
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
	// unreachable, say) and, as the caller had a stale value, it was served
	// that instead of the error. (A failure that is returned, as a
	// *MutexError, is not reported here.)
	MutexFailed
)

func (l *Lock[T]) observe(e Event, d time.Duration) {
	if l.Observe != nil {
		l.Observe(e, d)
	}
}

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
	var zero T
	for {
		switch {
		case st == Fresh:
			return v, nil
		case st == Stale && !l.NoStale:
			f, leader := l.Group.Begin(l.Key)
			if !leader {
				l.observe(ServedStale, 0) // someone in this process is regenerating
				return v, nil
			}
			if l.Async != nil {
				dctx, cancel := l.detach(ctx)
				l.Async(func() {
					defer cancel()
					l.run(dctx, f, v, Stale)
				})
				l.observe(ServedStale, 0)
				return v, nil
			}
			got, err := l.lead(ctx, f, v, Stale)
			if err == nil && !f.fresh {
				l.observe(ServedStale, 0) // another process is regenerating
			}
			return got, err
		default: // Missing, or Stale for a caller that won't take stale
			f, leader := l.Group.Join(l.Key)
			var (
				val   T
				fresh bool
				err   error
			)
			if leader {
				val, err = l.lead(ctx, f, v, Missing)
				fresh = err == nil && f.fresh
			} else {
				var got any
				start := time.Now()
				got, fresh, err = f.Wait(ctx)
				l.observe(Waited, time.Since(start))
				if err == nil {
					var ok bool
					if val, ok = got.(T); !ok {
						return zero, fmt.Errorf("dogpile: the flight for key %q produced a %T, not a %T", l.Key, got, zero)
					}
				}
			}
			if err != nil || fresh {
				return val, err
			}
			// The flight ended without a new value (its leader found the
			// value stale and another process regenerating it). We need a
			// usable value: look again, and wait for the mutex this time.
			if v, st, err = l.Load(ctx); err != nil {
				return zero, err
			}
			if st == Stale && !l.NoStale {
				l.observe(ServedStale, 0)
				return v, nil
			}
		}
	}
}

// lead runs the flight f in its own goroutine and waits for it (bounded by
// ctx). A creator's panic is raised again here.
func (l *Lock[T]) lead(ctx context.Context, f *Flight, stale T, st State) (T, error) {
	dctx, cancel := l.detach(ctx)
	go func() {
		defer cancel()
		l.run(dctx, f, stale, st)
	}()
	got, _, err := f.Wait(ctx)
	if pe, ok := err.(*PanicError); ok {
		panic(pe)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return got.(T), nil
}

func (l *Lock[T]) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	dctx := context.WithoutCancel(ctx)
	if l.Timeout > 0 {
		return context.WithTimeout(dctx, l.Timeout)
	}
	return dctx, func() {}
}

// run is the flight's work: take the cross-process mutex, load again, create.
// It always finishes f, even if the creator panics. A creation whose lease
// was lost is tried once more: it waits for the mutex again (the new holder
// may be creating) and loads again before it creates.
func (l *Lock[T]) run(ctx context.Context, f *Flight, stale T, st State) {
	var (
		val   T
		fresh bool
		err   error
	)
	defer func() {
		if r := recover(); r != nil {
			f.Finish(nil, false, &PanicError{Value: r, Stack: debug.Stack()})
			return
		}
		f.Finish(val, fresh, err)
	}()
	val, fresh, err = l.attempt(ctx, stale, st)
	if err != nil && errors.Is(err, ErrLockLost) && ctx.Err() == nil {
		val, fresh, err = l.attempt(ctx, stale, st)
	}
}

// attempt takes the cross-process mutex (when there is one), loads again and
// creates. Its error matches ErrLockLost when the lease was lost during the
// creation.
func (l *Lock[T]) attempt(ctx context.Context, stale T, st State) (val T, fresh bool, err error) {
	if l.Mutex != nil {
		if st == Stale {
			ok, err := l.Mutex.TryLock(ctx)
			if err != nil {
				// A caller holding a value is better served it than an
				// error: the store's trouble is counted, not returned.
				l.observe(MutexFailed, 0)
				return stale, false, nil
			}
			if !ok { // another process is regenerating: serve stale
				return stale, false, nil
			}
		} else {
			start := time.Now()
			err := l.Mutex.Lock(ctx)
			l.observe(MutexWaited, time.Since(start))
			if err != nil {
				if ctx.Err() == nil {
					err = &MutexError{Op: "lock", Err: err}
				}
				return val, false, err
			}
		}
		// Release even when ctx has ended: the lock must not outlive us.
		// (Deferred before the renewals' stop, so it runs after it: the
		// renewer never uses the mutex once it is released.)
		defer l.Mutex.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck // a lost release expires with the lock's timeout
		var h *hold
		ctx, h = withHeld(ctx, l.Key, l.Mutex)
		if lease, ok := l.Mutex.(Lease); ok {
			var stop func()
			ctx, stop = l.keepAlive(ctx, lease, h)
			defer stop()
		}
	}

	// Someone (in this process or another) may have stored a fresh value
	// between our Load and taking the lock.
	var again State
	if val, again, err = l.Load(ctx); err != nil {
		return val, false, err
	}
	if again == Fresh {
		return val, true, nil
	}
	start := time.Now()
	defer func() {
		// Runs before the deferred Finish in run, panics included.
		if fresh {
			l.observe(Created, time.Since(start))
		} else {
			l.observe(CreateFailed, time.Since(start))
		}
	}()
	if val, err = l.Create(ctx); err != nil {
		if context.Cause(ctx) == ErrLockLost {
			err = fmt.Errorf("%w while creating %q: %w", ErrLockLost, l.Key, err)
		}
		return val, false, err
	}
	return val, true, nil
}

// keepAlive renews lease every TTL/3 while the creation runs, Redisson's
// watchdog. When a renewal finds the lease gone, or no renewal has succeeded
// for a whole TTL (the store unreachable: the hold has surely ended), the
// returned context ends with ErrLockLost as its cause. stop ends the
// renewals and returns once none is running, so that the mutex is never
// used by the renewer after the creation has released it.
func (l *Lock[T]) keepAlive(ctx context.Context, lease Lease, h *hold) (context.Context, func()) {
	ttl := lease.TTL()
	if ttl <= 0 {
		return ctx, func() {}
	}
	cctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		every := ttl / 3
		t := time.NewTicker(every)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-done:
				return
			case <-cctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(cctx), every)
			err := lease.Renew(rctx)
			rcancel()
			switch {
			case err == nil:
				renewed = time.Now()
				continue
			case !errors.Is(err, ErrLockLost) && time.Since(renewed) < ttl:
				continue // the store may answer the next time; the hold lasts
			}
			if h.lost.CompareAndSwap(false, true) {
				l.observe(LeaseLost, 0)
			}
			cancel(ErrLockLost)
			return
		}
	}()
	return cctx, func() {
		close(done)
		<-exited
		cancel(nil)
	}
}

// MutexError is a failure of the cross-process mutex itself (not a wait that
// the caller's context ended): the store could not be reached, say. Op is
// "lock".
type MutexError struct {
	Op  string
	Err error
}

func (e *MutexError) Error() string { return "dogpile: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the mutex's error.
func (e *MutexError) Unwrap() error { return e.Err }
