package dogpile

import (
	"context"
	"time"

	"github.com/dogpile-go/dogpile/lock"
)

// memLookup reads key from the built-in memory backend, called directly: the
// hit path of most regions, kept short.
func memLookup[T any](m *MemoryBackend, key string) (v T, created int64, found bool) {
	if x, ok := m.load(key); ok {
		if e, ok := x.(*valueEntry); ok {
			if t, ok := e.value.(T); ok {
				return t, e.created, true
			}
		}
	}
	return v, 0, false
}

// lookup reads one (mangled) key. found is false for a missing key and for an
// entry that isn't a readable T.
func lookup[T any](ctx context.Context, r *Region, s *regionState, key string) (v T, created int64, size int, found bool, err error) {
	if s.mem != nil {
		v, created, found = memLookup[T](s.mem, key)
		return v, created, 0, found, nil
	}
	if s.keeping != nil {
		return lookupKept[T](ctx, r, s, key)
	}
	if s.shared != nil {
		// The invalidation times come with the value: in the same round trip
		// when the backend reads many keys at once.
		if s.multi != nil && s.values == nil {
			raw, err := s.multi.GetMulti(ctx, []string{key, s.shared.key})
			if err != nil || len(raw) != 2 {
				return v, 0, 0, false, s.wrap("get_multi", key, err)
			}
			s.shared.load(raw[1])
			if raw[0] == nil {
				return v, 0, 0, false, nil
			}
			v, created, found = decode[T](r, key, raw[0])
			return v, created, len(raw[0]), found, nil
		}
		if err := s.shared.read(ctx); err != nil {
			return v, 0, 0, false, s.wrap("get", s.shared.key, err)
		}
	}
	if s.values != nil {
		x, ok, err := s.values.GetValue(ctx, key)
		if err != nil || !ok {
			return v, 0, 0, false, s.wrap("get", key, err)
		}
		if e, ok := x.(*valueEntry); ok {
			if t, ok := e.value.(T); ok {
				return t, e.created, 0, true, nil
			}
		}
		return v, 0, 0, false, nil
	}
	b, ok, err := s.backend.Get(ctx, key)
	if err != nil || !ok {
		return v, 0, 0, false, s.wrap("get", key, err)
	}
	v, created, found = decode[T](r, key, b)
	return v, created, len(b), found, nil
}

// keptValue is what a region gives a backend.Keeping to keep: the decoded
// value, marked with the region, so that another region sharing the backend
// (with another codec, or signing keys) never takes it for its own.
type keptValue struct {
	region  *Region
	value   any
	created int64
}

// lookupKept is lookup on a backend.Keeping: the value decoded and kept at an
// earlier hit on the same bytes, or the bytes decoded now and handed over to
// be kept.
func lookupKept[T any](ctx context.Context, r *Region, s *regionState, key string) (v T, created int64, size int, found bool, err error) {
	if s.shared != nil {
		if err := s.shared.read(ctx); err != nil {
			return v, 0, 0, false, s.wrap("get", s.shared.key, err)
		}
	}
	b, x, ok, err := s.keeping.GetKept(ctx, key)
	if err != nil || !ok {
		return v, 0, 0, false, s.wrap("get", key, err)
	}
	if k, ok := x.(*keptValue); ok && k.region == r {
		if t, ok := k.value.(T); ok {
			return t, k.created, len(b), true, nil
		}
	}
	if v, created, found = decode[T](r, key, b); found {
		s.keeping.Keep(key, b, &keptValue{region: r, value: v, created: created})
	}
	return v, created, len(b), found, nil
}

// lookupMulti reads many (mangled) keys in one round trip where the backend
// can.
func lookupMulti[T any](ctx context.Context, r *Region, s *regionState, keys []string) (vals []T, created []int64, found []bool, err error) {
	vals, created, found = make([]T, len(keys)), make([]int64, len(keys)), make([]bool, len(keys))
	if s.multi == nil || s.values != nil {
		for i, k := range keys {
			if vals[i], created[i], _, found[i], err = lookup[T](ctx, r, s, k); err != nil {
				return nil, nil, nil, err
			}
		}
		return vals, created, found, nil
	}
	ask := keys
	if s.shared != nil {
		ask = append(keys[:len(keys):len(keys)], s.shared.key)
	}
	raw, err := s.multi.GetMulti(ctx, ask)
	if err != nil {
		return nil, nil, nil, s.wrap("get_multi", keys[0], err)
	}
	if s.shared != nil && len(raw) == len(ask) {
		s.shared.load(raw[len(keys)])
		raw = raw[:len(keys)]
	}
	for i, b := range raw {
		if b != nil && i < len(keys) {
			vals[i], created[i], found[i] = decode[T](r, keys[i], b)
		}
	}
	return vals, created, found, nil
}

// Get returns the value under key if there is a usable one: present, of type
// T, not expired and not invalidated. ok is false otherwise; a missing key is
// not an error.
func Get[T any](ctx context.Context, r *Region, key string, opts ...Option) (value T, ok bool, err error) {
	value, _, ok, err = GetWithMetadata[T](ctx, r, key, opts...)
	return value, ok, err
}

// GetWithMetadata is Get that also returns the value's metadata: its creation
// time and format version.
func GetWithMetadata[T any](ctx context.Context, r *Region, key string, opts ...Option) (value T, md Metadata, ok bool, err error) {
	s, err := r.configured()
	if err != nil {
		return value, md, false, err
	}
	o := collect(opts)
	k := r.mangle(key)
	if r.failOpen && r.breakerOpen() {
		return value, md, false, nil
	}
	v, created, size, found, err := lookup[T](ctx, r, s, k)
	if err != nil && r.failed(err) {
		return value, md, false, nil
	}
	if err != nil || !found || s.state(ctx, created, &o) != lock.Fresh {
		if err == nil {
			r.observe(EventMiss, 0)
		}
		var zero T
		return zero, md, false, err
	}
	r.observe(EventHit, 0)
	md = Metadata{Created: time.Unix(0, created), Version: FormatVersion, Size: size}
	if s.values == nil {
		md.Codec = r.codec.Name()
	}
	return v, md, true, nil
}

// GetMulti returns the usable values among keys, by key; keys without one are
// absent from the map. It reads all keys in one round trip where the backend
// can. An empty key list returns an empty map without touching the backend.
func GetMulti[T any](ctx context.Context, r *Region, keys []string, opts ...Option) (map[string]T, error) {
	s, err := r.configured()
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	o := collect(opts)
	if r.failOpen && r.breakerOpen() {
		return out, nil
	}
	vals, created, found, err := lookupMulti[T](ctx, r, s, r.mangleAll(keys))
	if err != nil {
		if r.failed(err) {
			return out, nil
		}
		return nil, err
	}
	for i, k := range keys {
		if found[i] && s.state(ctx, created[i], &o) == lock.Fresh {
			out[k] = vals[i]
			r.observe(EventHit, 0)
		} else {
			r.observe(EventMiss, 0)
		}
	}
	return out, nil
}
