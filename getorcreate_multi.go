package dogpile

import (
	"context"
	"errors"
	"fmt"

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
func GetOrCreateMulti[T any](ctx context.Context, r *Region, keys []string, create func(ctx context.Context, keys []string) ([]T, error), opts ...Option) ([]T, error) {
	s, err := r.configured()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []T{}, nil
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
		return createValues(ctx, keys, create)
	}
	b := newBatch[T](r, s, mk, &o)
	vals, states, err := b.Load(ctx, mk)
	if err != nil {
		if r.failed(err) {
			return createValues(ctx, keys, create)
		}
		return nil, err
	}
	for _, st := range states {
		switch st {
		case lock.Fresh:
			r.observe(EventHit, 0)
		case lock.Missing:
			r.observe(EventMiss, 0)
		}
	}
	// The creator is given the caller's keys, not the store's.
	user := make(map[string]string, len(keys))
	for i, k := range mk {
		if _, ok := user[k]; !ok {
			user[k] = keys[i]
		}
	}
	b.Create = func(ctx context.Context, ks []string) ([]T, error) {
		uk := make([]string, len(ks))
		for j, k := range ks {
			uk[j] = user[k]
		}
		w := s.writeAs(typeIDOf[T](), &o) // before the creator reads anything
		vs, err := createValues(ctx, uk, create)
		if err != nil {
			return nil, err
		}
		items := make(map[string]any, len(ks))
		for j, k := range ks {
			if keep == nil || keep(vs[j]) {
				items[k] = vs[j]
			}
		}
		if err := r.storeCreated(ctx, s, items, w); err != nil {
			return nil, err
		}
		return vs, nil
	}
	out, err := b.GetLoaded(ctx, vals, states)
	if err == nil {
		return out, nil
	}
	var me *lock.MutexError
	if errors.As(err, &me) {
		// The store failed under the lock: a backend error like any other,
		// so that fail-open applies.
		err = s.wrap("lock", me.Key, me.Err)
	}
	if r.failed(err) {
		return createValues(ctx, keys, create)
	}
	return nil, err
}

// newBatch returns the dogpile lock of the (mangled) keys mk, ready but for
// its creator.
func newBatch[T any](r *Region, s *regionState, mk []string, o *callOptions) *lock.Batch[T] {
	b := &lock.Batch[T]{
		Group:   &r.flights,
		Keys:    mk,
		Timeout: r.creationTimeout,
		NoStale: r.noStale || o.noStale,
		Async:   r.async,
		Observe: r.lockObserver(),
		Load: func(ctx context.Context, keys []string) ([]T, []lock.State, error) {
			vals, created, found, err := lookupMulti[T](ctx, r, s, keys, o)
			if err != nil {
				return nil, nil, err
			}
			states := make([]lock.State, len(keys))
			for i := range keys {
				if found[i] {
					states[i] = s.state(ctx, created[i], o)
				}
			}
			return vals, states, nil
		},
	}
	if s.mutexes != nil {
		b.Mutex = s.mutexes.Mutex
	}
	return b
}

// createValues calls a multi-key creator, checking that it returned one
// value per key.
func createValues[T any](ctx context.Context, keys []string, create func(context.Context, []string) ([]T, error)) ([]T, error) {
	vs, err := create(ctx, keys)
	if err == nil && len(vs) != len(keys) {
		err = fmt.Errorf("dogpile: GetOrCreateMulti creator returned %d values for %d keys", len(vs), len(keys))
	}
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// storeCreated stores the values a multi-key creation made, by (mangled)
// key: each key whose mutex the creation holds and fences writes through it
// (see storeCreation), the others in one round trip where the backend can.
func (r *Region) storeCreated(ctx context.Context, s *regionState, items map[string]any, w writing) error {
	fenced := make(map[string]any)
	if s.values == nil {
		for k, v := range items {
			if _, ok := lock.Held(ctx, k).(backend.Fenced); ok {
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
