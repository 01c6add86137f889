package dogpile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/clock"
	"github.com/dogpile-go/dogpile/internal/envelope"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/lock"
)

// Region is a cache: a backend plus everything around it — expiration,
// invalidation, key mangling, encoding, and the dogpile lock that runs one
// creator per key. A region is made with NewRegion, configured once with a
// backend, and then used from any number of goroutines.
//
// Values are read and created with the package functions Get, GetMulti,
// GetWithMetadata, GetOrCreate and GetOrCreateMulti, which are generic in the
// value's type (Go methods can't be).
type Region struct {
	name            string
	mangler         func(string) string
	codec           codec.Codec
	async           func(func())
	creationTimeout time.Duration
	noStale         bool
	logger          *slog.Logger
	obs             Observer
	metrics         *Metrics
	failOpen        bool
	cooldown        time.Duration
	openUntil       atomic.Int64 // fail-open circuit breaker: skip the backend until then
	staleIfError    time.Duration
	keyGen          KeyGenerator // for Cached and CachedMulti; nil: FunctionKeyGenerator
	early           *earlyRefresh
	signingKeys     [][]byte // WithSigning: [0] signs, all verify
	maxValueSize    int

	configMu sync.Mutex
	state    atomic.Pointer[regionState]
	flights  lock.Group
}

// regionState is what Configure sets: read with one atomic load per call.
type regionState struct {
	backend     Backend // with proxies
	real        Backend // beneath the proxies
	backendName string
	values      backend.Values
	mem         *MemoryBackend  // values, when it is the built-in memory backend and nothing else reads the store
	keeping     backend.Keeping // not with values: a backend.Values stores no bytes to decode
	multi       backend.Multi
	mutexes     backend.Locking
	expiration  time.Duration // <= 0: never
	inv         InvalidationStrategy
	localInv    *localInvalidation  // inv, when it is the default: read without an interface call
	shared      *sharedInvalidation // inv, when it is SharedInvalidation with refresh 0: read with values
	obs         Observer
	early       *earlyRefresh
}

// NewRegion returns an unconfigured region. Configure or ConfigureBackend it
// before use; until then its calls return ErrNotConfigured.
func NewRegion(opts ...RegionOption) *Region {
	r := &Region{codec: codec.Default}
	for _, o := range opts {
		o(r)
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	return r
}

// Name returns the region's name (see WithName).
func (r *Region) Name() string { return r.name }

// Configure makes the region use the backend registered under name (or one of
// the seed's dotted aliases), built from WithArguments. It returns the region,
// for chaining.
func (r *Region) Configure(name string, opts ...ConfigOption) (*Region, error) {
	var c configOptions
	for _, o := range opts {
		o(&c)
	}
	if err := r.checkReplace(c.replace); err != nil {
		return r, err
	}
	f, canonical, err := lookupBackend(name)
	if err != nil {
		return r, err
	}
	b, err := f(c.args.clone())
	if err != nil {
		return r, fmt.Errorf("dogpile: configure region %q with backend %q: %w", r.name, name, err)
	}
	return r, r.install(b, canonical, &c)
}

// ConfigureBackend makes the region use the backend b (an instance rather
// than a registered name).
func (r *Region) ConfigureBackend(b Backend, opts ...ConfigOption) (*Region, error) {
	var c configOptions
	for _, o := range opts {
		o(&c)
	}
	if b == nil {
		return r, &ArgError{Name: "backend", Reason: "ConfigureBackend needs a backend"}
	}
	if err := r.checkReplace(c.replace); err != nil {
		return r, err
	}
	return r, r.install(b, fmt.Sprintf("%T", b), &c)
}

func (r *Region) checkReplace(replace bool) error {
	if r.IsConfigured() && !replace {
		return fmt.Errorf("%w: region %q", ErrAlreadyConfigured, r.name)
	}
	return nil
}

func (r *Region) install(b Backend, name string, c *configOptions) error {
	if c.expiration < 0 && c.expiration != NoExpiration {
		return &ArgError{Name: "expiration_time", Value: c.expiration, Reason: "negative expiration time"}
	}
	s := &regionState{real: b, backend: b, backendName: name, expiration: c.expiration, obs: r.obs, early: r.early}
	for i := len(c.wrap) - 1; i >= 0; i-- {
		s.backend = c.wrap[i](s.backend)
	}
	s.values, _ = s.backend.(backend.Values)
	if m, ok := s.backend.(*MemoryBackend); ok && c.invalidator == nil {
		s.mem = m
	}
	if k, ok := s.backend.(backend.Keeping); ok && s.values == nil && k.KeepsDecoded() {
		s.keeping = k
	}
	s.multi, _ = s.backend.(backend.Multi)
	s.mutexes, _ = s.backend.(backend.Locking)
	s.inv = c.invalidator
	if s.inv == nil {
		s.localInv = &localInvalidation{}
		s.inv = s.localInv
	}
	if si, ok := s.inv.(*sharedInvalidation); ok {
		if err := si.attach(r, s.backend); err != nil {
			return err
		}
		if si.exact() {
			s.shared = si
		}
	}
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if r.state.Load() != nil && !c.replace {
		return fmt.Errorf("%w: region %q", ErrAlreadyConfigured, r.name)
	}
	r.state.Store(s)
	return nil
}

// IsConfigured reports whether the region has a backend.
func (r *Region) IsConfigured() bool { return r.state.Load() != nil }

// Backend returns the region's backend, beneath any proxies; nil if the region
// is not configured.
func (r *Region) Backend() Backend {
	if s := r.state.Load(); s != nil {
		return s.real
	}
	return nil
}

// Expiration returns the region's expiration time (0: none).
func (r *Region) Expiration() time.Duration {
	if s := r.state.Load(); s != nil && s.expiration > 0 {
		return s.expiration
	}
	return 0
}

// Close closes the region's backend if it is an io.Closer.
func (r *Region) Close() error {
	if c, ok := r.Backend().(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (r *Region) configured() (*regionState, error) {
	if s := r.state.Load(); s != nil {
		return s, nil
	}
	if r.name == "" {
		return nil, ErrNotConfigured
	}
	return nil, fmt.Errorf("%w: region %q", ErrNotConfigured, r.name)
}

func (r *Region) mangle(key string) string {
	if r.mangler == nil {
		return key
	}
	return r.mangler(key)
}

func (r *Region) mangleAll(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = r.mangle(k)
	}
	return out
}

func (s *regionState) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var be *BackendError
	if errors.As(err, &be) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if s.obs != nil {
		s.obs.Observe(EventBackendError, 0)
	}
	return &BackendError{Backend: s.backendName, Op: op, Key: key, Err: err}
}

// Invalidate invalidates every value in the region created before now: Hard
// makes them misses, Soft makes them expired (served stale while one caller
// regenerates each). Soft invalidation works with no expiration time set.
func (r *Region) Invalidate(ctx context.Context, how Invalidation) error {
	s, err := r.configured()
	if err != nil {
		return err
	}
	return s.inv.Invalidate(ctx, how)
}

// Set stores value under key, created now.
func (r *Region) Set(ctx context.Context, key string, value any) error {
	s, err := r.configured()
	if err != nil {
		return err
	}
	k := r.mangle(key)
	return r.store(ctx, s, k, value)
}

// SetMulti stores every item, in one round trip where the backend can.
func (r *Region) SetMulti(ctx context.Context, items map[string]any) error {
	s, err := r.configured()
	if err != nil || len(items) == 0 {
		return err
	}
	mangled := make(map[string]any, len(items))
	for k, v := range items {
		mangled[r.mangle(k)] = v
	}
	return r.storeMulti(ctx, s, mangled)
}

// storeMulti stores items under their (mangled) keys, in one round trip where
// the backend can.
func (r *Region) storeMulti(ctx context.Context, s *regionState, items map[string]any) error {
	if s.values != nil {
		for k, v := range items {
			if err := r.store(ctx, s, k, v); err != nil {
				return err
			}
		}
		return nil
	}
	// Encode everything first: a value that can't be stored (too large,
	// unencodable) fails the call before anything is written.
	now := clock.Now()
	enc := make(map[string][]byte, len(items))
	var first string
	for k, v := range items {
		b, err := r.encode(k, v, now)
		if err != nil {
			return err
		}
		enc[k] = b
		first = k
	}
	if s.multi != nil {
		return s.wrap("set_multi", first, s.multi.SetMulti(ctx, enc))
	}
	for k, b := range enc {
		if err := s.backend.Set(ctx, k, b); err != nil {
			return s.wrap("set", k, err)
		}
	}
	return nil
}

// Delete removes key. Deleting a missing key is not an error.
func (r *Region) Delete(ctx context.Context, key string) error {
	s, err := r.configured()
	if err != nil {
		return err
	}
	k := r.mangle(key)
	return s.wrap("delete", k, s.backend.Delete(ctx, k))
}

// DeleteMulti removes every key, in one round trip where the backend can.
func (r *Region) DeleteMulti(ctx context.Context, keys []string) error {
	s, err := r.configured()
	if err != nil || len(keys) == 0 {
		return err
	}
	mk := r.mangleAll(keys)
	if s.multi != nil {
		return s.wrap("delete_multi", mk[0], s.multi.DeleteMulti(ctx, mk))
	}
	for _, k := range mk {
		if err := s.backend.Delete(ctx, k); err != nil {
			return s.wrap("delete", k, err)
		}
	}
	return nil
}

// valueEntry is what a region stores in a backend.Values: the Go value as it
// is, with its creation time.
type valueEntry struct {
	value   any
	created int64
}

// encode makes the entry stored under key for v: the envelope, signed when
// the region signs, within the region's size limit.
func (r *Region) encode(key string, v any, created int64) ([]byte, error) {
	payload, err := r.codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("dogpile: key %q: encode %T with codec %q: %w", key, v, r.codec.Name(), err)
	}
	name := r.codec.Name()
	if len(name) > 255 {
		// The envelope has one byte for the name's length: a longer name
		// would be cut, and every entry read back as a miss.
		return nil, &ArgError{Name: "codec", Value: name, Reason: "codec name longer than 255 bytes"}
	}
	b := envelope.Append(make([]byte, 0, envelope.Size(name, len(payload))), created, name, payload)
	if r.signingKeys != nil {
		b = envelope.Sign(b, key, r.signingKeys[0])
	}
	if r.maxValueSize > 0 && len(b) > r.maxValueSize {
		return nil, fmt.Errorf("%w: key %q: %d bytes stored, the region's limit is %d", ErrValueTooLarge, key, len(b), r.maxValueSize)
	}
	return b, nil
}

func (r *Region) store(ctx context.Context, s *regionState, key string, v any) error {
	now := clock.Now()
	if s.values != nil {
		return s.wrap("set", key, s.values.SetValue(ctx, key, &valueEntry{value: v, created: now}))
	}
	b, err := r.encode(key, v, now)
	if err != nil {
		return err
	}
	// A creation that holds the key's distributed lock writes through it:
	// if the lock was lost meanwhile, nothing is written over the value of
	// the holder that took it over.
	if f, ok := lock.Held(ctx, key).(backend.Fenced); ok {
		return s.wrap("set", key, f.SetFenced(ctx, key, b))
	}
	return s.wrap("set", key, s.backend.Set(ctx, key, b))
}

// decode reads an entry into a T. Bytes that are not a readable entry of this
// region's codec are a miss, never an error: the creator runs and replaces
// them.
func decode[T any](r *Region, key string, b []byte) (v T, created int64, ok bool) {
	if r.signingKeys != nil {
		if err := envelope.Verify(b, key, r.signingKeys); err != nil {
			r.observe(EventRejected, 0)
			r.logger.Debug("dogpile: unsigned entry read as a miss", "region", r.name, "key", key)
			var zero T
			return zero, 0, false
		}
	}
	e, err := envelope.Open(b)
	if err == nil && e.Codec != r.codec.Name() {
		err = fmt.Errorf("dogpile: entry written with codec %q, region uses %q", e.Codec, r.codec.Name())
	}
	if err == nil {
		err = r.codec.Unmarshal(e.Payload, &v)
	}
	if err != nil {
		r.observe(EventDecodeFailure, 0)
		r.logger.Debug("dogpile: undecodable entry read as a miss", "region", r.name, "key", key, "err", err)
		var zero T
		return zero, 0, false
	}
	return v, e.Created, true
}

// state decides whether a value created at created is fresh, stale or (hard
// invalidated) missing.
func (s *regionState) state(ctx context.Context, created int64, o *callOptions) lock.State {
	var inv Invalidation
	if s.localInv != nil {
		inv = s.localInv.check(created)
	} else {
		inv = s.inv.Invalidated(ctx, time.Unix(0, created))
	}
	switch {
	case inv == Hard:
		return lock.Missing
	case o.ignoreExpiry:
		return lock.Fresh
	case inv == Soft:
		return lock.Stale
	}
	exp := s.expiration
	if o.hasExpiration {
		exp = o.expiration
	}
	if exp > 0 && (clock.Expired(created, exp) || s.early != nil && s.early.due(created, exp)) {
		return lock.Stale
	}
	return lock.Fresh
}
