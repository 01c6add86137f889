package dogpile

import (
	"context"
	"errors"
	"sync"
	"time"
)

// SetExpiration sets the expiration of the value the creator running under
// ctx returns: it expires d after its creation, or never with NoExpiration
// — whatever the region's expiration or the call's ExpirationTime say. It
// is how a value's lifetime follows the value itself: an API answer's
// Cache-Control max-age, a token's expiry.
//
//	tok, err := dogpile.GetOrCreate(ctx, r, "token", func(ctx context.Context) (Token, error) {
//		tok, err := auth.Fetch(ctx)
//		if err == nil {
//			dogpile.SetExpiration(ctx, time.Until(tok.Expiry)-time.Minute)
//		}
//		return tok, err
//	})
//
// The expiration is stored with the entry (on every backend), so every
// process reading it applies it; IgnoreExpiration still reads past it, and
// invalidation applies as to any value. A zero or negative d other than
// NoExpiration — a token that has already expired — stores the value expired
// at once: served stale while it is regenerated, and to WithStaleIfError,
// but never fresh. The last call wins. In a multi-key creation it applies to
// every value; SetExpirationAt sets one. Outside a creation (a ctx that no
// GetOrCreate, GetOrCreateMulti or cached function gave a creator) it does
// nothing.
//
// Why the context: a creator's signature stays what it is (a cached
// function is the plain function it wraps), a creator that has nothing to
// say says nothing, and one that decides late — after it has looked at what
// it fetched — says it where it decides, in any goroutine of the creation.
func SetExpiration(ctx context.Context, d time.Duration) {
	if c := creationOf(ctx); c != nil {
		c.set(-1, func(m *valueMeta) { m.ttl, m.hasTTL = ttlOf(d), true })
	}
}

// SetExpirationAt is SetExpiration for the value at position i of a
// multi-key creation (the i-th of the keys or arguments the creator was
// given); it takes precedence over SetExpiration for that value. In a
// single-key creation, position 0 is its value.
func SetExpirationAt(ctx context.Context, i int, d time.Duration) {
	if c := creationOf(ctx); c != nil {
		c.set(i, func(m *valueMeta) { m.ttl, m.hasTTL = ttlOf(d), true })
	}
}

// DontCache makes the creator running under ctx return its value without
// storing it, as ShouldCache returning false would, but decided by the
// creator: a partial answer, a fallback. It applies to a "not found" answer
// (ErrNotFound) too. In a multi-key creation it applies to every value;
// DontCacheAt to one. Outside a creation it does nothing.
func DontCache(ctx context.Context) {
	if c := creationOf(ctx); c != nil {
		c.set(-1, func(m *valueMeta) { m.dontCache = true })
	}
}

// DontCacheAt is DontCache for the value at position i of a multi-key
// creation (see SetExpirationAt).
func DontCacheAt(ctx context.Context, i int) {
	if c := creationOf(ctx); c != nil {
		c.set(i, func(m *valueMeta) { m.dontCache = true })
	}
}

// ttlOf is the stored form of an expiration a creator set (see stamp.ttl).
func ttlOf(d time.Duration) int64 {
	switch {
	case d == NoExpiration:
		return ttlNever
	case d <= 0:
		return ttlExpired
	}
	return int64(d)
}

const (
	ttlNever   = -1 // stamp.ttl: never expires
	ttlExpired = 1  // stamp.ttl: expired at once (one nanosecond after its creation)
)

// creationKey is the context key under which a creator's context carries
// its creation.
type creationKey struct{}

// creation is what a creator said of the values it returns, through its
// context.
type creation struct {
	mu  sync.Mutex
	all valueMeta
	at  map[int]valueMeta
}

// valueMeta is what a creator said of one value.
type valueMeta struct {
	ttl       int64
	hasTTL    bool
	dontCache bool
}

func creationOf(ctx context.Context) *creation {
	c, _ := ctx.Value(creationKey{}).(*creation)
	return c
}

// withCreation returns ctx carrying a new creation, for a creator.
func withCreation(ctx context.Context) (context.Context, *creation) {
	c := &creation{}
	return context.WithValue(ctx, creationKey{}, c), c
}

// set changes what was said of the value at position i (-1: of every value).
func (c *creation) set(i int, f func(*valueMeta)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 {
		f(&c.all)
		return
	}
	if c.at == nil {
		c.at = make(map[int]valueMeta)
	}
	m := c.at[i]
	f(&m)
	c.at[i] = m
}

// of returns what was said of the value at position i.
func (c *creation) of(i int) valueMeta {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.all
	if x, ok := c.at[i]; ok {
		if x.hasTTL {
			m.ttl, m.hasTTL = x.ttl, true
		}
		m.dontCache = m.dontCache || x.dontCache
	}
	return m
}

// entryOf decides how the value at position i is stored, and whether: the
// creator's word first, then for a "not found" the negative expiration.
func (r *Region) entryOf(c *creation, i int, negative bool, o *callOptions) (e entryMeta, store bool) {
	m := c.of(i)
	if m.dontCache {
		return entryMeta{}, false
	}
	e.negative = negative
	switch {
	case m.hasTTL:
		e.ttl = m.ttl
	case negative && o.negExpiration != 0:
		e.ttl = ttlOf(o.negExpiration)
	case negative && r.negExpiration != 0:
		e.ttl = ttlOf(r.negExpiration)
	}
	return e, true
}

// entryMeta is how one value is stored beside the writing's type and
// generations: its own expiration, and whether it is a "not found".
type entryMeta struct {
	ttl      int64 // see stamp.ttl
	negative bool
}

// answer is what a read or a creation gives a caller of the region's lock:
// a value with its stamp, or (stamp.negative) a "not found".
type answer[T any] struct {
	v T
	stamp
}

// result is what the caller of key gets for a.
func (a answer[T]) result(key string) (T, error) {
	if a.negative {
		var zero T
		return zero, notFound(key)
	}
	return a.v, nil
}

// runCreator runs a creator and counts it: EventRegenerated with its
// duration when it returns a value or a "not found", EventCreatorError when
// it fails or panics. The region counts its creators here rather than from
// the lock's events, which time storing the value too: a value the store
// could not take is no creator error.
func runCreator[X any](ctx context.Context, r *Region, s *regionState, create func(context.Context) (X, error)) (x X, err error) {
	ctx, sp := r.traceCreator(ctx, s)
	start := time.Now()
	answered := false
	defer func() { // also when create panics
		d := time.Since(start)
		endCreator(sp, answered, err)
		if !answered {
			r.observe(EventCreatorError, d)
			return
		}
		r.observe(EventRegenerated, d)
		if s.early != nil {
			s.early.observe(d)
		}
	}()
	x, err = create(ctx)
	answered = err == nil || errors.Is(err, ErrNotFound)
	return x, err
}

// created stores what a single-key creator returned under k (the caller's
// key is key), as the creator and the call's options say, and returns the
// caller's answer. A store that failed because the backend is down (under
// fail-open) or refused the value is handled by storeFailed: the value is
// still returned, its creator not run again.
func created[T any](ctx context.Context, r *Region, s *regionState, key, k string, c *creation, v T, err error, keep func(T) bool, o *callOptions, w writing) (answer[T], error) {
	negative := err != nil // runCreator let only ErrNotFound through
	if negative {
		var zero T
		v = zero
	}
	a := answer[T]{v: v}
	a.negative = negative
	e, store := r.entryOf(c, 0, negative, o)
	if !store || !negative && keep != nil && !keep(v) {
		return a, nil
	}
	w.entry = e
	if err := r.storeCreation(ctx, s, k, v, w); err != nil && !r.storeFailed(k, err) {
		return answer[T]{}, err
	}
	return a, nil
}

// createdMulti is created for a multi-key creator: ks are the storage keys
// of its values vs, nf which of them were not found.
func createdMulti[T any](ctx context.Context, r *Region, s *regionState, ks []string, c *creation, vs []T, nf []bool, keep func(T) bool, o *callOptions, w writing) ([]answer[T], error) {
	out := make([]answer[T], len(ks))
	items := make(map[string]any, len(ks))
	for j, k := range ks {
		negative := nf != nil && nf[j]
		if !negative {
			out[j].v = vs[j]
		}
		out[j].negative = negative
		e, store := r.entryOf(c, j, negative, o)
		if !store || !negative && keep != nil && !keep(vs[j]) {
			continue
		}
		items[k] = out[j].v
		if e != (entryMeta{}) {
			if w.perKey == nil {
				w.perKey = make(map[string]entryMeta)
			}
			w.perKey[k] = e
		}
	}
	if len(items) == 0 {
		return out, nil
	}
	if err := r.storeCreated(ctx, s, items, w); err != nil && !r.storeFailed(ks[0], err) {
		return nil, err
	}
	return out, nil
}

// results is what a multi-key call returns for its keys' answers: the
// values, and a *NotFoundError listing the keys not found, if any.
func results[T any](keys []string, as []answer[T]) ([]T, error) {
	vals := make([]T, len(as))
	var missing []string
	for i, a := range as {
		if a.negative {
			missing = append(missing, keys[i])
			continue
		}
		vals[i] = a.v
	}
	if missing != nil {
		return vals, &NotFoundError{Keys: missing}
	}
	return vals, nil
}
