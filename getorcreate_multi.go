package dogpile

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dogpile-go/dogpile/backend"
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
//
// A creator says which of its keys do not exist by returning NotFoundAt of
// their positions with its values (ErrNotFound: none of them exists); those
// are cached as "not found" (see ErrNotFound). When any key is not found,
// from the cache or from the creator, GetOrCreateMulti returns the values
// of the others with a *NotFoundError that lists them (their values are the
// zero value).
func GetOrCreateMulti[T any](ctx context.Context, r *Region, keys []string, create func(ctx context.Context, keys []string) ([]T, error), opts ...Option) (_ []T, err error) {
	s, err := r.configured()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []T{}, nil
	}
	if r.tracer != nil {
		var sp Span
		ctx, sp = r.tracer.Start(ctx, SpanGetOrCreateMulti, r.spanInfo(s, "", len(keys)))
		defer func() { sp.End(outcomeOf(OutcomeOK, err), err) }()
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
		return createMultiUncached(ctx, r, s, keys, create)
	}
	epoch := r.hardEpoch.Load() // before the values it knows of are read
	vals, stamps, states, err := lookupMulti[T](ctx, r, s, mk, &o)
	if err != nil {
		if r.failed(err) {
			return createMultiUncached(ctx, r, s, keys, create)
		}
		return nil, err
	}
	hits, negative := 0, false
	for i, st := range states {
		switch {
		case st == lock.Fresh && stamps != nil && stamps[i].negative:
			r.observe(EventNegativeHit, 0)
			negative = true
		case st == lock.Fresh:
			r.observe(EventHit, 0)
		case st == lock.Missing:
			r.observe(EventMiss, 0)
		}
		if st == lock.Fresh {
			hits++
		}
	}
	switch {
	case hits == len(states) && !negative:
		return vals, nil // every key a hit: no lock, no creator, no copy
	case hits == len(states):
		return results(keys, answers(vals, stamps))
	}
	loaded := answers(vals, stamps)
	b := newBatch[T](r, s, mk, epoch, &o)
	b.Observe = r.traceLockWaits(ctx, s, "", len(mk), b.Observe)
	b.Create = func(ctx context.Context, ks []string) ([]answer[T], error) {
		// The creator is given the caller's keys, not the store's.
		uk := userKeys(keys, mk, ks)
		w := s.writeAs(typeIDOf[T](), &o) // before the creator reads anything
		ctx, c := withCreation(ctx)
		vs, nf, err := createValues(ctx, r, s, uk, create)
		if err != nil {
			return nil, err
		}
		return createdMulti(ctx, r, s, ks, c, vs, nf, keep, &o, w)
	}
	out, err := b.GetLoaded(ctx, loaded, states)
	if err == nil {
		return results(keys, out)
	}
	var me *lock.MutexError
	if errors.As(err, &me) {
		// The store failed under the lock: a backend error like any other,
		// so that fail-open applies.
		err = s.wrap("lock", me.Key, me.Err)
	}
	if r.failed(err) {
		return createMultiUncached(ctx, r, s, keys, create)
	}
	if staleMultiOnError(ctx, r, s, loaded, states, &o, err) {
		return results(keys, loaded)
	}
	return nil, err
}

// staleMultiOnError is staleOnError for a multi-key creation that failed:
// the values loaded may be returned when every key that needed a value had
// a stale one that stale-if-error may serve.
func staleMultiOnError[T any](ctx context.Context, r *Region, s *regionState, loaded []answer[T], states []lock.State, o *callOptions, err error) bool {
	n := 0
	for i, st := range states {
		if st == lock.Fresh {
			continue
		}
		if !r.mayServeStale(ctx, s, st, loaded[i].stamp, o, err) {
			return false
		}
		n++
	}
	if n == 0 {
		return false
	}
	for range n {
		r.observe(EventStaleServed, 0)
	}
	r.logger.Warn("dogpile: regeneration failed; serving the stale values", "region", r.name, "keys", n, "err", err)
	return true
}

// newBatch returns the dogpile lock of the (mangled) keys mk, for a call that
// knew of epoch hard invalidations when it read them, ready but for its
// creator.
func newBatch[T any](r *Region, s *regionState, mk []string, epoch uint64, o *callOptions) *lock.Batch[answer[T]] {
	b := &lock.Batch[answer[T]]{
		Group:       &r.flights,
		Keys:        mk,
		Timeout:     r.creationTimeoutFor(o),
		SoftTimeout: r.softTimeoutFor(o),
		Epoch:       epoch,
		NoStale:     r.noStale || o.noStale,
		Async:       r.async,
		Observe:     r.lockObserver(),
		Load: func(ctx context.Context, keys []string) ([]answer[T], []lock.State, error) {
			vals, stamps, states, err := lookupMulti[T](ctx, r, s, keys, o)
			if err != nil {
				return nil, nil, err
			}
			return answers(vals, stamps), states, nil
		},
	}
	if s.mutexes != nil {
		b.Mutex = s.mutexes.Mutex
	}
	return b
}

// userKeys returns the caller's keys of ks, storage keys among mk (mk[i] is
// the storage key of keys[i]); made only when a creator runs, so that a call
// that finds every key builds no map.
func userKeys(keys, mk, ks []string) []string {
	user := make(map[string]string, len(mk))
	for i, k := range mk {
		if _, ok := user[k]; !ok {
			user[k] = keys[i]
		}
	}
	uk := make([]string, len(ks))
	for j, k := range ks {
		uk[j] = user[k]
	}
	return uk
}

// createValues runs a multi-key creator for keys (counted, see runCreator):
// one value per key, and which of them were not found (nil: none).
func createValues[T any](ctx context.Context, r *Region, s *regionState, keys []string, create func(context.Context, []string) ([]T, error)) ([]T, []bool, error) {
	var nf []bool
	vs, err := runCreator(ctx, r, s, func(ctx context.Context) ([]T, error) {
		vs, err := create(ctx, keys)
		if nf, err = notFoundOf(err, len(keys)); err != nil {
			return nil, err
		}
		if vs == nil && nf != nil && !slices.Contains(nf, false) {
			vs = make([]T, len(keys)) // ErrNotFound for them all: no values to give
		}
		if len(vs) != len(keys) {
			return nil, fmt.Errorf("dogpile: GetOrCreateMulti creator returned %d values for %d keys", len(vs), len(keys))
		}
		return vs, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return vs, nf, nil
}

// storeCreated stores the values a multi-key creation made, by (mangled)
// key: each key whose mutex the creation holds and fences writes through it
// (see storeCreation), the others in one round trip where the backend can.
func (r *Region) storeCreated(ctx context.Context, s *regionState, items map[string]any, w writing) error {
	fenced := make(map[string]any)
	if s.values == nil {
		for k, v := range items {
			if _, ok := lock.As[backend.Fenced](lock.Held(ctx, k)); ok {
				fenced[k] = v
				delete(items, k)
			}
		}
	}
	if len(items) > 0 {
		if err := r.storeMulti(ctx, s, items, w); err != nil {
			return err
		}
	}
	for k, v := range fenced {
		if err := r.storeCreation(ctx, s, k, v, w); err != nil {
			return err
		}
	}
	return nil
}
