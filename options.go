package dogpile

import (
	"log/slog"
	"reflect"
	"time"

	"github.com/dogpile-go/dogpile/codec"
)

// NoExpiration is the expiration of a value that never expires: give it to
// ExpirationTime (or WithExpiration).
const NoExpiration time.Duration = -1

// RegionOption sets up a region; see NewRegion.
type RegionOption func(*Region)

// WithName names the region in errors, logs and metrics.
func WithName(name string) RegionOption { return func(r *Region) { r.name = name } }

// ReservedKeyPrefix begins the keys the library keeps for itself in a
// region's store, such as the shared invalidation record
// "dogpile:invalidated:<region name>" (see SharedInvalidation) and the
// Memcached backend's locks. A key beginning with it is refused on every
// call with an error matching ErrReservedKey, so that no value can
// overwrite, or be read as, one of the library's records.
const ReservedKeyPrefix = "dogpile:"

// WithKeyPrefix makes the region store every value under prefix + the key
// (after the key mangler, so that a region whose keys are hashed still has
// a readable prefix): regions sharing one store — two applications on one
// Redis database, say — then never read each other's values. The prefix
// applies on every path (get, set, delete, multi-key calls, locks, the
// shared invalidation record), and it is what the store holds:
//
//	region := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithKeyPrefix("users:"))
//	dogpile.GetOrCreate(ctx, region, "42", load)   // stored under "users:42"
//
//	$ redis-cli GET users:42
//
// With SHA1Mangler the key is "users:" and 40 hexadecimal digits. A prefix
// that begins with ReservedKeyPrefix is refused by Configure. Without a
// mangler, a prefix costs a string concatenation (one small allocation) per
// call.
func WithKeyPrefix(prefix string) RegionOption { return func(r *Region) { r.keyPrefix = prefix } }

// WithKeyMangler transforms every key before it reaches the backend, on every
// path (get, set, delete, multi-key calls, locks), for instance SHA1Mangler
// to give every key the same length. The region's key prefix
// (WithKeyPrefix) goes before the mangled key.
//
// Without WithKeyMangler a region uses the mangler its backend recommends,
// if it has one (backend.KeyMangler: the Memcached backend hashes the keys
// Memcached would refuse); WithKeyMangler(nil) turns that off too, so that
// every key reaches the backend as it is.
func WithKeyMangler(mangle func(key string) string) RegionOption {
	return func(r *Region) { r.mangler, r.manglerSet = mangle, true }
}

// WithCodec sets the codec for backends that store bytes (codec.Default
// otherwise). Backends that hold Go values (memory) don't encode.
func WithCodec(c codec.Codec) RegionOption { return func(r *Region) { r.codec = c } }

// WithAsyncRunner makes stale values regenerate in the background: the
// caller that wins the lock on an expired key gets the stale value at once,
// like every other caller, and run is handed the regeneration. run must call
// regenerate exactly once, in any goroutine; the key stays locked until it
// returns. The simplest runner is
//
//	dogpile.WithAsyncRunner(func(regenerate func()) { go regenerate() })
func WithAsyncRunner(run func(regenerate func())) RegionOption {
	return func(r *Region) { r.async = run }
}

// WithCreationTimeout bounds how long one creation (waiting for a
// cross-process lock and running the creator) may take. The creation runs
// detached from the cancellation of the caller that started it, so that one
// caller giving up does not fail the others; this timeout is what bounds it.
// Zero (the default) means no bound beyond the creator's own.
func WithCreationTimeout(d time.Duration) RegionOption {
	return func(r *Region) { r.creationTimeout = d }
}

// WithSoftTimeout makes a caller that holds a stale value stop waiting for
// its regeneration after d: it is served the stale value, and the creation
// goes on in the background, bounded by WithCreationTimeout (the hard
// timeout), and stores its value when it ends. A caller without a value to
// serve (a missing or hard-invalidated key) waits as before, until the
// creation ends, the hard timeout or its ctx. Zero (the default) means no
// soft timeout: the caller that regenerates a stale value waits for it, as
// in Python's dogpile.cache. SoftTimeout sets it for one call; WithNoStale
// and NoStale turn it off.
//
// It matters for the caller that runs the regeneration: every other caller
// finding the value stale is served it at once anyway. With an async runner
// (WithAsyncRunner) that caller is served at once too, and a soft timeout
// changes nothing. A panic of a creator that outlasted its soft timeout is
// not raised in any caller (none is waiting for it): it is counted as a
// creator error, and the key's waiters get a *PanicError.
func WithSoftTimeout(d time.Duration) RegionOption {
	return func(r *Region) { r.softTimeout = d }
}

// WithNoStale makes the region never serve a stale value: callers that find
// one wait for the fresh one instead, as for a missing value. NoStale does the
// same for one call.
func WithNoStale() RegionOption { return func(r *Region) { r.noStale = true } }

// WithLogger sets the logger for events worth a line: undecodable entries
// (debug), panics in background regenerations (error). slog.Default()
// otherwise.
func WithLogger(l *slog.Logger) RegionOption { return func(r *Region) { r.logger = l } }

// ConfigOption configures a region's backend; see Region.Configure.
type ConfigOption func(*configOptions)

type configOptions struct {
	expiration  time.Duration
	args        Args
	wrap        []Proxy
	replace     bool
	invalidator InvalidationStrategy
}

// WithExpiration sets the region's expiration time: a value older than d is
// expired (served stale while one caller regenerates it). Zero, the default,
// or NoExpiration: values never expire. See ExpirationTime for how zero
// differs from Python's dogpile.cache.
func WithExpiration(d time.Duration) ConfigOption {
	return func(c *configOptions) { c.expiration = d }
}

// WithArguments passes arguments to the backend's factory, by the names
// Python's dogpile.cache gives them. The map is not modified.
func WithArguments(args Args) ConfigOption { return func(c *configOptions) { c.args = args } }

// WithWrap wraps the backend in proxies. The first proxy is the outermost: it
// sees each call first (the wrap=[...] order of Python's dogpile.cache).
func WithWrap(proxies ...Proxy) ConfigOption {
	return func(c *configOptions) { c.wrap = append(c.wrap, proxies...) }
}

// WithReplaceBackend allows Configure on a region that is already configured,
// replacing its backend. The old backend is not closed: calls in progress may
// still use it; close it yourself once they are done.
func WithReplaceBackend() ConfigOption { return func(c *configOptions) { c.replace = true } }

// WithInvalidationStrategy replaces the default in-process invalidation
// strategy.
func WithInvalidationStrategy(s InvalidationStrategy) ConfigOption {
	return func(c *configOptions) { c.invalidator = s }
}

// Option changes one call (GetOrCreate, Get, …). Options are plain values:
// passing them allocates nothing.
type Option struct {
	expiration    time.Duration
	hasExpiration bool
	ignoreExpiry  bool
	noStale       bool
	// hasSoftTimeout and hasCreationTimeout: beside the other flags, so
	// that an Option stays small (every call copies one).
	hasSoftTimeout     bool
	hasCreationTimeout bool
	shouldCache        keeper // a shouldCache[T]

	expirationFunc func() time.Duration

	tags            []string            // Tags
	keyTags         map[string][]string // by storage key: a cached function's TagsFunc, set per call
	softTimeout     time.Duration
	creationTimeout time.Duration
	negExpiration   time.Duration // NegativeExpiration; 0: not given
}

// ExpirationTime overrides the region's expiration time for this call only;
// nothing about it is stored. NoExpiration: the value never expires.
//
// # Zero and negative expiration times
//
// What zero means follows Python's dogpile.cache, where an expiration_time
// given to a call (get, get_or_create, cache_on_arguments, or returned by an
// expiration callable) of 0 is compared like any other number, so every
// value is older than it:
//
//   - ExpirationTime(0), and an ExpirationFunc returning 0: every value is
//     expired at once. Get misses; GetOrCreate regenerates at every call,
//     serving the stale value to the callers that find it being regenerated;
//     IgnoreExpiration still reads it.
//   - ExpirationTime(NoExpiration), Python's -1 for get_or_create: never
//     expires, for this call. (Python's get compares -1 like a number and
//     always misses; here NoExpiration means never for every call.)
//   - Other negative durations are treated as NoExpiration in a call.
//   - WithExpiration(0), or none, on the region: values never expire. This
//     is where the port differs: Python's region with expiration_time=0 has
//     every value expired at once, but a Go option's zero is its default,
//     and a region that caches nothing is the null backend's job. A
//     configuration's expiration_time = 0 means never too.
func ExpirationTime(d time.Duration) Option {
	return Option{expiration: d, hasExpiration: true}
}

// ExpirationFunc is ExpirationTime with the duration asked of expiration at
// every call (Python's dogpile.cache accepts a callable expiration_time): a
// cached function's expiration can follow configuration that changes at run
// time. Its results mean what ExpirationTime's argument means: 0 is expired
// at once.
func ExpirationFunc(expiration func() time.Duration) Option {
	return Option{expirationFunc: expiration}
}

// IgnoreExpiration makes an expired or soft-invalidated value count as fresh.
// A hard-invalidated value is still a miss.
func IgnoreExpiration() Option { return Option{ignoreExpiry: true} }

// NoStale makes this call wait for a fresh value instead of being served a
// stale one (see WithNoStale).
func NoStale() Option { return Option{noStale: true} }

// ShouldCache decides per created value whether to store it: a value for
// which keep returns false is returned to the caller but not stored. T is
// the value type of the call it is given to (GetOrCreate[T], Cached's V):
// given to a call of another type, the call fails with an *ArgError (a
// cached function, when it is made).
func ShouldCache[T any](keep func(T) bool) Option { return Option{shouldCache: shouldCache[T](keep)} }

// shouldCache is ShouldCache's function, typed: a call of value type T
// takes it back with a type assertion to shouldCache[T], a comparison of
// type words.
type shouldCache[T any] func(T) bool

// keeper is any shouldCache[T].
type keeper interface{ valueType() reflect.Type }

func (shouldCache[T]) valueType() reflect.Type { return reflect.TypeFor[T]() }

// SoftTimeout sets the soft timeout for this call (see WithSoftTimeout);
// zero turns it off for the call.
func SoftTimeout(d time.Duration) Option { return Option{softTimeout: d, hasSoftTimeout: true} }

// CreationTimeout sets the hard timeout of a creation this call starts (see
// WithCreationTimeout); zero means no bound for it. A call that joins a
// creation another caller started waits for that creation, whose own
// timeout applies; the call's ctx bounds its wait.
func CreationTimeout(d time.Duration) Option {
	return Option{creationTimeout: d, hasCreationTimeout: true}
}

// callOptions is the merge of a call's options.
type callOptions = Option

func collect(opts []Option) callOptions {
	var o callOptions
	if len(opts) == 1 {
		o = opts[0] // one option is its own merge: the common case, without the loop
	} else {
		o = merge(opts)
	}
	o.askExpiration()
	return o
}

// merge merges opts, a later option overriding an earlier one, without
// asking an ExpirationFunc (see askExpiration): a cached function merges its
// options once, when it is made.
func merge(opts []Option) (o callOptions) {
	for i := range opts {
		p := &opts[i]
		if p.hasExpiration {
			o.expiration, o.hasExpiration = p.expiration, true
			o.expirationFunc = nil
		}
		if p.expirationFunc != nil {
			o.expirationFunc = p.expirationFunc
		}
		o.ignoreExpiry = o.ignoreExpiry || p.ignoreExpiry
		o.noStale = o.noStale || p.noStale
		if p.shouldCache != nil {
			o.shouldCache = p.shouldCache
		}
		collectTags(&o, p)
		if p.hasSoftTimeout {
			o.softTimeout, o.hasSoftTimeout = p.softTimeout, true
		}
		if p.hasCreationTimeout {
			o.creationTimeout, o.hasCreationTimeout = p.creationTimeout, true
		}
		if p.negExpiration != 0 {
			o.negExpiration = p.negExpiration
		}
	}
	return o
}

// askExpiration sets the expiration the call's ExpirationFunc gives now.
func (o *callOptions) askExpiration() {
	if o.expirationFunc != nil {
		o.expiration, o.hasExpiration = o.expirationFunc(), true
	}
}
