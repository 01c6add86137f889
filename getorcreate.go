package dogpile

import (
	"context"
	"fmt"

	"github.com/dogpile-go/dogpile/lock"
)

// GetOrCreate returns the value under key, calling create to make it when
// there is no usable value — the heart of the library.
//
// Per key, one creator runs at a time: in this process through the region's
// lock, and across processes through the backend's mutex when it has one
// (MutexBackend). Callers that find no value wait for that creator, bounded by
// their ctx. Callers that find an expired or soft-invalidated value get it at
// once while one of them regenerates it (with an async runner, that one too).
// The creator runs under a context detached from the cancellation of the
// caller that started it: a caller that gives up returns ctx.Err() at once and
// the others still get the value. A creator's error is returned to the callers
// waiting for it and nothing is stored; a panic is raised again in the caller
// that ran it, and the waiters get a *PanicError.
func GetOrCreate[T any](ctx context.Context, r *Region, key string, create func(context.Context) (T, error), opts ...Option) (T, error) {
	var zero T
	s, err := r.configured()
	if err != nil {
		return zero, err
	}
	o := collect(opts)
	k := r.mangle(key)
	v, created, _, found, err := lookup[T](ctx, r, s, k)
	if err != nil {
		return zero, err
	}
	st := lock.Missing
	if found {
		if st = s.state(ctx, created, &o); st == lock.Fresh {
			if r.obs != nil {
				r.obs.Observe(EventHit, 0)
			}
			return v, nil
		}
		// Stale while another caller regenerates: served at once, without
		// building a lock.
		if st == lock.Stale && !r.noStale && !o.noStale && r.flights.InFlight(k) {
			r.observe(EventStaleServed, 0)
			return v, nil
		}
	}
	if st == lock.Missing {
		r.observe(EventMiss, 0)
	}
	return getOrCreateSlow(ctx, r, s, k, v, st, create, o)
}

// getOrCreateSlow is everything but a hit; o is a copy so that the hit path
// does not move the caller's options to the heap.
func getOrCreateSlow[T any](ctx context.Context, r *Region, s *regionState, k string, v T, st lock.State, create func(context.Context) (T, error), o callOptions) (T, error) {
	keep, err := shouldCacheFunc[T](&o)
	if err != nil {
		var zero T
		return zero, err
	}
	l := newLock[T](r, s, k, &o)
	l.Create = func(ctx context.Context) (T, error) {
		v, err := create(ctx)
		if err != nil {
			return v, err
		}
		if keep == nil || keep(v) {
			if err := r.store(ctx, s, k, v); err != nil {
				var zero T
				return zero, err
			}
		}
		return v, nil
	}
	return l.GetLoaded(ctx, v, st)
}

// newLock returns key k's dogpile lock, ready but for its creator.
func newLock[T any](r *Region, s *regionState, k string, o *callOptions) *lock.Lock[T] {
	l := &lock.Lock[T]{
		Group:   &r.flights,
		Key:     k,
		Timeout: r.creationTimeout,
		NoStale: r.noStale || o.noStale,
		Async:   r.async,
		Observe: r.lockObserver(),
		Load: func(ctx context.Context) (T, lock.State, error) {
			v, created, _, found, err := lookup[T](ctx, r, s, k)
			if err != nil || !found {
				return v, lock.Missing, err
			}
			return v, s.state(ctx, created, o), nil
		},
	}
	if s.mutexes != nil {
		l.Mutex = s.mutexes.Mutex(k)
	}
	return l
}

// shouldCacheFunc returns the call's ShouldCache function for T, if any.
func shouldCacheFunc[T any](o *callOptions) (func(T) bool, error) {
	if o.shouldCache == nil {
		return nil, nil
	}
	keep, ok := o.shouldCache.(func(T) bool)
	if !ok {
		var zero T
		return nil, &ArgError{Name: "ShouldCache", Value: fmt.Sprintf("%T", o.shouldCache), Reason: fmt.Sprintf("want a func(%T) bool for this call", zero)}
	}
	return keep, nil
}
