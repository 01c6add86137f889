package dogpile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// CachedOption configures a cached function (Cached, CachedMulti). Every
// call option (Option) is one, applying to each call of the function; so
// are the options only a cached function has — Namespace, FuncName,
// KeyFunc and TagsFunc — which other calls don't take: passed to
// GetOrCreate or Get, they don't compile.
type CachedOption interface {
	applyCached(*funcOptions)
}

// applyCached makes every call option a CachedOption.
func (o Option) applyCached(f *funcOptions) { f.call = append(f.call, o) }

// funcOptions are a cached function's options, as given.
type funcOptions struct {
	call      []Option
	name      string
	namespace string
	typed     []typedCachedOption // KeyFunc and TagsFunc, in order
}

// funcOption is a CachedOption of no type: Namespace, FuncName.
type funcOption func(*funcOptions)

func (f funcOption) applyCached(o *funcOptions) { f(o) }

// typedOption is KeyFunc's or TagsFunc's: a function of the argument type
// A, which the cached function of argument type A takes back with a type
// assertion. Go can't check A when the function is made (a variadic list of
// options of one type can't be generic in A and hold the call options
// too), so a mismatch is found there, once: the constructor panics.
type typedOption[A any] struct {
	render func(A) string   // KeyFunc
	tagsOf func(A) []string // TagsFunc
}

// typedCachedOption is any typedOption[A].
type typedCachedOption interface {
	argType() reflect.Type
	optionName() string
}

func (t typedOption[A]) applyCached(o *funcOptions) { o.typed = append(o.typed, t) }
func (typedOption[A]) argType() reflect.Type        { return reflect.TypeFor[A]() }
func (t typedOption[A]) optionName() string {
	if t.render != nil {
		return "KeyFunc"
	}
	return "TagsFunc"
}

// Namespace separates the keys of one function cached twice (say, on two
// regions that share a backend, or with two key functions); it goes into each
// key after the function's name (see Cached). It is the namespace argument
// of cache_on_arguments in Python's dogpile.cache.
func Namespace(namespace string) CachedOption {
	return funcOption(func(o *funcOptions) { o.namespace = namespace })
}

// KeyFunc renders a cached function's argument into its part of the key, in
// place of the default rendering (to_str in Python's dogpile.cache). A is
// the argument type of the Cached or CachedMulti call it is given to (the
// constructor panics otherwise). With a KeyFunc, any argument type can be
// cached, those without a default rendering included (interfaces, funcs,
// types that contain themselves).
func KeyFunc[A any](render func(A) string) CachedOption {
	return typedOption[A]{render: render}
}

// FuncName replaces the function's name in its keys (see Cached). Use it
// for function literals and anything else whose compiled name is not a name
// you want keys to depend on: it stays the same when the code around the
// function changes.
func FuncName(name string) CachedOption {
	return funcOption(func(o *funcOptions) { o.name = name })
}

// funcSetup is what Cached and CachedMulti make of their options.
type funcSetup[A, V any] struct {
	name   string
	keys   *keyMaker[A]
	opts   []Option    // the call options, for the calls that take a list
	o      callOptions // opts merged, once (ExpirationFunc is asked per call)
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
func setup[A, V any](ctor string, r *Region, fn any, isNil bool, opts []CachedOption) funcSetup[A, V] {
	var fo funcOptions
	for _, o := range opts {
		o.applyCached(&fo)
	}
	s := funcSetup[A, V]{name: fo.name, opts: fo.call, o: merge(fo.call)}
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
	if s.o.shouldCache != nil {
		keep, ok := s.o.shouldCache.(shouldCache[V])
		if !ok {
			fail("ShouldCache is given a func(%s) bool, want a func(%s) bool", s.o.shouldCache.valueType(), reflect.TypeFor[V]())
		}
		s.keep = keep
	}
	var render func(A) string
	for _, t := range fo.typed {
		o, ok := t.(typedOption[A])
		if !ok {
			fail("%s is given a function of %s, want one of %s", t.optionName(), t.argType(), reflect.TypeFor[A]())
		}
		if o.render != nil {
			render = o.render
		}
		if o.tagsOf != nil {
			s.tagsOf = o.tagsOf
		}
	}
	var err error
	if s.keys, err = newKeyMaker(r, s.name, fo.namespace, render); err != nil {
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
// The options apply to every call: the call options (ExpirationTime or
// ExpirationFunc, ShouldCache of V, IgnoreExpiration, NoStale, Tags,
// SoftTimeout, CreationTimeout, NegativeExpiration), and those of cached
// functions alone (Namespace, FuncName, KeyFunc and TagsFunc of A), which
// are CachedOptions: GetOrCreate and the other calls don't take them.
// They are read once, here (an ExpirationFunc is still asked at every
// call). fn's context is a creator's: fn can call SetExpiration and
// DontCache, and return ErrNotFound.
//
// Cached panics if r or fn is nil, if ShouldCache, KeyFunc or TagsFunc is of
// another type than V or A, or if A has no stable rendering and no KeyFunc is given:
// these are programming errors, found once, when the function is made, like
// regexp.MustCompile's (the panic's error matches ErrInvalidArgument).
//
// A hit allocates nothing when A is a string, a boolean or a number (or a
// type defined on one) and the region has the default key generator: the
// key is rendered on the caller's stack for the lookup, and copied only
// when a value is made. (A string argument built per call is on the heap
// anyway, as fn may keep it.)
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
// reports it, qualified by its package's name — not by the package's
// path: "users.Load" for the function Load of example.com/app/users, as Go
// code calls it. The path would make every key some 30 to 60 bytes longer,
// hashed and compared at every hit, and change every key when the module
// moves; the package's name and the function's are what stay the same in
// every build of the code. Two packages of the same name caching functions
// of the same name and argument type in one region (or in regions sharing
// a store) share keys: give one a Namespace or a FuncName. A method
// value is "users.(*Store).Load-fm": the receiver is not part of it, so
// two receivers need two namespaces. A function literal is
// "users.NewStore.func1", a name the compiler makes up: it can change when
// the code around it changes, or when the compiler inlines differently, so
// give function literals a FuncName. A generic function's name ends in
// "[A,V]" with the argument and value types.
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
func Cached[A, V any](r *Region, fn func(context.Context, A) (V, error), opts ...CachedOption) *CachedFunc[A, V] {
	return &CachedFunc[A, V]{r: r, fn: fn, funcSetup: setup[A, V]("Cached", r, fn, fn == nil, opts)}
}

// Call returns fn(ctx, a) from the cache, calling fn when there is no usable
// value (see GetOrCreate). A hit allocates nothing for a string or scalar
// argument keyed by the default key generator.
func (c *CachedFunc[A, V]) Call(ctx context.Context, a A) (V, error) {
	var buf keyBuf
	key, err := c.keys.lookupKey(&buf, a) // on this stack: copied by the slow path
	if err != nil {
		var zero V
		return zero, err
	}
	return getOrCreate(ctx, c.r, key, a, nil, nil, c)
}

// call is Call but for a memory hit (getOrCreate's): only here do a and the
// keys escape, into the creator and the lock. Not inlined, for the reason
// getOrCreateSlow isn't.
//
//go:noinline
func (c *CachedFunc[A, V]) call(ctx context.Context, s *regionState, key string, o callOptions, a A) (V, error) {
	ckey, ck, err := s.ownKeys(key)
	if err != nil {
		var zero V
		return zero, err
	}
	if s.tags.shared != nil {
		c.tagFor(&o, a) // the tags' records come with the value
	}
	if c.r.tracer != nil {
		return tracedGetOrCreate(ctx, c.r, s, ckey, ck, o, func(ctx context.Context, p pending[V], o callOptions) (V, error) {
			return c.create(ctx, s, ckey, ck, p, a, o)
		})
	}
	var p pending[V]
	if lookupForCreate(ctx, c.r, s, ck, &o, &p) {
		return p.answer(ckey)
	}
	return c.create(ctx, s, ckey, ck, p, a, o)
}

// create is call's creation: the tags, then the creator.
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
	o := c.o
	o.askExpiration()
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
	o := c.o
	o.askExpiration()
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
