package dogpile

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile/lock"
)

// GetOrCreateMulti is GetOrCreate for many keys at once. It reads every key in
// one round trip where the backend can, takes the lock of each key that needs
// a value, and calls create once with exactly those keys, in the order of
// keys; create returns their values in that order. The result holds one value
// per key, in the order of keys.
//
// Keys whose value is being created by another caller are waited for rather
// than created twice; stale keys are served stale while they are regenerated,
// as in GetOrCreate. ShouldCache applies to each value.
func GetOrCreateMulti[T any](ctx context.Context, r *Region, keys []string, create func(ctx context.Context, keys []string) ([]T, error), opts ...Option) ([]T, error) {
	s, err := r.configured()
	if err != nil {
		return nil, err
	}
	out := make([]T, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	o := collect(opts)
	keep, err := shouldCacheFunc[T](&o)
	if err != nil {
		return nil, err
	}
	mk, err := s.storageKeys(keys)
	if err != nil {
		return nil, err
	}
	if r.failOpen && r.breakerOpen() {
		return createMultiUncached(ctx, keys, create)
	}
	vals, created, found, err := lookupMulti[T](ctx, r, s, mk)
	if err != nil {
		if r.failed(err) {
			return createMultiUncached(ctx, keys, create)
		}
		return nil, err
	}
	noStale := r.noStale || o.noStale

	b := &multiBatch[T]{r: r, s: s, o: o, keep: keep, create: create}
	type waiting struct {
		i      int
		f      *lock.Flight
		leader bool
	}
	var waits []waiting
	for i := range keys {
		st := lock.Missing
		if found[i] {
			st = s.state(ctx, created[i], &o)
		}
		switch {
		case st == lock.Fresh:
			out[i] = vals[i]
			r.observe(EventHit, 0)
		case st == lock.Stale && !noStale:
			out[i] = vals[i]
			if f, leader := r.flights.Begin(mk[i]); leader {
				b.items = append(b.items, batchItem[T]{key: keys[i], mk: mk[i], f: f, stale: true, staleVal: vals[i], i: i})
			} else {
				r.observe(EventStaleServed, 0)
			}
		default:
			if st == lock.Missing {
				r.observe(EventMiss, 0)
			}
			f, leader := r.flights.Join(mk[i])
			if leader {
				b.items = append(b.items, batchItem[T]{key: keys[i], mk: mk[i], f: f, i: i})
			} else {
				waits = append(waits, waiting{i: i, f: f})
			}
		}
	}

	if len(b.items) > 0 {
		dctx, cancel := detach(ctx, r.creationTimeout)
		allStale := !slices.ContainsFunc(b.items, func(it batchItem[T]) bool { return !it.stale })
		if allStale && r.async != nil {
			// Everyone has a value to return: regenerate in the background.
			for range b.items {
				r.observe(EventStaleServed, 0)
			}
			r.async(func() { defer cancel(); b.run(dctx) })
		} else {
			for _, it := range b.items {
				waits = append(waits, waiting{i: it.i, f: it.f, leader: true})
			}
			go func() { defer cancel(); b.run(dctx) }()
		}
	}

	for _, w := range waits {
		start := time.Now()
		got, fresh, err := w.f.Wait(ctx)
		if !w.leader {
			r.observe(EventLockWait, time.Since(start))
		}
		if pe, ok := err.(*PanicError); ok && w.leader {
			panic(pe)
		}
		if err != nil {
			return nil, err
		}
		i := w.i
		if !fresh && found[i] && !noStale {
			r.observe(EventStaleServed, 0)
		}
		if fresh || (found[i] && !noStale) {
			v, ok := got.(T)
			if !ok {
				return nil, fmt.Errorf("dogpile: the flight for key %q produced a %T, not a %T", keys[i], got, out[i])
			}
			out[i] = v
			continue
		}
		// The flight ended without a value we can use (its leader found the
		// key stale and another process regenerating it): get this key alone.
		createOne := func(ctx context.Context) (T, error) {
			vs, err := create(ctx, []string{keys[i]})
			if err == nil && len(vs) != 1 {
				err = fmt.Errorf("dogpile: GetOrCreateMulti creator returned %d values for 1 key", len(vs))
			}
			if err != nil {
				var zero T
				return zero, err
			}
			return vs[0], nil
		}
		if out[i], err = getOrCreateSlow(ctx, r, s, mk[i], out[i], lock.Missing, createOne, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// createMultiUncached is GetOrCreateMulti while the backend is failing in a
// fail-open region: the creator makes every value, and nothing is stored.
func createMultiUncached[T any](ctx context.Context, keys []string, create func(context.Context, []string) ([]T, error)) ([]T, error) {
	vs, err := create(ctx, keys)
	if err == nil && len(vs) != len(keys) {
		err = fmt.Errorf("dogpile: GetOrCreateMulti creator returned %d values for %d keys", len(vs), len(keys))
	}
	if err != nil {
		return nil, err
	}
	return vs, nil
}

func detach(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	dctx := context.WithoutCancel(ctx)
	if timeout > 0 {
		return context.WithTimeout(dctx, timeout)
	}
	return dctx, func() {}
}

// batchItem is one key whose flight a GetOrCreateMulti call leads.
type batchItem[T any] struct {
	key, mk  string
	i        int
	f        *lock.Flight
	stale    bool
	staleVal T
	done     bool
}

// multiBatch creates the values of the keys a GetOrCreateMulti call leads:
// it takes their cross-process locks, loads them again, and calls the creator
// once with the keys still without a value.
type multiBatch[T any] struct {
	r      *Region
	s      *regionState
	o      callOptions
	keep   func(T) bool
	create func(context.Context, []string) ([]T, error)
	items  []batchItem[T]
}

func (b *multiBatch[T]) finish(it *batchItem[T], v any, fresh bool, err error) {
	if !it.done {
		it.done = true
		it.f.Finish(v, fresh, err)
	}
}

func (b *multiBatch[T]) finishAll(err error) {
	for i := range b.items {
		b.finish(&b.items[i], nil, false, err)
	}
}

func (b *multiBatch[T]) run(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			b.finishAll(&PanicError{Value: p, Stack: debug.Stack()})
		}
	}()
	r, s := b.r, b.s

	if s.mutexes != nil {
		// Take the locks in key order, so that two callers asking for
		// overlapping keys in different orders cannot deadlock.
		order := make([]*batchItem[T], len(b.items))
		for i := range b.items {
			order[i] = &b.items[i]
		}
		slices.SortFunc(order, func(a, b *batchItem[T]) int { return strings.Compare(a.mk, b.mk) })
		var held []lock.Mutex
		defer func() {
			for _, m := range held {
				m.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck // a lost release expires with the lock's timeout
			}
		}()
		for _, it := range order {
			m := s.mutexes.Mutex(it.mk)
			if m == nil { // a proxy over a backend without a mutex
				continue
			}
			if it.stale {
				ok, err := m.TryLock(ctx)
				if err != nil || !ok { // another process is regenerating
					b.finish(it, it.staleVal, false, s.wrap("lock", it.mk, err))
					continue
				}
			} else {
				start := time.Now()
				err := m.Lock(ctx)
				r.observe(EventLockWait, time.Since(start))
				if err != nil {
					b.finish(it, nil, false, s.wrap("lock", it.mk, err))
					continue
				}
			}
			held = append(held, m)
		}
	}

	// Load again: values may have been stored while we took the locks.
	var todo []*batchItem[T]
	for i := range b.items {
		if !b.items[i].done {
			todo = append(todo, &b.items[i])
		}
	}
	if len(todo) == 0 {
		return
	}
	mks := make([]string, len(todo))
	for j, it := range todo {
		mks[j] = it.mk
	}
	vals, created, found, err := lookupMulti[T](ctx, r, s, mks)
	if err != nil {
		b.finishAll(err)
		return
	}
	keys := make([]string, 0, len(todo))
	need := todo[:0:0]
	for j, it := range todo {
		if found[j] && s.state(ctx, created[j], &b.o) == lock.Fresh {
			b.finish(it, vals[j], true, nil)
			continue
		}
		need = append(need, it)
		keys = append(keys, it.key)
	}
	if len(need) == 0 {
		return
	}

	w := s.writeAs(typeIDOf[T]()) // before the creator reads anything
	start := time.Now()
	ok := false
	defer func() { // also when create panics
		if ok {
			r.observe(EventRegenerated, time.Since(start))
		} else {
			r.observe(EventCreatorError, time.Since(start))
		}
	}()
	vs, err := b.create(ctx, keys)
	if err == nil && len(vs) != len(keys) {
		err = fmt.Errorf("dogpile: GetOrCreateMulti creator returned %d values for %d keys", len(vs), len(keys))
	}
	ok = err == nil
	if err != nil {
		b.finishAll(err)
		return
	}
	items := make(map[string]any, len(need))
	for j, it := range need {
		if b.keep == nil || b.keep(vs[j]) {
			items[it.mk] = vs[j]
		}
	}
	if len(items) > 0 {
		if err := r.storeMulti(ctx, s, items, w); err != nil {
			b.finishAll(err)
			return
		}
	}
	for j, it := range need {
		b.finish(it, vs[j], true, nil)
	}
}
