package dogpile

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile/internal/clock"
	"github.com/dogpile-go/dogpile/lock"
)

// GetOrCreate returns the value under key, calling create to make it when
// there is no usable value — the heart of the library.
//
// Per key, one creator runs at a time: in this process through the region's
// lock, and across processes through the backend's mutex when it has one
// (backend.Locking). Callers that find no value wait for that creator, bounded by
// their ctx. Callers that find an expired or soft-invalidated value get it at
// once while one of them regenerates it (with an async runner, that one too).
// The creator runs under a context detached from the cancellation of the
// caller that started it: a caller that gives up returns ctx.Err() at once and
// the others still get the value (see WithSoftTimeout for the caller that
// regenerates a stale value, and WithCreationTimeout). A creator's error is
// returned to the callers waiting for it and nothing is stored — but for
// ErrNotFound, which is cached as "not found" — and a panic is raised again
// in the caller that ran it, and the waiters get a *PanicError. The creator
// can set its value's expiration (SetExpiration) or keep it from being cached
// (DontCache) through ctx.
//
// Because the creator may run after the caller has returned, create escapes
// to the heap: a function literal that captures variables is allocated on
// every call, hits included — the call's one allocation (the key does not
// escape: a key built per call stays on the caller's stack). For
// allocation-free hits pass a function that captures nothing, or give the
// creator what it needs with GetOrCreateArg, or use Cached for a function
// of an argument.
func GetOrCreate[T any](ctx context.Context, r *Region, key string, create func(context.Context) (T, error), opts ...Option) (T, error) {
	return getOrCreate[T, func(context.Context) (T, error)](ctx, r, key, create, nil, opts, nil)
}

// GetOrCreateArg is GetOrCreate with a creator that takes an argument:
// create(ctx, arg) makes the value. It is how a creator needs no closure —
// pass a top-level function and what it works on,
// and a hit allocates nothing:
//
//	func loadUser(ctx context.Context, id int) (User, error) { … }
//
//	u, err := dogpile.GetOrCreateArg(ctx, r, "user:"+strconv.Itoa(id), id, loadUser)
//
// where the same call through GetOrCreate, with func(ctx context.Context)
// (User, error) { return loadUser(ctx, id) }, allocates the closure on
// every call. arg is handed to create as it is: an argument that points at
// memory the caller builds per call (a string made by concatenation) is on
// the heap, as the creator may keep it; an integer or a struct of them costs
// nothing. Everything else is as GetOrCreate.
func GetOrCreateArg[T, A any](ctx context.Context, r *Region, key string, arg A, create func(context.Context, A) (T, error), opts ...Option) (T, error) {
	if create == nil {
		// nil is how GetOrCreate says that arg is the creator: a
		// GetOrCreateArg without a creator fails as GetOrCreate's would.
		create = func(context.Context, A) (T, error) { panic("dogpile: GetOrCreateArg called with a nil creator") }
	}
	return getOrCreate(ctx, r, key, arg, create, opts, nil)
}

// getOrCreate is the get-or-create of GetOrCreate, GetOrCreateArg and
// CachedFunc.Call: the memory hit, written out here, and the rest in
// getOrCreateSlow — or, for a call of the cached function cached, with the
// options it was made with rather than opts, in cached.call. With a nil
// create, arg is the creator (GetOrCreate's): GetOrCreate can't pass an
// adapter of its creator without allocating it, as a generic function value
// carries its instantiation.
//
// The hit's first branch is the hit of most regions, written to be short
// (no call but the map's, none through T's dictionary): in a quick region
// (one with a quickMap), an entry with neither tags nor an expiration of its
// own (plainCreated), read without an expiration of the call's, is fresh
// when it was created after the region's latest invalidation and within its
// expiration — what state decides for it (IgnoreExpiration only makes more
// entries fresh: those go on to state). Any other entry is decided by
// usableEntry, and a region that isn't quick is memEntrySlow's. The hit is
// in this function rather than one of its own: the call levels between a
// get-or-create and the map read were a sixth of a hit.
func getOrCreate[T, A any](ctx context.Context, r *Region, key string, arg A, create func(context.Context, A) (T, error), opts []Option, cached *CachedFunc[A, T]) (T, error) {
	var zero T
	s, err := r.configured()
	if err != nil {
		return zero, err
	}
	o := &noOptions // read only: a call without options zeroes none
	switch {
	case cached != nil:
		o = &cached.o // merged once, when the function was made
		if o.expirationFunc != nil {
			oc := *o
			oc.askExpiration()
			o = &oc
		}
	case len(opts) == 1 && opts[0].expirationFunc == nil:
		o = &opts[0] // read only too: one option is its own merge
	case len(opts) > 0:
		c := collect(opts)
		o = &c
	}
	var e *valueEntry
	if m := s.quickMap; m != nil && !o.hasExpiration && !strings.HasPrefix(key, ReservedKeyPrefix) {
		x, _ := m.Load(key)
		e, _ = x.(*valueEntry)
		if e == nil || e.plainCreated <= s.localInv.latest.Load() ||
			s.expiration > 0 && clock.Coarse()-e.plainCreated > int64(s.expiration) {
			e = s.usableEntry(ctx, r, e, o, typeIDOf[T](), 0)
		}
	} else if s.hit != nil {
		e = s.memEntrySlow(ctx, r, key, o, typeIDOf[T]())
	}
	if e != nil {
		if _, typed := e.id.(*T); typed { // e.id == typeIDOf[T](), comparing the type words alone
			v, _ := e.value.(T) // a nil interface value, written as an interface T, is T's zero
			return v, nil
		}
	}
	if cached != nil {
		return cached.call(ctx, s, key, *o, arg)
	}
	return getOrCreateSlow(ctx, r, s, key, *o, arg, create)
}

// getOrCreateSlow is everything but a memory hit. The keys, arg and o are
// copied here, where the creator and the lock keep them, so that the
// caller's stay on its stack. It must not be inlined: a variable a closure
// captures is moved to the heap where it is declared, so that arg, inlined
// into getOrCreate, would be allocated by every hit.
//
//go:noinline
func getOrCreateSlow[T, A any](ctx context.Context, r *Region, s *regionState, key string, o callOptions, arg A, create func(context.Context, A) (T, error)) (T, error) {
	// New variables, not key: escape analysis follows variables, and the
	// caller's must not be the one kept.
	ckey, ck, err := s.ownKeys(key)
	if err != nil {
		var zero T
		return zero, err
	}
	if r.tracer != nil {
		return tracedGetOrCreate(ctx, r, s, ckey, ck, o, func(ctx context.Context, p pending[T], o callOptions) (T, error) {
			return createFor(ctx, r, s, ckey, ck, p, creatorOf(arg, create), o)
		})
	}
	var p pending[T]
	if lookupForCreate(ctx, r, s, ck, &o, &p) {
		return p.answer(ckey)
	}
	return createFor(ctx, r, s, ckey, ck, p, creatorOf(arg, create), o)
}

// creatorOf is the creator of a get-or-create: create bound to arg, or, for
// GetOrCreate (create nil), arg itself.
func creatorOf[T, A any](arg A, create func(context.Context, A) (T, error)) func(context.Context) (T, error) {
	if create == nil {
		mk, _ := any(arg).(func(context.Context) (T, error))
		return mk
	}
	return func(ctx context.Context) (T, error) { return create(ctx, arg) }
}

// memEntrySlow is the memory hit's entry for a region that isn't quick: a
// key prefix or mangler, a bounded map, a hit counted, another invalidation.
func (s *regionState) memEntrySlow(ctx context.Context, r *Region, key string, o *callOptions, want typeID) *valueEntry {
	t0 := r.hitStart(s)
	k, err := s.storageKey(key)
	if err != nil {
		return nil // the slow path reports it
	}
	x, _ := s.hit.load(k)
	e, _ := x.(*valueEntry)
	return s.usableEntry(ctx, r, e, o, want, t0)
}

// usableEntry is e (nil: none was found) if it is a fresh value of the
// type whose typeIDOf is want, counted as a hit that began at t0.
func (s *regionState) usableEntry(ctx context.Context, r *Region, e *valueEntry, o *callOptions, want typeID, t0 int64) *valueEntry {
	if e == nil || e.negative || e.id != want || s.state(ctx, &e.stamp, o) != lock.Fresh {
		return nil
	}
	if s.counted {
		r.observeHit(t0)
	}
	return e
}

// ownKeys returns the keys the slow path keeps: the caller's key and its
// storage key, in strings of their own, copied only where there is none (a
// storage key the region made is one; a mangler that keeps a key as it is
// made one with the caller's key in it).
func (s *regionState) ownKeys(key string) (string, string, error) {
	if s.keptAsIs(key) {
		c := strings.Clone(key)
		return c, c, nil
	}
	k, err := s.transformedKey(key)
	switch {
	case err != nil:
		return "", "", err
	case k == key:
		return k, k, nil
	}
	return strings.Clone(key), k, nil
}

// noOptions are the options of a call given none: shared, never written.
var noOptions callOptions

// negativeHit is the answer for key's cached "not found".
func negativeHit[T any](r *Region, key string) (T, error) {
	r.observe(EventNegativeHit, 0)
	var zero T
	return zero, notFound(key)
}

// errCachedNotFound is lookupForCreate's answer for a cached "not found":
// pending.answer makes it the caller's *NotFoundError.
var errCachedNotFound = errors.New("dogpile: cached not found")

// pending is what lookupForCreate found: the answer (when it reports done)
// or what createFor needs to go on.
type pending[T any] struct {
	v        T
	err      error
	stamp    stamp
	st       lock.State
	uncached bool // the backend is failing: create without it (fail-open)
}

// answer is the caller's answer when lookupForCreate is done; key is the
// caller's key.
func (p *pending[T]) answer(key string) (T, error) {
	if p.err == errCachedNotFound {
		var zero T
		return zero, notFound(key)
	}
	return p.v, p.err
}

// lookupForCreate is the first half of every get-or-create's slow path (a
// memory hit is getOrCreate's): the read, and the answer when it is a hit or a
// stale value being regenerated by someone else (done: p.v and p.err are
// the answer).
func lookupForCreate[T any](ctx context.Context, r *Region, s *regionState, k string, o *callOptions, p *pending[T]) (done bool) {
	if r.failOpen && r.breakerOpen() {
		p.uncached = true
		return false
	}
	t0 := r.hitStart(s)
	var (
		v     T
		st    stamp
		found bool
		err   error
	)
	if s.mem != nil {
		// lookup's first case, written out: lookup's results are more than
		// the registers hold, and returning them through memory costs a
		// cached function's hit a sixth of its time.
		if x, ok := s.mem.load(k); ok {
			v, st, found = valueLookup[T](r, k, x)
		}
	} else {
		v, st, _, found, err = lookup[T](ctx, r, s, k, o)
	}
	if err != nil {
		if r.failed(err) {
			p.uncached = true
			return false
		}
		p.err = err
		return true
	}
	p.st = lock.Missing
	if found {
		if p.st = s.state(ctx, &st, o); p.st == lock.Fresh {
			if st.negative {
				r.observe(EventNegativeHit, 0)
				p.err = errCachedNotFound
				return true
			}
			r.observeHit(t0)
			p.v = v
			return true
		}
		// Stale while another caller regenerates: served at once, without
		// building a lock.
		if p.st == lock.Stale && !r.noStale && !o.noStale && r.flights.InFlight(k) {
			r.observe(EventStaleServed, 0)
			if p.v = v; st.negative {
				p.err = errCachedNotFound
			}
			return true
		}
	}
	if p.st == lock.Missing {
		r.observe(EventMiss, 0)
	}
	p.v, p.stamp = v, st
	return false
}

// createFor is the second half: creation through the dogpile lock, with the
// region's failure policy (fail-open, stale-if-error) applied.
func createFor[T any](ctx context.Context, r *Region, s *regionState, key, k string, p pending[T], create func(context.Context) (T, error), o callOptions) (T, error) {
	if p.uncached {
		return createUncached(ctx, r, s, key, k, create)
	}
	stale := answer[T]{p.v, p.stamp}
	got, err := createLocked(ctx, r, s, key, k, stale, p.st, create, o)
	if err == nil {
		return got.result(key)
	}
	var me *lock.MutexError
	if errors.As(err, &me) {
		// The store failed under the lock: a backend error like any other,
		// so that fail-open and stale-if-error apply.
		err = s.wrap("lock", k, me.Err)
	}
	if r.failed(err) {
		return createUncached(ctx, r, s, key, k, create)
	}
	if r.staleOnError(ctx, s, p.st, p.stamp, &o, err) {
		return stale.result(key)
	}
	var zero T
	return zero, err
}

// createLocked creates through the dogpile lock; o is a copy so that the
// hit path does not move the caller's options to the heap.
func createLocked[T any](ctx context.Context, r *Region, s *regionState, key, k string, stale answer[T], st lock.State, create func(context.Context) (T, error), o callOptions) (answer[T], error) {
	keep, err := shouldCacheFunc[T](&o)
	if err != nil {
		return answer[T]{}, err
	}
	l := newLock[T](r, s, k, &o)
	l.Observe = r.traceLockWaits(ctx, s, key, 1, l.Observe)
	l.Create = func(ctx context.Context) (answer[T], error) {
		w := s.writeAs(typeIDOf[T](), &o) // before the creator reads anything
		ctx, c := withCreation(ctx)
		v, err := runCreator(ctx, r, s, create)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return answer[T]{}, err
		}
		return created(ctx, r, s, key, k, c, v, err, keep, &o, w)
	}
	return l.GetLoaded(ctx, stale, st)
}

// newLock returns key k's dogpile lock, ready but for its creator.
func newLock[T any](r *Region, s *regionState, k string, o *callOptions) *lock.Lock[answer[T]] {
	l := &lock.Lock[answer[T]]{
		Group:       &r.flights,
		Key:         k,
		Timeout:     r.creationTimeoutFor(o),
		SoftTimeout: r.softTimeoutFor(o),
		Epoch:       r.hardEpoch.Load(),
		NoStale:     r.noStale || o.noStale,
		Async:       r.async,
		Observe:     r.lockObserver(),
		Load: func(ctx context.Context) (answer[T], lock.State, error) {
			v, st, _, found, err := lookup[T](ctx, r, s, k, o)
			if err != nil || !found {
				return answer[T]{}, lock.Missing, err
			}
			return answer[T]{v, st}, s.state(ctx, &st, o), nil
		},
	}
	if s.mutexes != nil {
		l.Mutex = s.mutexes.Mutex(k)
	}
	return l
}

// creationTimeoutFor is the hard timeout of a creation the call with
// options o starts.
func (r *Region) creationTimeoutFor(o *callOptions) time.Duration {
	if o.hasCreationTimeout {
		return o.creationTimeout
	}
	return r.creationTimeout
}

// softTimeoutFor is the soft timeout of the call with options o.
func (r *Region) softTimeoutFor(o *callOptions) time.Duration {
	if o.hasSoftTimeout {
		return o.softTimeout
	}
	return r.softTimeout
}

// storeCreation stores v, which a creation made, under k: through the mutex
// the creation holds when it fences writes (see Region.store). A write the
// fence refused because the lock was lost is counted and logged, not
// returned: the value is good; only storing it would be wrong, as another
// holder's may be there now.
func (r *Region) storeCreation(ctx context.Context, s *regionState, k string, v any, w writing) error {
	err := r.store(ctx, s, k, v, w)
	if errors.Is(err, lock.ErrLockLost) {
		r.lockLost(ctx, k, err)
		return nil
	}
	return err
}

// lockLost counts and logs a creation whose distributed lock was lost before
// it could store its value.
func (r *Region) lockLost(ctx context.Context, k string, err error) {
	if lock.ReportLost(ctx, k) { // else the renewal counted it
		r.observe(EventLockLost, 0)
	}
	r.logger.Warn("dogpile: lock lost during a creation; its value was not stored", "region", r.name, "key", k, "err", err)
}

// shouldCacheFunc returns the call's ShouldCache function for T, if any.
func shouldCacheFunc[T any](o *callOptions) (func(T) bool, error) {
	if o.shouldCache == nil {
		return nil, nil
	}
	keep, ok := o.shouldCache.(shouldCache[T])
	if !ok {
		return nil, &ArgError{Name: "ShouldCache", Value: "a func(" + o.shouldCache.valueType().String() + ") bool",
			Reason: "want a func(" + reflect.TypeFor[T]().String() + ") bool for this call"}
	}
	return keep, nil
}
