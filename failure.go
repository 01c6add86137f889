package dogpile

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/internal/clock"
	"github.com/dogpile-go/dogpile/lock"
)

// WithFailOpen makes the region keep answering when its backend fails (server
// down, timeouts): GetOrCreate calls the creator and returns its value without
// caching it, and Get reports a miss, instead of returning the backend's
// error. The default, as in Python's dogpile.cache, is to return the error.
//
// After a backend failure the region skips the backend (a circuit breaker,
// open), so that a dead server costs one timeout, not one per call. Once
// cooldown has passed, the first call to come along starts one probe in the
// background — a read of a key of the library's own — and goes on without
// the backend, as every other call does while the probe runs (half-open):
// however many callers there are, one request reaches a server that hangs.
// When the probe succeeds (and the operations queued meanwhile, see
// WithAutoRecovery, are replayed), the breaker closes and calls use the
// backend again; when it fails, the breaker stays open for another cooldown.
// Creations still go through the in-process lock, so a stampede on a key
// runs its creator once per process even while the backend is down.
//
// A creator's value that the backend fails to store is returned all the
// same, and the creator does not run again. A value the store refuses (one
// over Memcached's item size limit, a Redis out of memory; see
// ErrValueRefused) is no sign that the backend is down: the breaker stays
// closed, and other keys are cached as before. Each opening of the breaker
// is logged at warning level and counted (EventBreakerOpen); every failed
// backend call, the probe's included, counts as a backend error.
func WithFailOpen(cooldown time.Duration) RegionOption {
	return func(r *Region) {
		r.failOpen = true
		r.cooldown = cooldown
	}
}

// WithStaleIfError makes a failed regeneration of a stale value return the
// stale value instead of the error, when the value became stale no more than
// maxStale ago: when it expired, or when it was soft-invalidated, whichever
// came first. The failure is logged at warning level and counted as a
// creator error and a stale value served. It applies to GetOrCreate,
// GetOrCreateMulti (when every key that needed a value had a stale one) and
// the cached functions.
//
// A soft invalidation is dated by the strategy: the default one (in this
// process) by the time of the region's latest soft Invalidate;
// SharedInvalidation, whose generations carry no time (hosts' clocks need
// not agree), by the time this process learned of the latest soft
// generation — when it read the record that had it, or made it — so a
// process started after an invalidation measures from its first read.
// Under either, a later soft invalidation dates the value again: the bound
// runs from the latest. A custom strategy's invalidation time is not known: its soft-invalidated
// values are measured from their creation.
func WithStaleIfError(maxStale time.Duration) RegionOption {
	return func(r *Region) { r.staleIfError = maxStale }
}

// ErrValueRefused is matched by the error for one value that the store
// would not take, though it is up: over Memcached's item size limit, a Redis
// out of memory, over the region's WithMaxValueSize (ErrValueTooLarge). The
// value is not stored. A backend that can tell such a refusal from a
// failure wraps ErrValueRefused in its error (fmt.Errorf("…: %w",
// dogpile.ErrValueRefused)), so that a fail-open region neither opens its
// breaker for it nor runs the creator a second time: the creator's value is
// returned uncached, and the refusal is counted (EventValueRefused, and as a
// backend error). A region without fail-open counts it the same way and
// returns it as the call's error.
var ErrValueRefused = errors.New("dogpile: value refused by the store")

// refused reports whether err is the refusal of one value (see
// ErrValueRefused).
func refused(err error) bool {
	return errors.Is(err, ErrValueRefused) || errors.Is(err, ErrValueTooLarge)
}

// breakerOpen reports whether the backend is being skipped after a
// failure. Once the cooldown has passed, the first caller to ask starts
// the breaker's one probe, and is told to skip the backend like the
// others until the probe has closed the breaker.
func (r *Region) breakerOpen() bool {
	until := r.openUntil.Load()
	if until == 0 {
		return false
	}
	if clock.Coarse() >= until && r.probing.CompareAndSwap(false, true) {
		go r.probe()
	}
	return true
}

// failed handles a backend error in a fail-open region: it opens the breaker
// and reports whether the call should go on without the backend. The
// refusal of one value is not a failure of the backend: the call returns
// its error, and the breaker stays as it was.
func (r *Region) failed(err error) bool {
	if !r.failOpen || !errors.Is(err, ErrBackend) || refused(err) {
		return false
	}
	r.trip(err)
	return true
}

// trip opens the breaker, if it is closed.
func (r *Region) trip(err error) {
	if r.openUntil.CompareAndSwap(0, clock.Now()+int64(r.cooldown)) {
		r.observe(EventBreakerOpen, 0)
		r.logger.Warn("dogpile: backend failed; serving without the cache", "region", r.name, "retry_in", r.cooldown, "err", err)
	}
}

// probeTimeout bounds the breaker's probe, and each replayed operation: a
// server that hangs must not hold the breaker open for longer than a
// cooldown (and a second at least, for a slow but live server).
func (r *Region) probeTimeout() time.Duration { return max(r.cooldown, time.Second) }

// probeKey is the key the breaker's probe reads: one of the library's own,
// which no value can be stored under.
const probeKey = ReservedKeyPrefix + "probe"

// probe is the breaker's half-open state: one read of the backend, then
// the replay of what was queued while it was down; the breaker closes if
// both succeed, and stays open for another cooldown otherwise.
func (r *Region) probe() {
	defer r.probing.Store(false)
	s := r.state.Load()
	ctx, cancel := context.WithTimeout(context.Background(), r.probeTimeout())
	_, _, err := s.backend.Get(ctx, r.reservedStorageKey(probeKey))
	cancel()
	if err != nil {
		err = s.wrap("get", probeKey, err)
	} else {
		err = r.recovery.drain(r) // closes the breaker
	}
	if err != nil {
		r.openUntil.Store(clock.Now() + int64(r.cooldown))
		r.recovery.probeLater(r)
		r.logger.Debug("dogpile: the backend is still failing", "region", r.name, "retry_in", r.cooldown, "err", err)
		return
	}
	r.logger.Info("dogpile: backend back; caching again", "region", r.name)
}

// storeFailed decides what a creation does when storing its value under k
// failed with err: it reports true when the creation should return its
// value all the same — the value was refused (counted and logged; the
// breaker untouched), or the backend is down under fail-open (the breaker
// opens) — and false when the error is to be returned.
func (r *Region) storeFailed(k string, err error) bool {
	if refused(err) {
		r.observe(EventValueRefused, 0)
		if r.failOpen {
			r.logger.Warn("dogpile: the store refused a value; returned uncached", "region", r.name, "key", k, "err", err)
		} else {
			r.logger.Warn("dogpile: the store refused a value; the refusal returned", "region", r.name, "key", k, "err", err)
		}
		return r.failOpen
	}
	return r.failed(err)
}

// createUncached runs create for key k (the caller's key) without the
// backend, through the in-process lock: the fail-open path.
func createUncached[T any](ctx context.Context, r *Region, s *regionState, key, k string, create func(context.Context) (T, error)) (T, error) {
	l := lock.Lock[answer[T]]{
		Group:   &r.flights,
		Key:     k,
		Timeout: r.creationTimeout,
		Observe: r.lockObserver(),
		Load: func(context.Context) (answer[T], lock.State, error) {
			return answer[T]{}, lock.Missing, nil
		},
		Create: func(ctx context.Context) (answer[T], error) {
			v, err := runCreator(ctx, r, s, create)
			if errors.Is(err, ErrNotFound) {
				a := answer[T]{}
				a.negative = true
				return a, nil
			}
			return answer[T]{v: v}, err
		},
	}
	a, err := l.Get(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return a.result(key)
}

// createMultiUncached is createUncached for a multi-key creator: keys are
// the caller's keys. (No lock: the fail-open path of many keys calls the
// creator directly.)
func createMultiUncached[T any](ctx context.Context, r *Region, s *regionState, keys []string, create func(context.Context, []string) ([]T, error)) ([]T, error) {
	vs, nf, err := createValues(ctx, r, s, keys, create)
	if err != nil {
		return nil, err
	}
	as := make([]answer[T], len(keys))
	for i := range keys {
		as[i].v, as[i].negative = vs[i], nf != nil && nf[i]
	}
	return results(keys, as)
}

// staleOnError decides whether a failed regeneration may return the stale
// value whose stamp is st, and counts and logs it if so.
func (r *Region) staleOnError(ctx context.Context, s *regionState, state lock.State, st stamp, o *callOptions, err error) bool {
	if !r.mayServeStale(ctx, s, state, st, o, err) {
		return false
	}
	r.observe(EventStaleServed, 0)
	r.logger.Warn("dogpile: regeneration failed; serving the stale value", "region", r.name, "err", err)
	return true
}

// mayServeStale reports whether stale-if-error lets a regeneration that
// failed with err return the value in state with stamp st.
func (r *Region) mayServeStale(ctx context.Context, s *regionState, state lock.State, st stamp, o *callOptions, err error) bool {
	if r.staleIfError <= 0 || state != lock.Stale || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return s.clock.Now()-s.staleSince(ctx, st, o) <= int64(r.staleIfError)
}

// staleSince returns when the stale value with stamp st became stale: when
// it expired or when it was soft-invalidated, whichever came first (see
// WithStaleIfError). A value made stale early (WithEarlyRefresh) has not
// expired yet: its expiry is in the future.
func (s *regionState) staleSince(ctx context.Context, st stamp, o *callOptions) int64 {
	since := int64(math.MaxInt64)
	switch {
	case s.localInv != nil:
		if s.localInv.check(st.created) == Soft {
			since = s.localInv.soft.Load()
		}
	case s.gens != nil:
		if s.gens.check(ctx, st) == Soft {
			s.learnedSoft()
			since = s.softSeen.at.Load()
		}
	default:
		if s.inv.Invalidated(ctx, time.Unix(0, st.created)) == Soft {
			since = st.created // the strategy's time is not known
		}
	}
	if st.tags != nil && s.tags.check(st.tags, st.created) == Soft {
		since = min(since, st.created) // a tag's invalidation time is not known
	}
	exp := s.expiration
	switch {
	case st.ttl != 0:
		exp = time.Duration(st.ttl)
	case o.hasExpiration:
		if exp = o.expiration; exp == 0 {
			exp = ttlExpired // expired at once (see ExpirationTime)
		}
	}
	if exp > 0 {
		since = min(since, st.created+int64(exp))
	}
	return since
}

// softSeen is when this process learned of the latest soft generation of
// its shared invalidation record: the time stale-if-error measures a soft
// invalidation from, as generations carry none.
type softSeen struct {
	gen atomic.Uint64
	at  atomic.Int64
}

// learnedSoft notes the time at which this process first saw the current
// soft generation.
func (s *regionState) learnedSoft() {
	g := s.gens.soft.Load()
	for {
		seen := s.softSeen.gen.Load()
		if g <= seen {
			return
		}
		if s.softSeen.gen.CompareAndSwap(seen, g) {
			s.softSeen.at.Store(s.clock.Now())
			return
		}
	}
}
