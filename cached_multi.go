package dogpile

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// CachedMultiFunc is a function of many arguments whose results are cached
// one per argument; see CachedMulti. It is safe for concurrent use.
type CachedMultiFunc[A comparable, V any] struct {
	r  *Region
	fn func(context.Context, []A) ([]V, error)
	funcSetup[A, V]
}

// CachedMulti returns fn with its results cached in r, one value per
// argument: the counterpart of cache_multi_on_arguments in Python's
// dogpile.cache. fn takes many arguments and returns their values in the
// same order — a batch loader. Call reads every argument's value in one backend round trip (on a
// backend.Multi) and calls fn once, with only the arguments that have no
// usable value, in the order they were given (see GetOrCreateMulti).
//
// Keys, options and panics are those of Cached, argument by argument; fn
// says which arguments have no value with NotFoundAt, and sets one value's
// expiration with SetExpirationAt. A is
// comparable so that results can be returned by argument (CallMap, Get,
// Set); an argument type that isn't can be cached with Cached, or keyed by
// an ID.
func CachedMulti[A comparable, V any](r *Region, fn func(context.Context, []A) ([]V, error), opts ...CachedOption) *CachedMultiFunc[A, V] {
	return &CachedMultiFunc[A, V]{r: r, fn: fn, funcSetup: setup[A, V]("CachedMulti", r, fn, fn == nil, opts)}
}

func (c *CachedMultiFunc[A, V]) keysOf(args []A) ([]string, error) {
	keys := make([]string, len(args))
	for i, a := range args {
		k, err := c.keys.key(a)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

// Call returns the values of args, in their order, from the cache, calling
// fn once for those without a usable value. An argument given twice is
// looked up and created once. Arguments whose value was not found (see
// NotFoundAt) have the zero value, and Call returns a *NotFoundError with
// their keys (Key) along with the values.
func (c *CachedMultiFunc[A, V]) Call(ctx context.Context, args []A) ([]V, error) {
	keys, err := c.keysOf(args)
	if err != nil {
		return nil, err
	}
	create := func(ctx context.Context, missing []string) ([]V, error) {
		// GetOrCreateMulti hands back keys; fn wants their arguments.
		byKey := make(map[string]A, len(keys))
		for i, k := range keys {
			byKey[k] = args[i]
		}
		as := make([]A, len(missing))
		for i, k := range missing {
			a, ok := byKey[k]
			if !ok {
				return nil, fmt.Errorf("dogpile: %s: asked to create key %q, which none of the arguments has", c.name, k)
			}
			as[i] = a
		}
		return c.fn(ctx, as)
	}
	opts, err := c.optsFor(keys, args, false)
	if err != nil {
		return nil, err
	}
	return GetOrCreateMulti(ctx, c.r, keys, create, opts...)
}

// optsFor returns the options of a call on args (whose keys are keys): the
// function's, and, with a TagsFunc, each argument's tags — for a read only
// where the region reads its tags' records, so that they come with the
// values.
func (c *CachedMultiFunc[A, V]) optsFor(keys []string, args []A, read bool) ([]Option, error) {
	if c.tagsOf == nil || read && !c.r.readsTagRecords() {
		return c.opts, nil
	}
	o, err := c.keyTags(keys, args)
	if err != nil {
		return nil, err
	}
	return append(slices.Clip(c.opts), o), nil
}

// keyTags returns the option that tags each argument's value with its own
// tags (TagsFunc), by storage key.
func (c *CachedMultiFunc[A, V]) keyTags(keys []string, args []A) (Option, error) {
	s, err := c.r.configured()
	if err != nil {
		return Option{}, err
	}
	sk, err := s.storageKeys(keys)
	if err != nil {
		return Option{}, err
	}
	byKey := make(map[string][]string, len(sk))
	for i, k := range sk {
		byKey[k] = c.tagsOf(args[i])
	}
	return Option{keyTags: byKey}, nil
}

// CallMap is Call returning the values by argument, as asdict=True does in
// Python's dogpile.cache. Arguments whose value was not found (see
// NotFoundAt) are left out of the map, and are no error.
func (c *CachedMultiFunc[A, V]) CallMap(ctx context.Context, args []A) (map[A]V, error) {
	vals, err := c.Call(ctx, args)
	var nf *NotFoundError
	if err != nil && !errors.As(err, &nf) {
		return nil, err
	}
	missing := make(map[string]bool, len(nf.keys()))
	for _, k := range nf.keys() {
		missing[k] = true
	}
	out := make(map[A]V, len(args))
	for i, a := range args {
		if len(missing) > 0 && missing[c.Key(a)] {
			continue
		}
		out[a] = vals[i]
	}
	return out, nil
}

// Get returns the usable cached values among args, by argument, without
// calling fn; arguments without one are absent from the map. It reads every
// key in one round trip where the backend can.
func (c *CachedMultiFunc[A, V]) Get(ctx context.Context, args []A) (map[A]V, error) {
	keys, err := c.keysOf(args)
	if err != nil {
		return nil, err
	}
	opts, err := c.optsFor(keys, args, true)
	if err != nil {
		return nil, err
	}
	hits, err := GetMulti[V](ctx, c.r, keys, opts...)
	if err != nil {
		return nil, err
	}
	out := make(map[A]V, len(hits))
	for i, k := range keys {
		if v, ok := hits[k]; ok {
			out[args[i]] = v
		}
	}
	return out, nil
}

// Set stores each value as the value for its argument, created now, in one
// round trip where the backend can.
func (c *CachedMultiFunc[A, V]) Set(ctx context.Context, values map[A]V) error {
	items := make(map[string]any, len(values))
	var keys []string
	var args []A
	for a, v := range values {
		k, err := c.keys.key(a)
		if err != nil {
			return err
		}
		items[k] = v
		keys, args = append(keys, k), append(args, a)
	}
	opts, err := c.optsFor(keys, args, false)
	if err != nil {
		return err
	}
	o := collect(opts)
	return c.r.setMulti(ctx, items, typeIDOf[V](), &o)
}

// Refresh calls fn with args now, whatever is cached, stores the values
// (those ShouldCache keeps and fn does not say DontCacheAt of) and returns
// them in the order of args, with a *NotFoundError for those fn said
// NotFoundAt of, as Call does. Like CachedFunc.Refresh it does not take the
// dogpile lock.
func (c *CachedMultiFunc[A, V]) Refresh(ctx context.Context, args []A) ([]V, error) {
	keys, err := c.keysOf(args)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return []V{}, nil
	}
	opts, err := c.optsFor(keys, args, false)
	if err != nil {
		return nil, err
	}
	o := collect(opts)
	s, sk, w, err := c.r.beginWrite(ctx, keys, typeIDOf[V](), &o) // before fn reads anything
	if err != nil {
		return nil, err
	}
	ctx, cr := withCreation(ctx)
	vals, nf, err := createValues(ctx, c.r, s, keys, func(ctx context.Context, _ []string) ([]V, error) { return c.fn(ctx, args) })
	if err != nil {
		return nil, err
	}
	as, err := createdMulti(ctx, c.r, s, sk, cr, vals, nf, c.keep, &o, w)
	if err != nil {
		return nil, err
	}
	return results(keys, as)
}

// Invalidate removes the values of args, in one round trip where the
// backend can: the next Call calls fn for them.
func (c *CachedMultiFunc[A, V]) Invalidate(ctx context.Context, args []A) error {
	keys, err := c.keysOf(args)
	if err != nil {
		return err
	}
	return c.r.DeleteMulti(ctx, keys)
}

// Key returns the key of a, before the region's key mangler (see Cached). It
// panics if a can't be rendered, as CachedFunc.Key does.
func (c *CachedMultiFunc[A, V]) Key(a A) string {
	key, err := c.keys.key(a)
	if err != nil {
		panic(err)
	}
	return key
}

// Name returns the function's name as it appears in keys.
func (c *CachedMultiFunc[A, V]) Name() string { return c.name }

// Original returns fn, uncached.
func (c *CachedMultiFunc[A, V]) Original() func(context.Context, []A) ([]V, error) { return c.fn }
