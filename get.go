package dogpile

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/dogpile-go/dogpile/internal/envelope"
	"github.com/dogpile-go/dogpile/lock"
)

// valueLookup reads a Go value stored by a region (a *valueEntry) as a T,
// and counts an entry of another type.
func valueLookup[T any](r *Region, key string, x any) (v T, st stamp, found bool) {
	e, ok := x.(*valueEntry)
	if !ok {
		return v, stamp{}, false
	}
	if v, ok := valueAs[T](e); ok {
		return v, e.stamp, true
	}
	r.mismatched(key, envelope.TypeTag(reflectType(e.id)), reflect.TypeFor[T]())
	return v, stamp{}, false
}

// lookup reads one (storage) key. found is false for a missing key and for an
// entry that isn't a readable T. The records the read needs (see
// regionState.records) come with the value — in the same round trip when the
// backend reads many keys at once — and those of the entry's other tags
// after it.
func lookup[T any](ctx context.Context, r *Region, s *regionState, key string, o *callOptions) (v T, st stamp, size int, found bool, err error) {
	if s.mem != nil {
		if x, ok := s.mem.load(key); ok {
			v, st, found = valueLookup[T](r, key, x)
		}
		return v, st, 0, found, nil
	}
	if s.keeping != nil {
		return lookupKept[T](ctx, r, s, key, o)
	}
	rr := s.records(o)
	if rr.any() {
		if s.multi != nil && s.values == nil {
			raw, err := s.multi.GetMulti(ctx, rr.keys(append(make([]string, 0, 1+rr.len()), key)))
			if err == nil && len(raw) != 1+rr.len() {
				err = wrongCount(len(raw), 1+rr.len())
			}
			if err != nil {
				return v, stamp{}, 0, false, s.wrap("get_multi", key, err)
			}
			s.apply(&rr, raw[1:])
			if raw[0] == nil {
				return v, stamp{}, 0, false, nil
			}
			v, st, found = decode[T](r, s, key, raw[0])
			return v, st, len(raw[0]), found, s.complete(ctx, &rr, st.tags)
		}
		if err := s.fetch(ctx, &rr); err != nil {
			return v, stamp{}, 0, false, s.wrap("get", s.recordKey, err)
		}
	}
	if s.values != nil {
		x, ok, err := s.values.GetValue(ctx, key)
		if err != nil || !ok {
			return v, stamp{}, 0, false, s.wrap("get", key, err)
		}
		v, st, found = valueLookup[T](r, key, x)
		return v, st, 0, found, s.complete(ctx, &rr, st.tags)
	}
	b, ok, err := s.backend.Get(ctx, key)
	if err != nil || !ok {
		return v, stamp{}, 0, false, s.wrap("get", key, err)
	}
	v, st, found = decode[T](r, s, key, b)
	return v, st, len(b), found, s.complete(ctx, &rr, st.tags)
}

// keptValue is what a region gives a backend.Keeping to keep: the decoded
// value, marked with the region and the type it was decoded as, so that
// another region sharing the backend (with another codec, or signing keys),
// or a read as another type, never takes it for its own.
type keptValue struct {
	region *Region
	id     typeID
	value  any
	stamp
}

// lookupKept is lookup on a backend.Keeping: the value decoded and kept at an
// earlier hit on the same bytes, or the bytes decoded now and handed over to
// be kept.
func lookupKept[T any](ctx context.Context, r *Region, s *regionState, key string, o *callOptions) (v T, st stamp, size int, found bool, err error) {
	rr := s.records(o)
	if err := s.fetch(ctx, &rr); err != nil {
		return v, stamp{}, 0, false, s.wrap("get", s.recordKey, err)
	}
	b, x, ok, err := s.keeping.GetKept(ctx, key)
	if err != nil || !ok {
		return v, stamp{}, 0, false, s.wrap("get", key, err)
	}
	if k, ok := x.(*keptValue); ok && k.region == r && k.id == typeIDOf[T]() {
		v, _ := k.value.(T)
		return v, k.stamp, len(b), true, s.complete(ctx, &rr, k.stamp.tags)
	}
	if v, st, found = decode[T](r, s, key, b); found {
		s.keeping.Keep(key, b, &keptValue{region: r, id: typeIDOf[T](), value: v, stamp: st})
	}
	return v, st, len(b), found, s.complete(ctx, &rr, st.tags)
}

// wrongCount is the error of a multi-key read that answered got values for
// want keys, which breaks backend.Multi's contract: no value can be matched
// to its key, so none is taken for a miss (a miss would run the creator and
// overwrite what the store holds).
func wrongCount(got, want int) error {
	return fmt.Errorf("the backend's GetMulti answered %d values for %d keys", got, want)
}

// lookupMulti reads many (storage) keys in one round trip where the backend
// can: one value and state per key, Missing for a key without a readable
// value. Each value is decoded in place into its slot, so that a hit
// allocates what the codec does and no more, and the values are the
// caller's result as they are when every key is a hit. stamps holds each
// key's stamp, or is nil when no key needs one: each was found fresh, with a
// value (not a cached "not found"), or missing.
func lookupMulti[T any](ctx context.Context, r *Region, s *regionState, keys []string, o *callOptions) (vals []T, stamps []stamp, states []lock.State, err error) {
	vals, states = make([]T, len(keys)), make([]lock.State, len(keys))
	if s.multi == nil || s.values != nil {
		stamps = make([]stamp, len(keys))
		for i, k := range keys {
			var found bool
			if vals[i], stamps[i], _, found, err = lookup[T](ctx, r, s, k, o); err != nil {
				return nil, nil, nil, err
			}
			if found {
				states[i] = s.state(ctx, &stamps[i], o)
			}
		}
		return vals, stamps, states, nil
	}
	rr := s.records(o)
	ask := keys
	if rr.any() {
		ask = rr.keys(slices.Grow(keys[:len(keys):len(keys)], rr.len()))
	}
	raw, err := s.multi.GetMulti(ctx, ask)
	if err == nil && len(raw) != len(ask) {
		err = wrongCount(len(raw), len(ask))
	}
	if err != nil {
		return nil, nil, nil, s.wrap("get_multi", keys[0], err)
	}
	if rr.any() {
		s.apply(&rr, raw[len(keys):])
		raw = raw[:len(keys)]
	}
	// With shared tags, an entry's state waits for the records of its tags
	// (complete, below), and every stamp is kept until then; otherwise each
	// state is decided as its entry is decoded, and only the stamps that a
	// caller needs are kept: most calls keep none.
	later := s.tags.shared != nil
	if later {
		stamps = make([]stamp, len(keys))
	}
	var tagged []*entryTags
	tag := typeTag[T]()
	for i, b := range raw {
		if b == nil {
			continue
		}
		st, ok := decodeInto(r, s, keys[i], b, &vals[i], tag)
		switch {
		case !ok:
			continue
		case later:
			states[i] = lock.Fresh // decided below
			if st.tags != nil {
				tagged = append(tagged, st.tags)
			}
		default:
			states[i] = s.state(ctx, &st, o)
		}
		if later || states[i] != lock.Fresh || st.negative {
			if stamps == nil {
				stamps = make([]stamp, len(keys))
			}
			stamps[i] = st
		}
	}
	if !later {
		return vals, stamps, states, nil
	}
	if err := s.complete(ctx, &rr, tagged...); err != nil {
		return nil, nil, nil, s.wrap("get_multi", s.recordKey, err)
	}
	for i := range states {
		if states[i] == lock.Fresh {
			states[i] = s.state(ctx, &stamps[i], o)
		}
	}
	return vals, stamps, states, nil
}

// answers pairs lookupMulti's values with their stamps (none: zero stamps),
// as a lock.Batch of answers loads them.
func answers[T any](vals []T, stamps []stamp) []answer[T] {
	as := make([]answer[T], len(vals))
	for i := range vals {
		as[i].v = vals[i]
		if stamps != nil {
			as[i].stamp = stamps[i]
		}
	}
	return as
}

// typeTag is the type tag of T (envelope.TypeTag), which decodeInto checks
// entries against; none for the untyped any and []byte, which read entries
// of every type.
func typeTag[T any]() uint32 {
	if untyped[T]() {
		return 0
	}
	return envelope.TypeTag(reflect.TypeFor[T]())
}

// Get returns the value under key if there is a usable one: present, of type
// T, not expired and not invalidated. ok is false otherwise; a missing key is
// not an error.
//
// An entry records the type it was written as (by GetOrCreate[T] and the
// other generic calls, T; by Set, the value's own type), and is read only as
// that type, on every backend: read as another type it is a miss, counted as
// EventDecodeFailure and logged once per pair of types — never another
// type's data decoded into T. Two types read entries of any type, for tools
// and for callers that decode for themselves: any (the value as the codec
// decodes it into an interface — with the default codec, an entry written
// as a string, a []byte, a bool or a number is that value again; the memory
// backend's value as it is) and
// []byte (the payload: with the default codec, the bytes it wrote; on the
// memory backend, only values that are byte slices). The key must not begin
// with ReservedKeyPrefix (ErrReservedKey).
//
// A cached "not found" (see ErrNotFound) is reported as not ok, with a
// *NotFoundError: the key is known not to exist.
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
	k, err := s.storageKey(key)
	if err != nil {
		return value, md, false, err
	}
	if r.failOpen && r.breakerOpen() {
		return value, md, false, nil
	}
	v, st, size, found, err := lookup[T](ctx, r, s, k, &o)
	if err != nil && r.failed(err) {
		return value, md, false, nil
	}
	if err != nil || !found || s.state(ctx, &st, &o) != lock.Fresh {
		if err == nil {
			r.observe(EventMiss, 0)
		}
		var zero T
		return zero, md, false, err
	}
	if st.negative {
		_, err := negativeHit[T](r, key)
		return value, md, false, err
	}
	r.observe(EventHit, 0)
	md = Metadata{Created: time.Unix(0, st.created), Version: FormatVersion, Size: size}
	if st.ttl != 0 {
		md.Expiration = expirationOf(st.ttl)
	}
	if s.values == nil {
		md.Codec = r.codec.Name()
	}
	return v, md, true, nil
}

// GetMulti returns the usable values among keys, by key; keys without one are
// absent from the map, as are keys whose cached answer is "not found" (see
// ErrNotFound). It reads all keys in one round trip where the backend
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
	mk, err := s.storageKeys(keys)
	if err != nil {
		return nil, err
	}
	if r.failOpen && r.breakerOpen() {
		return out, nil
	}
	vals, stamps, states, err := lookupMulti[T](ctx, r, s, mk, &o)
	if err != nil {
		if r.failed(err) {
			return out, nil
		}
		return nil, err
	}
	for i, k := range keys {
		switch {
		case states[i] != lock.Fresh:
			r.observe(EventMiss, 0)
		case stamps != nil && stamps[i].negative:
			r.observe(EventNegativeHit, 0)
		default:
			out[k] = vals[i]
			r.observe(EventHit, 0)
		}
	}
	return out, nil
}
