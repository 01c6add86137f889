package dogpile

import (
	"context"
	"errors"
	"time"

	"github.com/dogpile-go/dogpile/internal/clock"
	"github.com/dogpile-go/dogpile/lock"
)

// WithFailOpen makes the region keep answering when its backend fails (server
// down, timeouts): GetOrCreate calls the creator and returns its value without
// caching it, and Get reports a miss, instead of returning the backend's
// error. The default, as in the seed, is to return the error.
//
// After a backend failure the region skips the backend for cooldown (a
// circuit breaker), so that a dead server costs one timeout, not one per call;
// the first call after the cooldown tries the backend again. Creations still
// go through the in-process lock, so a stampede on a key runs its creator once
// per process even while the backend is down. Each trip of the breaker is
// logged at warning level and counted as a backend error.
func WithFailOpen(cooldown time.Duration) RegionOption {
	return func(r *Region) {
		r.failOpen = true
		r.cooldown = cooldown
	}
}

// WithStaleIfError makes a failed regeneration of a stale value return the
// stale value instead of the error, when the value expired (or was
// soft-invalidated) no more than maxStale ago. The failure is logged at
// warning level and counted as a creator error and a stale value served.
func WithStaleIfError(maxStale time.Duration) RegionOption {
	return func(r *Region) { r.staleIfError = maxStale }
}

// breakerOpen reports whether the backend is being skipped after a failure.
func (r *Region) breakerOpen() bool {
	until := r.openUntil.Load()
	return until != 0 && clock.Coarse() < until
}

// failed handles a backend error in a fail-open region: it opens the breaker
// and reports whether the call should go on without the backend.
func (r *Region) failed(err error) bool {
	if !r.failOpen || !errors.Is(err, ErrBackend) {
		return false
	}
	if !r.breakerOpen() {
		r.openUntil.Store(clock.Now() + int64(r.cooldown))
		r.logger.Warn("dogpile: backend failed; serving without the cache", "region", r.name, "retry_in", r.cooldown, "err", err)
	}
	return true
}

// createUncached runs create for key k without the backend, through the
// in-process lock: the fail-open path.
func createUncached[T any](ctx context.Context, r *Region, k string, create func(context.Context) (T, error)) (T, error) {
	l := lock.Lock[T]{
		Group:   &r.flights,
		Key:     k,
		Timeout: r.creationTimeout,
		Observe: r.lockObserver(),
		Load: func(context.Context) (T, lock.State, error) {
			var zero T
			return zero, lock.Missing, nil
		},
		Create: create,
	}
	return l.Get(ctx)
}

// staleOnError decides whether a failed regeneration may return the stale
// value v, created at created.
func (r *Region) staleOnError(s *regionState, st lock.State, created int64, o *callOptions, err error) bool {
	if r.staleIfError <= 0 || st != lock.Stale || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	exp := s.expiration
	if o.hasExpiration {
		exp = o.expiration
	}
	if exp < 0 {
		exp = 0
	}
	if clock.Now()-created > int64(exp+r.staleIfError) {
		return false
	}
	r.observe(EventStaleServed, 0)
	r.logger.Warn("dogpile: regeneration failed; serving the stale value", "region", r.name, "err", err)
	return true
}
