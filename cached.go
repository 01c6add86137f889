package dogpile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// funcOption holds the options that only Cached and CachedMulti read.
type funcOption struct {
	name      string
	namespace string
	keyFunc   any // func(A) string
	tagsFunc  any // func(A) []string
}

// Namespace separates the keys of one function cached twice (say, on two
// regions that share a backend, or with two key functions); it goes into each
// key after the function's name (see Cached). It is the namespace argument
// of cache_on_arguments in Python's dogpile.cache. Other calls than Cached
// and CachedMulti ignore it.
func Namespace(namespace string) Option {
	return Option{fn: &funcOption{namespace: namespace}}
}

// KeyFunc renders a cached function's argument into its part of the key, in
// place of the default rendering (to_str in Python's dogpile.cache). A must
// be the argument type of the Cached or CachedMulti call it is given to.
// With a KeyFunc, any argument type can be cached, those without a default
// rendering included (interfaces, funcs, types that contain themselves).
// Other calls than Cached and CachedMulti ignore it.
func KeyFunc[A any](render func(A) string) Option {
	return Option{fn: &funcOption{keyFunc: render}}
}

// FuncName replaces the function's name in its keys (see Cached). Use it
// for function literals and anything else whose compiled name is not a name
// you want keys to depend on: it stays the same when the code around the
// function changes. Other calls than Cached and CachedMulti ignore it.
func FuncName(name string) Option {
	return Option{fn: &funcOption{name: name}}
}

// funcSetup is what Cached and CachedMulti make of their options.
type funcSetup[A, V any] struct {
	name   string
	keys   *keyMaker[A]
	opts   []Option // for every call; the function-only options are ignored there
	keep   func(V) bool
	tagsOf func(A) []string // TagsFunc's
}

// setupError is a programming error found when a cached function is made.
type setupError struct{ msg string }

func (e *setupError) Error() string { return e.msg }

// Is reports true for ErrInvalidArgument.
func (e *setupError) Is(target error) bool { return target == ErrInvalidArgument }

// setup reads the options of a cached function. Its errors are programming
// errors, found once when the function is made: the constructors panic with
// them.
func setup[A, V any](ctor string, r *Region, fn any, isNil bool, opts []Option) funcSetup[A, V] {
	var fo funcOption
	for _, o := range opts {
		if o.fn == nil {
			continue
		}
		if o.fn.name != "" {
			fo.name = o.fn.name
		}
		if o.fn.namespace != "" {
			fo.namespace = o.fn.namespace
		}
		if o.fn.keyFunc != nil {
			fo.keyFunc = o.fn.keyFunc
		}
		if o.fn.tagsFunc != nil {
			fo.tagsFunc = o.fn.tagsFunc
		}
	}
	s := funcSetup[A, V]{name: fo.name, opts: slices.Clone(opts)}
	if s.name == "" && !isNil {
		s.name = funcName(fn, reflect.TypeFor[A](), reflect.TypeFor[V]())
	}
	fail := func(format string, args ...any) {
		panic(&setupError{fmt.Sprintf("dogpile: %s(%s): ", ctor, s.name) + fmt.Sprintf(format, args...)})
	}
	switch {
	case r == nil:
		fail("a region is required")
	case isNil:
		fail("a function is required")
	}
	o := collect(opts)
	if o.shouldCache != nil {
		keep, ok := o.shouldCache.(func(V) bool)
		if !ok {
			fail("ShouldCache is given a %T, want a func(%s) bool", o.shouldCache, reflect.TypeFor[V]())
		}
		s.keep = keep
	}
	if fo.keyFunc != nil {
		if _, ok := fo.keyFunc.(func(A) string); !ok {
			fail("KeyFunc is given a %T, want a func(%s) string", fo.keyFunc, reflect.TypeFor[A]())
		}
	}
	if fo.tagsFunc != nil {
		tagsOf, ok := fo.tagsFunc.(func(A) []string)
		if !ok {
			fail("TagsFunc is given a %T, want a func(%s) []string", fo.tagsFunc, reflect.TypeFor[A]())
		}
		s.tagsOf = tagsOf
	}
	var err error
	if s.keys, err = newKeyMaker[A](r, s.name, &fo); err != nil {
		fail("argument type %s can't be keyed stably: %v; give the function a key with dogpile.KeyFunc", reflect.TypeFor[A](), err)
	}
	return s
}

// tagFor adds a's tags (TagsFunc) to o.
func (f *funcSetup[A, V]) tagFor(o *callOptions, a A) {
	if f.tagsOf != nil {
		o.tags = append(o.tags[:len(o.tags):len(o.tags)], f.tagsOf(a)...)
	}
}

// readsTagRecords reports whether the region reads its tags' records from
// the store (under SharedInvalidation), so that naming a read's tags saves
// a round trip.
func (r *Region) readsTagRecords() bool {
	s := r.state.Load()
	return s != nil && s.tags.shared != nil
}

// CachedFunc is a function whose results are cached in a region, one value
// per argument; see Cached. It is safe for concurrent use.
type CachedFunc[A, V any] struct {
	r  *Region
	fn func(context.Context, A) (V, error)
	funcSetup[A, V]
}

// Cached returns fn with its results cached in r, one per argument: the
// counterpart of cache_on_arguments in Python's dogpile.cache. Its Call
// method is GetOrCreate under the argument's key, so concurrent calls with one
// argument run fn once (the dogpile lock), and expired values are served
// stale while one caller regenerates them. A function of several parameters
// takes them as one struct.
//
// The options apply to every call: ExpirationTime or ExpirationFunc,
// ShouldCache (of V), IgnoreExpiration, NoStale, Tags, SoftTimeout,
// CreationTimeout, NegativeExpiration; and, for Cached alone, Namespace,
// KeyFunc (of A), TagsFunc (of A) and FuncName. fn's context is a creator's:
// fn can call SetExpiration and DontCache, and return ErrNotFound.
//
// Cached panics if r or fn is nil, if ShouldCache, KeyFunc or TagsFunc is of
// another type than V or A, or if A has no stable rendering and no KeyFunc is given:
// these are programming errors, found once, when the function is made, like
// regexp.MustCompile's (the panic's error matches ErrInvalidArgument).
//
// # Keys
//
// The key of an argument is made by the region's KeyGenerator (see
// WithFunctionKeyGenerator) from the function's name, its namespace and the
// rendered argument. By default (FunctionKeyGenerator) it is
//
//	name|arg              or, with Namespace(ns):   name|ns|arg
//
// where, in each part, | is written %7C and % is written %25: no argument
// or namespace can make two calls share a key. A part without either
// character is as it is ("users.Load|42", "users.Load|tenant-a|ann").
// The region's key prefix and key mangler then apply, as to any key.
//
// name is FuncName's if given, else the function's name as the Go runtime
// reports it, package-qualified: "example.com/app/users.Load". A method
// value is "example.com/app/users.(*Store).Load-fm": the receiver is not part
// of it, so two receivers need two namespaces. A function literal is
// "example.com/app/users.NewStore.func1", a name the compiler makes up: it
// can change when the code around it changes, or when the compiler inlines
// differently, so give function literals a FuncName. A generic function's
// name ends in "[A,V]" with the argument and value types.
//
// arg is KeyFunc's rendering if given, else A's default rendering, which is
// the same in every process and build of the same code, so processes that
// share a backend share entries:
//
//   - a string is as it is; a bool is true or false; an integer is in
//     decimal; a float is strconv.FormatFloat(f, 'g', -1, bits);
//   - a type with a MarshalText method (encoding.TextMarshaler: time.Time,
//     netip.Addr, …) is its text;
//   - a struct is its fields in order, each rendered as below, separated by
//     spaces, like positional arguments in Python's dogpile.cache:
//     {ID: 42, Lang: "en"} is 42 "en"; unexported fields count, blank (_) fields don't;
//   - anything else (pointers, slices, maps, …) is rendered as below.
//
// Inside a struct, slice, array, map or pointer, booleans and numbers are as
// above, and a string (or a marshaler's text) is quoted with
// strconv.QuoteToASCII, so that it can't run into its neighbours; a complex number
// is strconv.FormatComplex(c, 'g', -1, bits); a nil pointer is nil and
// another pointer is what it points to; a struct is {f1 f2 …}; a []byte is
// quoted like a string; another slice or an array is [e1 e2 …]; a map is
// map[k1:v1 k2:v2 …] sorted by the rendering of its keys; a nil slice or map
// renders as an empty one. Interfaces, funcs, channels and unsafe pointers
// have no stable rendering, nor do types that contain themselves (their
// values can be cyclic): Cached rejects them.
func Cached[A, V any](r *Region, fn func(context.Context, A) (V, error), opts ...Option) *CachedFunc[A, V] {
	return &CachedFunc[A, V]{r: r, fn: fn, funcSetup: setup[A, V]("Cached", r, fn, fn == nil, opts)}
}

// Call returns fn(ctx, a) from the cache, calling fn when there is no usable
// value (see GetOrCreate).
func (c *CachedFunc[A, V]) Call(ctx context.Context, a A) (V, error) {
	var zero V
	key, err := c.keys.key(a)
	if err != nil {
		return zero, err
	}
	s, err := c.r.configured()
	if err != nil {
		return zero, err
	}
	o := collect(c.opts)
	k, err := s.storageKey(key)
	if err != nil {
		return zero, err
	}
	if s.tags.shared != nil {
		c.tagFor(&o, a) // the tags' records come with the value
	}
	if c.r.tracer != nil {
		return tracedGetOrCreate(ctx, c.r, s, key, k, o, func(ctx context.Context, p pending[V], o callOptions) (V, error) {
			return c.create(ctx, s, key, k, p, a, o)
		})
	}
	// The two halves of GetOrCreate, so that a hit builds no creator closure:
	// the key is a hit's only allocation.
	var p pending[V]
	if lookupForCreate(ctx, c.r, s, k, &o, &p) {
		return p.answer(key)
	}
	return c.create(ctx, s, key, k, p, a, o)
}

// create is Call's slow path: only here does a escape, into the creator.
func (c *CachedFunc[A, V]) create(ctx context.Context, s *regionState, key, k string, p pending[V], a A, o callOptions) (V, error) {
	if s.tags.shared == nil {
		c.tagFor(&o, a) // not needed to read: only now, to write
	}
	return createFor(ctx, c.r, s, key, k, p, func(ctx context.Context) (V, error) { return c.fn(ctx, a) }, o)
}

// Get returns the cached value for a, if there is a usable one (see Get),
// without calling fn.
func (c *CachedFunc[A, V]) Get(ctx context.Context, a A) (V, bool, error) {
	key, err := c.keys.key(a)
	if err != nil {
		var zero V
		return zero, false, err
	}
	opts := c.opts
	if c.tagsOf != nil && c.r.readsTagRecords() {
		opts = append(slices.Clip(opts), Tags(c.tagsOf(a)...)) // the tags' records come with the value
	}
	return Get[V](ctx, c.r, key, opts...)
}

// Set stores v as the value for a, created now, as if fn had returned it.
func (c *CachedFunc[A, V]) Set(ctx context.Context, a A, v V) error {
	key, err := c.keys.key(a)
	if err != nil {
		return err
	}
	o := collect(c.opts)
	c.tagFor(&o, a)
	return c.r.set(ctx, key, v, typeIDOf[V](), &o)
}

// Refresh calls fn now, whatever is cached, stores its value (unless
// ShouldCache rejects it, or fn says DontCache) and returns it; a "not
// found" from fn (ErrNotFound) is stored and returned as in Call. Unlike
// Call it does not take the dogpile lock: concurrent callers of Call keep
// being served the old value until the new one is stored.
func (c *CachedFunc[A, V]) Refresh(ctx context.Context, a A) (V, error) {
	var zero V
	key, err := c.keys.key(a)
	if err != nil {
		return zero, err
	}
	o := collect(c.opts)
	c.tagFor(&o, a)
	s, sk, w, err := c.r.beginWrite(ctx, []string{key}, typeIDOf[V](), &o) // before fn reads anything
	if err != nil {
		return zero, err
	}
	ctx, cr := withCreation(ctx)
	v, err := runCreator(ctx, c.r, s, func(ctx context.Context) (V, error) { return c.fn(ctx, a) })
	if err != nil && !errors.Is(err, ErrNotFound) {
		return zero, err
	}
	got, err := created(ctx, c.r, s, key, sk[0], cr, v, err, c.keep, &o, w)
	if err != nil {
		return zero, err
	}
	return got.result(key)
}

// Invalidate removes the value for a: the next Call calls fn.
func (c *CachedFunc[A, V]) Invalidate(ctx context.Context, a A) error {
	key, err := c.keys.key(a)
	if err != nil {
		return err
	}
	return c.r.Delete(ctx, key)
}

// Key returns the key of a, before the region's key mangler (see Cached for
// its format). It panics if a can't be rendered — only a MarshalText
// failing does that; the other methods return the error instead.
func (c *CachedFunc[A, V]) Key(a A) string {
	key, err := c.keys.key(a)
	if err != nil {
		panic(err)
	}
	return key
}

// Name returns the function's name as it appears in keys.
func (c *CachedFunc[A, V]) Name() string { return c.name }

// Original returns fn, uncached.
func (c *CachedFunc[A, V]) Original() func(context.Context, A) (V, error) { return c.fn }
