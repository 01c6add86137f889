package dogpile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/internal/clock"
	"github.com/dogpile-go/dogpile/internal/envelope"
	"github.com/dogpile-go/dogpile/internal/textcodec"
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
	manglerSet      bool // WithKeyMangler was given, nil included: no backend's default
	codec           codec.Codec
	async           func(func())
	creationTimeout time.Duration
	noStale         bool
	logger          *slog.Logger
	obs             Observer
	tracer          Tracer // WithTracer
	metrics         *Metrics
	failOpen        bool
	cooldown        time.Duration
	openUntil       atomic.Int64 // fail-open circuit breaker: 0 closed; else open, probed from then on (failure.go)
	probing         atomic.Bool  // the breaker's one probe is running
	staleIfError    time.Duration
	softTimeout     time.Duration
	negExpiration   time.Duration
	recovery        *recovery    // WithAutoRecovery
	keyGen          KeyGenerator // for Cached and CachedMulti; nil: FunctionKeyGenerator
	early           *earlyRefresh
	signingKeys     [][]byte // WithSigning: [0] signs, all verify
	signingErr      error    // WithSigning's keys are unusable: Configure says why
	maxValueSize    int
	keyPrefix       string     // WithKeyPrefix
	clock           clock.Func // nil: the process clock; tests replace it (export_test.go)
	mismatches      sync.Map   // typeMismatch → struct{}: the type mismatches logged

	configMu sync.Mutex
	state    atomic.Pointer[regionState]
	flights  lock.Group
	// hardEpoch counts the hard invalidations this process made or learned
	// of (the region's and its tags'), for lock.Batch.Epoch.
	hardEpoch atomic.Uint64
}

// regionState is what Configure sets: read with one atomic load per call.
type regionState struct {
	backend     Backend // with proxies
	real        Backend // beneath the proxies
	backendName string
	values      backend.Values
	mem         *MemoryBackend  // values, when it is the built-in memory backend and nothing else reads the store
	hit         *MemoryBackend  // mem, when a hit may be served from it at once (getOrCreate): the region doesn't fail open
	keeping     backend.Keeping // not with values: a backend.Values stores no bytes to decode
	multi       backend.Multi
	mutexes     backend.Locking
	expiration  time.Duration // <= 0: never
	inv         InvalidationStrategy
	localInv    *localInvalidation  // inv, when it is the default: read without an interface call
	gens        *sharedInvalidation // inv, when it is SharedInvalidation: entries carry its generations
	softSeen    softSeen            // with gens: when this process learned of the latest soft generation
	shared      *sharedInvalidation // gens, when its refresh is 0: the record is read with values
	recordKey   string              // gens's storage key, reserved
	tags        *tagTable           // what the region knows of its tags' invalidations
	keyPrefix   string              // the region's, for storageKey
	mangler     func(string) string // the region's, for storageKey
	plainKeys   bool                // no key prefix, no mangler: a storage key is the key
	obs         Observer
	early       *earlyRefresh
	clock       clock.Func
	// counted: a hit is counted (Metrics or an Observer).
	counted bool
	// inProcess: the store is process memory (see hitStart).
	inProcess bool
	// immutable: the backend's values never change once returned
	// (backend.Immutable), so a decoded string may point into them.
	immutable bool
	// quickMap is the unbounded memory map (hit's) when a memory hit is
	// decided by getOrCreate's first branch, nil otherwise: keys stored as
	// they are, nothing counted, the default invalidation (localInv) and no
	// shared one, no early refresh, no test clock, and an expiration checked
	// on the coarse clock or none — state's common case. The branch's one
	// load decides both whether it applies and where it reads.
	quickMap *xsync.Map[string, any]
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
// the dotted aliases of Python's dogpile.cache), built from WithArguments.
// It returns the region, for chaining.
func (r *Region) Configure(name string, opts ...ConfigOption) (*Region, error) {
	c, err := r.configOptions(opts)
	if err != nil {
		return nil, err
	}
	f, canonical, err := lookupBackend(name)
	if err != nil {
		return nil, err
	}
	b, err := f(c.args.clone())
	if err != nil {
		return nil, fmt.Errorf("dogpile: configure %s with backend %q: %w", r.described(), name, err)
	}
	if err := r.install(b, canonical, c); err != nil {
		// The backend was made for this call: nothing else will close it.
		if cl, ok := b.(io.Closer); ok {
			cl.Close() //nolint:errcheck // the configuration error is the one to report
		}
		return nil, err
	}
	return r, nil
}

// ConfigureBackend makes the region use the backend b (an instance rather
// than a registered name). On an error b is left as it was (open).
func (r *Region) ConfigureBackend(b Backend, opts ...ConfigOption) (*Region, error) {
	if b == nil {
		return nil, &ArgError{Name: "backend", Reason: "ConfigureBackend needs a backend"}
	}
	c, err := r.configOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := r.install(b, fmt.Sprintf("%T", b), c); err != nil {
		return nil, err
	}
	return r, nil
}

// configOptions collects opts and checks them, and the region's own options,
// before anything is built: a mistake costs no backend.
func (r *Region) configOptions(opts []ConfigOption) (*configOptions, error) {
	var c configOptions
	for _, o := range opts {
		o(&c)
	}
	if r.IsConfigured() && !c.replace {
		return nil, fmt.Errorf("%w: region %q", ErrAlreadyConfigured, r.name)
	}
	if c.expiration < 0 && c.expiration != NoExpiration {
		return nil, &ArgError{Name: "expiration_time", Value: c.expiration, Reason: "negative expiration time"}
	}
	if r.signingErr != nil {
		return nil, fmt.Errorf("dogpile: configure %s: %w", r.described(), r.signingErr)
	}
	if err := r.recoveryErr(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.keyPrefix, ReservedKeyPrefix) {
		return nil, &ArgError{Name: "key_prefix", Value: r.keyPrefix, Reason: fmt.Sprintf("begins with %q, which the library keeps for its own keys", ReservedKeyPrefix)}
	}
	return &c, nil
}

// install makes b, with c's settings, the region's backend.
func (r *Region) install(b Backend, name string, c *configOptions) error {
	// The whole installation under configMu: a zero Region gets its defaults
	// here, before any call can read them (calls read them only once
	// configured, after the state is stored).
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if r.state.Load() != nil && !c.replace {
		return fmt.Errorf("%w: region %q", ErrAlreadyConfigured, r.name)
	}
	if r.codec == nil {
		r.codec = codec.Default
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	mangler := r.mangler
	if km, ok := b.(backend.KeyMangler); ok && !r.manglerSet {
		mangler = km.KeyMangler()
	}
	s := &regionState{real: b, backend: b, backendName: name, expiration: c.expiration, obs: r.obs, early: r.early, clock: r.clock,
		keyPrefix: r.keyPrefix, mangler: mangler, plainKeys: mangler == nil && r.keyPrefix == ""}
	for i := len(c.wrap) - 1; i >= 0; i-- {
		s.backend = c.wrap[i](s.backend)
	}
	s.backend = r.traceBackend(s.backend, name)
	r.lendLogger(b)
	s.values, _ = s.backend.(backend.Values)
	if m, ok := s.backend.(*MemoryBackend); ok && c.invalidator == nil {
		s.mem = m
		if !r.failOpen {
			s.hit = m
		}
	}
	if k, ok := s.backend.(backend.Keeping); ok && s.values == nil && k.KeepsDecoded() {
		s.keeping = k
	}
	s.multi, _ = s.backend.(backend.Multi)
	s.mutexes, _ = s.backend.(backend.Locking)
	s.immutable = backend.ValuesImmutable(s.backend)
	s.inv = c.invalidator
	if s.inv == nil {
		s.localInv = &localInvalidation{clock: r.clock}
		s.inv = s.localInv
	}
	if si, ok := s.inv.(*sharedInvalidation); ok {
		if err := si.attach(r, s); err != nil {
			return err
		}
		s.gens, s.recordKey = si, si.key
		if si.exact() {
			s.shared = si
		}
	}
	s.tags = newTagTable(r, s.gens)
	s.counted = r.metrics != nil || r.obs != nil
	s.inProcess = inProcess(s)
	if s.hit != nil && s.hit.m != nil && s.plainKeys && !s.counted &&
		s.localInv != nil && s.gens == nil && s.early == nil && s.clock == nil &&
		(s.expiration <= 0 || s.expiration >= clock.CoarseMin) {
		s.quickMap = s.hit.m
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

// StorageKey returns the key under which the region stores key's value in
// its backend: the key prefix (WithKeyPrefix), then the key through the key
// mangler (WithKeyMangler, or the backend's own). Tools that read the store
// beneath the region use it. A key the region refuses (one that begins with
// ReservedKeyPrefix) is an error, as the region's own calls return it.
func (r *Region) StorageKey(key string) (string, error) {
	s, err := r.configured()
	if err != nil {
		return "", err
	}
	return s.storageKey(key)
}

// Codec returns the codec the region encodes values with (codec.Default
// unless WithCodec or a configuration's codec and compress set another).
func (r *Region) Codec() codec.Codec {
	if c := r.codec; c != nil {
		return c
	}
	return codec.Default
}

// Expiration returns the region's expiration time (0: none).
func (r *Region) Expiration() time.Duration {
	if s := r.state.Load(); s != nil && s.expiration > 0 {
		return s.expiration
	}
	return 0
}

// Close closes the region's backend if it is an io.Closer. Operations
// queued for replay (WithAutoRecovery) are dropped.
func (r *Region) Close() error {
	r.recovery.close(r)
	if c, ok := r.Backend().(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// configured returns the region's state, or ErrNotConfigured. It inlines:
// a configured region costs every call one atomic load.
func (r *Region) configured() (s *regionState, err error) {
	if s = r.state.Load(); s == nil {
		err = r.notConfigured()
	}
	return s, err
}

func (r *Region) notConfigured() error {
	if r.name == "" {
		return ErrNotConfigured
	}
	return fmt.Errorf("%w: region %q", ErrNotConfigured, r.name)
}

// storageKey returns the key under which key's value is stored: the
// region's key prefix, then the key as the key mangler made it. Keys that
// would land on the library's own keys (ReservedKeyPrefix) are refused.
//
// It takes the key as the caller built it, and must not keep it: a key
// built per call stays on the caller's stack (the slow path copies it).
func (s *regionState) storageKey(key string) (string, error) {
	if s.keptAsIs(key) {
		return key, nil // most regions
	}
	return s.transformedKey(key)
}

// keptAsIs reports whether key is its own storage key: the region has no
// key prefix and no mangler, and key is not a reserved one. It is small
// enough to be inlined, as the hit path needs.
func (s *regionState) keptAsIs(key string) bool {
	return s.plainKeys && !strings.HasPrefix(key, ReservedKeyPrefix)
}

// transformedKey is storageKey for a region with a key prefix or mangler,
// and for reserved keys.
func (s *regionState) transformedKey(key string) (string, error) {
	if strings.HasPrefix(key, ReservedKeyPrefix) {
		return "", reservedKey(strings.Clone(key))
	}
	if s.mangler == nil {
		return s.keyPrefix + key, nil
	}
	// The mangler may keep what it is given (one that returns short keys
	// as they are): it gets a copy, so that the caller's stays on its stack.
	return s.mangledKey(strings.Clone(key))
}

// mangledKey is the storage key of key, which is not reserved, through the
// region's mangler, which may keep key.
func (s *regionState) mangledKey(key string) (string, error) {
	k := s.keyPrefix + s.mangler(key)
	// A mangler that is not injective (one that folds case, or cuts long
	// keys) could still send a key onto a reserved one.
	if strings.HasPrefix(k[len(s.keyPrefix):], ReservedKeyPrefix) || k == s.recordKey {
		return "", reservedKey(key)
	}
	return k, nil
}

// storageKeys is storageKey for every key. The mangler gets the keys
// themselves, not copies: a multi-key call keeps its keys anyway (for its
// creator).
func (s *regionState) storageKeys(keys []string) ([]string, error) {
	out := make([]string, len(keys))
	for i, k := range keys {
		var err error
		if s.mangler != nil && !strings.HasPrefix(k, ReservedKeyPrefix) {
			out[i], err = s.mangledKey(k)
		} else {
			out[i], err = s.storageKey(k)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reservedStorageKey is the storage key of one of the library's own keys
// (name begins with ReservedKeyPrefix) in the configured region.
func (r *Region) reservedStorageKey(name string) string {
	return r.state.Load().reservedStorageKey(name)
}

// reservedStorageKey is the storage key of one of the library's own keys:
// like a user's key, under the region's prefix and through its mangler.
func (s *regionState) reservedStorageKey(name string) string {
	if s.mangler != nil {
		name = s.mangler(name)
	}
	return s.keyPrefix + name
}

func (s *regionState) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var be *BackendError
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.As(err, &be) {
		if be.counted {
			return err
		}
		// Made elsewhere (a backend, the shared invalidation record):
		// counted here, once.
		s.observe(EventBackendError)
		if err == error(be) {
			c := *be
			c.counted = true
			return &c
		}
		return err
	}
	s.observe(EventBackendError)
	return &BackendError{Backend: s.backendName, Op: op, Key: key, Err: err, counted: true}
}

func (s *regionState) observe(e Event) {
	if s.obs != nil {
		s.obs.Observe(e, 0)
	}
}

// Invalidate invalidates every value in the region created before now: Hard
// makes them misses, Soft makes them expired (served stale while one caller
// regenerates each). Soft invalidation works with no expiration time set.
func (r *Region) Invalidate(ctx context.Context, how Invalidation) error {
	s, err := r.configured()
	if err != nil {
		return err
	}
	if how == Hard {
		defer r.hardEpoch.Add(1) // once it is made (see lock.Batch.Epoch)
	}
	return r.write(s, r.invalidateOps(s, how), func() error {
		err := s.inv.Invalidate(ctx, how)
		if errors.Is(err, ErrBackend) {
			err = s.wrap("invalidate", "", err)
		}
		return err
	})
}

// Set stores value under key, created now. The entry is of value's own
// type: read it back as that type (see Get). Of the call options, Set reads
// Tags.
func (r *Region) Set(ctx context.Context, key string, value any, opts ...Option) error {
	o := collect(opts)
	return r.set(ctx, key, value, writeDynamic, &o)
}

// set stores value under key as a value of the type typ identifies
// (writeDynamic: value's own type), tagged as o says.
func (r *Region) set(ctx context.Context, key string, value any, typ typeID, o *callOptions) error {
	s, sk, err := r.writeKeys([]string{key})
	if err != nil {
		return err
	}
	return r.write(s, r.setOps(s, sk, []any{value}, typ, o), func() error {
		w, err := s.writeAfterRead(ctx, typ, o)
		if err != nil {
			return err
		}
		return r.store(ctx, s, sk[0], value, w)
	})
}

// beginWrite is how every write that has not just read the store (Set,
// SetMulti, Refresh) begins: the region's state, the storage keys of keys,
// and how to write values of the type typ identifies, tagged as o says (see
// regionState.writeAfterRead).
func (r *Region) beginWrite(ctx context.Context, keys []string, typ typeID, o *callOptions) (*regionState, []string, writing, error) {
	s, err := r.configured()
	if err != nil {
		return nil, nil, writing{}, err
	}
	sk, err := s.storageKeys(keys)
	if err != nil {
		return nil, nil, writing{}, err
	}
	w, err := s.writeAfterRead(ctx, typ, o)
	if err != nil {
		return nil, nil, writing{}, err
	}
	return s, sk, w, nil
}

// writeKeys is how Set, SetMulti and the deletes begin: the region's
// state and the storage keys of keys.
func (r *Region) writeKeys(keys []string) (*regionState, []string, error) {
	s, err := r.configured()
	if err != nil {
		return nil, nil, err
	}
	sk, err := s.storageKeys(keys)
	if err != nil {
		return nil, nil, err
	}
	return s, sk, nil
}

// SetMulti stores every item, in one round trip where the backend can. Each
// entry is of its value's own type, as with Set. Of the call options,
// SetMulti reads Tags, which tag every item.
func (r *Region) SetMulti(ctx context.Context, items map[string]any, opts ...Option) error {
	o := collect(opts)
	return r.setMulti(ctx, items, writeDynamic, &o)
}

func (r *Region) setMulti(ctx context.Context, items map[string]any, typ typeID, o *callOptions) error {
	if len(items) == 0 {
		_, err := r.configured()
		return err
	}
	keys := slices.Collect(maps.Keys(items))
	s, sk, err := r.writeKeys(keys)
	if err != nil {
		return err
	}
	stored := make(map[string]any, len(items))
	vals := make([]any, len(keys))
	for i, k := range keys {
		stored[sk[i]], vals[i] = items[k], items[k]
	}
	return r.write(s, r.setOps(s, sk, vals, typ, o), func() error {
		w, err := s.writeAfterRead(ctx, typ, o)
		if err != nil {
			return err
		}
		return r.storeMulti(ctx, s, stored, w)
	})
}

// storeMulti stores items under their (storage) keys, in one round trip
// where the backend can.
func (r *Region) storeMulti(ctx context.Context, s *regionState, items map[string]any, w writing) error {
	if s.values != nil {
		for k, v := range items {
			if err := r.store(ctx, s, k, v, w); err != nil {
				return err
			}
		}
		return nil
	}
	// Encode everything first: a value that can't be stored (too large,
	// unencodable) fails the call before anything is written.
	now := w.now(s)
	enc := make(map[string][]byte, len(items))
	var first string
	for k, v := range items {
		b, err := r.encode(k, v, now, &w)
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
	s, sk, err := r.writeKeys([]string{key})
	if err != nil {
		return err
	}
	return r.write(s, r.deleteOps(s, sk), func() error { return s.wrap("delete", sk[0], s.backend.Delete(ctx, sk[0])) })
}

// DeleteMulti removes every key, in one round trip where the backend can.
func (r *Region) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		_, err := r.configured()
		return err
	}
	s, mk, err := r.writeKeys(keys)
	if err != nil {
		return err
	}
	return r.write(s, r.deleteOps(s, mk), func() error {
		if s.multi != nil {
			return s.wrap("delete_multi", mk[0], s.multi.DeleteMulti(ctx, mk))
		}
		for _, k := range mk {
			if err := s.backend.Delete(ctx, k); err != nil {
				return s.wrap("delete", k, err)
			}
		}
		return nil
	})
}

// stamp is what decides a stored value's state, besides the call's
// options: when it was created and, under shared invalidation, the
// generations it was written under (zero for an entry written without); its
// tags; the expiration its creator gave it; whether it is a "not found".
type stamp struct {
	created int64 // Unix nanoseconds
	gens    envelope.Generations
	tags    *entryTags // nil: none
	// ttl is the entry's own expiration (SetExpiration, a negative
	// expiration): 0 none, the region's or the call's applies; ttlNever;
	// else nanoseconds after created.
	ttl      int64
	negative bool // a cached "not found" (ErrNotFound): no value
}

// valueEntry is what a region stores in a backend.Values: the Go value as it
// is, with the type it was written as and its stamp.
type valueEntry struct {
	value any
	id    typeID
	// plainCreated is created for an entry that is a value with neither
	// tags nor an expiration of its own, math.MinInt64 for any other: the
	// one field getOrCreate's first branch reads to know it may decide.
	plainCreated int64
	stamp
}

// newValueEntry is the entry of v, written as the type id identifies, with
// its stamp st.
func newValueEntry(v any, id typeID, st stamp) *valueEntry {
	e := &valueEntry{value: v, id: id, stamp: st, plainCreated: math.MinInt64}
	if e.negative {
		e.value = nil // a marker: no value
	} else if e.tags == nil && e.ttl == 0 {
		e.plainCreated = e.created
	}
	return e
}

// typeID identifies a Go type T as a nil *T in an interface: made without
// reflection in generic code (typeIDOf), and checked on the hit path of the
// memory backend with a type assertion to *T, a comparison of one word. A
// nil typeID is the type of a nil interface value.
type typeID = any

func typeIDOf[T any]() typeID { return (*T)(nil) }

// typeIDFor is typeIDOf for a reflect.Type.
func typeIDFor(t reflect.Type) typeID {
	if t == nil {
		return nil
	}
	return reflect.Zero(reflect.PointerTo(t)).Interface()
}

// reflectType is the type id identifies.
func reflectType(id typeID) reflect.Type {
	if id == nil {
		return nil
	}
	return reflect.TypeOf(id).Elem()
}

// writing is what a write records beside a value: the type the value is
// written as, the generations its writer last saw, and the value's tags.
type writing struct {
	id      typeID // with dynamic, each value's own
	dynamic bool   // each value is of its own type (Set, SetMulti)
	gens    envelope.Generations
	hasGens bool
	tags    writeTags
	created int64                // 0: now (a replayed write keeps its own, recovery.go)
	entry   entryMeta            // of every value written
	perKey  map[string]entryMeta // by storage key, in place of entry
}

// writeDynamic, as the type to write as, is each value's own type.
var writeDynamic typeID = writeDynamicType{}

type writeDynamicType struct{}

func (w *writing) typeOf(v any) typeID {
	if w.dynamic {
		return typeIDFor(reflect.TypeOf(v))
	}
	return w.id
}

func (w *writing) reflectTypeOf(v any) reflect.Type {
	if w.dynamic {
		return reflect.TypeOf(v)
	}
	return reflectType(w.id)
}

// stamp is the stamp of the value stored under the storage key k.
func (w *writing) stamp(created int64, k string) stamp {
	e := w.entryFor(k)
	return stamp{created: created, gens: w.gens, tags: w.tags.of(k), ttl: e.ttl, negative: e.negative}
}

func (w *writing) entryFor(key string) entryMeta {
	if e, ok := w.perKey[key]; ok {
		return e
	}
	return w.entry
}

// now is the creation time of what w writes.
func (w *writing) now(s *regionState) int64 {
	if w.created != 0 {
		return w.created
	}
	return s.clock.Now()
}

// writeAs is how a value of the type typ identifies (writeDynamic: each
// value's own), made from what the store held as of now, is written, tagged
// as o says. Take it before the value is made: under shared invalidation the
// entry must carry the generations (the region's and its tags') from before
// its creator read anything, so that an invalidation during the creation
// makes the entry invalid.
func (s *regionState) writeAs(typ typeID, o *callOptions) writing {
	// Stamped now, before the value is made: a creation that overlaps an
	// invalidation is older than it, as its data may be, with every
	// strategy (the generations below say the same under shared
	// invalidation); and expiry counts from when the data was read.
	w := writing{id: typ, dynamic: typ == writeDynamic, tags: s.tags.writeTags(o), created: s.clock.Now()}
	if s.gens != nil {
		w.gens, w.hasGens = s.gens.current(), true
	}
	return w
}

// writeAfterRead is writeAs for a write that has not just read the store (Set,
// Refresh): under shared invalidation read with every value, it reads the
// invalidation record and the records of o's tags first, so that a value
// written after an invalidation made elsewhere is valid.
func (s *regionState) writeAfterRead(ctx context.Context, typ typeID, o *callOptions) (writing, error) {
	rr := s.records(o)
	if err := s.fetch(ctx, &rr); err != nil {
		return writing{}, s.wrap("get", s.recordKey, err)
	}
	return s.writeAs(typ, o), nil
}

// encode makes the entry stored under key for v: the envelope, signed when
// the region signs, within the region's size limit.
func (r *Region) encode(key string, v any, created int64, w *writing) ([]byte, error) {
	e := w.entryFor(key)
	written := w.reflectTypeOf(v)
	var payload []byte
	if !e.negative {
		marshal := r.codec.Marshal
		if r.codec == codec.Default && written != nil && written.Kind() == reflect.Interface {
			// Written as an interface (GetOrCreate[any]), a string's or a
			// number's text would not say what it is, and would not read
			// back into an any: JSON does both.
			marshal = json.Marshal
		}
		var err error
		if payload, err = marshal(v); err != nil {
			return nil, fmt.Errorf("dogpile: key %q: encode %T with codec %q: %w", key, v, r.codec.Name(), err)
		}
	}
	name := r.codec.Name()
	if len(name) > 255 {
		// The envelope has one byte for the name's length: a longer name
		// would be cut, and every entry read back as a miss.
		return nil, &ArgError{Name: "codec", Value: name, Reason: "codec name longer than 255 bytes"}
	}
	m := envelope.Meta{Created: created, Type: envelope.TypeTag(written), Codec: name, HasGens: w.hasGens, Gens: w.gens, Tags: w.tags.list(key),
		Negative: e.negative, HasExpiration: e.ttl != 0, Expiration: e.ttl}
	b := envelope.Append(make([]byte, 0, envelope.Size(&m, len(payload))), &m, payload)
	if r.signingKeys != nil {
		b = envelope.Sign(b, key, r.signingKeys[0])
	}
	if r.maxValueSize > 0 && len(b) > r.maxValueSize {
		return nil, fmt.Errorf("%w: key %q: %d bytes stored, the region's limit is %d", ErrValueTooLarge, key, len(b), r.maxValueSize)
	}
	return b, nil
}

func (r *Region) store(ctx context.Context, s *regionState, key string, v any, w writing) error {
	now := w.now(s)
	if s.values != nil {
		e := newValueEntry(v, w.typeOf(v), w.stamp(now, key))
		return s.wrap("set", key, s.values.SetValue(ctx, key, e))
	}
	b, err := r.encode(key, v, now, &w)
	if err != nil {
		return err
	}
	// A creation's ctx carries the distributed lock it holds (lock.Held): a
	// backend that fences writes (backend.Fenced) writes through it, so
	// that a creation that lost the lock writes nothing over the value of
	// the holder that took it over.
	err = s.backend.Set(ctx, key, b)
	if errors.Is(err, lock.ErrLockLost) {
		return err // not the store failing: the caller counts a lost lock
	}
	return s.wrap("set", key, err)
}

// untyped reports whether T is one of the untyped reads (any, []byte) that
// take an entry of any type (see Get).
func untyped[T any]() bool {
	switch typeIDOf[T]().(type) {
	case *any, *[]byte:
		return true
	}
	return false
}

// valueAs returns e's value as a T, if e was written as a T or T is
// untyped (see Get). A Go value is held as it is, so the untyped []byte
// reads only values that are byte slices.
func valueAs[T any](e *valueEntry) (T, bool) {
	if _, ok := e.id.(*T); ok { // e.id == typeIDOf[T](), comparing the type words alone
		v, _ := e.value.(T) // a nil interface value, written as an interface T, is T's zero
		return v, true
	}
	switch typeIDOf[T]().(type) {
	case *any:
		v, _ := e.value.(T)
		return v, true
	case *[]byte:
		v, ok := e.value.(T)
		return v, ok
	}
	var zero T
	return zero, false
}

// typeMismatch is a pair of types, logged once per region when an entry
// written as one is read as the other.
type typeMismatch struct {
	written uint32
	read    reflect.Type
}

// mismatched counts and reports a read of an entry as another type than it
// was written as: a miss, logged once per pair of types and region (a
// caller that reads a key as two types would otherwise log at every call).
func (r *Region) mismatched(key string, written uint32, read reflect.Type) {
	r.observe(EventDecodeFailure, 0)
	if _, seen := r.mismatches.LoadOrStore(typeMismatch{written, read}, struct{}{}); seen {
		return
	}
	name := envelope.NameOf(written)
	if name == "" {
		name = fmt.Sprintf("a type this process has not used (type tag %08x)", written)
	}
	r.logger.Warn("dogpile: entry read as another type than it was written as; read as a miss (logged once per pair of types)",
		"region", r.name, "key", key, "written_as", name, "read_as", envelope.TypeName(read))
}

// parseText decodes payload into what ptr points to when the default codec
// stores its kind as text (textcodec.Parse), without the Codec interface. On
// a backend whose values are immutable (backend.Immutable) a string points
// into payload instead of being copied: a hit's one allocation of its own.
// Into an any, an entry written as one of the text types (its tag is
// written) is parsed as that type: its text is not the JSON the codec would
// decode into an any.
func (s *regionState) parseText(payload []byte, written uint32, ptr any) (done bool, err error) {
	if p, isAny := ptr.(*any); isAny {
		t, ok := textTypes[written]
		if !ok {
			return false, nil
		}
		v := reflect.New(t)
		if done, err = s.parseText(payload, written, v.Interface()); err == nil {
			*p = v.Elem().Interface()
		}
		return done, err
	}
	if s.immutable {
		return textcodec.ParseShared(payload, ptr)
	}
	return textcodec.Parse(payload, ptr)
}

// textTypes are the types the default codec writes as text, by type tag.
var textTypes = func() map[uint32]reflect.Type {
	m := make(map[uint32]reflect.Type, len(textcodec.Types))
	for _, t := range textcodec.Types {
		m[envelope.TypeTag(t)] = t
	}
	return m
}()

// decode reads an entry into a T. Bytes that are not a readable entry of this
// region's codec, or an entry of another type than T, are a miss, never an
// error: the creator runs and replaces them.
//
// The default codec's text forms (strings, byte slices, booleans, numbers)
// are decoded into v on this stack: what a call through the Codec interface
// decodes into escapes, one allocation a read that a remote hit notices.
// Other values are decoded into a T of their own on the heap.
func decode[T any](r *Region, s *regionState, key string, b []byte) (v T, st stamp, ok bool) {
	payload, written, st, ok := openEntry[T](r, key, b, typeTag[T]())
	if !ok || st.negative {
		return v, st, ok
	}
	if r.codec == codec.Default {
		if done, err := s.parseText(payload, written, &v); done {
			if err != nil {
				r.undecodable(key, err)
				var zero T
				return zero, stamp{}, false
			}
			return v, st, true
		}
	}
	p := new(T)
	if err := r.codec.Unmarshal(payload, p); err != nil {
		r.undecodable(key, err)
		return v, stamp{}, false
	}
	return *p, st, true
}

// decodeInto is decode into *v, which must hold the zero T and is left so on
// a miss, of an entry that must be of the type whose tag is tag
// (typeTag[T]): a caller that reads many entries decodes each into its own
// slot of one slice (a value returned would be one allocation per entry, as
// the codec is an interface, so what it decodes into escapes) and looks the
// tag up once.
func decodeInto[T any](r *Region, s *regionState, key string, b []byte, v *T, tag uint32) (st stamp, ok bool) {
	payload, written, st, ok := openEntry[T](r, key, b, tag)
	if !ok || st.negative {
		return st, ok
	}
	var done bool
	var err error
	if r.codec == codec.Default {
		done, err = s.parseText(payload, written, v)
	}
	if !done {
		err = r.codec.Unmarshal(payload, v)
	}
	if err != nil {
		r.undecodable(key, err)
		var zero T
		*v = zero // a codec may have written part of it
		return stamp{}, false
	}
	return st, true
}

// openEntry checks the entry b read under key — its signature under
// WithSigning, its codec, its type (tag, of T) — and returns the encoded
// value, the tag of the type it was written as and the entry's stamp. ok is
// false, and counted, for bytes that are none of this region's entries of a
// T.
func openEntry[T any](r *Region, key string, b []byte, tag uint32) (payload []byte, written uint32, st stamp, ok bool) {
	if r.signingKeys != nil {
		if err := envelope.Verify(b, key, r.signingKeys); err != nil {
			r.observe(EventRejected, 0)
			r.logger.Debug("dogpile: unsigned entry read as a miss", "region", r.name, "key", key)
			return nil, 0, stamp{}, false
		}
	}
	e, err := envelope.Open(b)
	if err == nil && e.Codec != r.codec.Name() {
		err = fmt.Errorf("dogpile: entry written with codec %q, region uses %q", e.Codec, r.codec.Name())
	}
	if err != nil {
		r.undecodable(key, err)
		return nil, 0, stamp{}, false
	}
	if !untyped[T]() && e.Type != tag {
		r.mismatched(key, e.Type, reflect.TypeFor[T]())
		return nil, 0, stamp{}, false
	}
	st = stamp{created: e.Created, gens: e.Gens, negative: e.Negative}
	if len(e.Tags) > 0 {
		st.tags = &entryTags{list: e.Tags}
	}
	if e.HasExpiration {
		st.ttl = e.Expiration
		if st.ttl == 0 { // not written by this library: expired, not "none"
			st.ttl = ttlExpired
		}
	}
	return e.Payload, e.Type, st, true
}

// undecodable counts and logs an entry under key that can't be read: a miss.
func (r *Region) undecodable(key string, err error) {
	r.observe(EventDecodeFailure, 0)
	r.logger.Debug("dogpile: undecodable entry read as a miss", "region", r.name, "key", key, "err", err)
}

// state decides whether a value with stamp st is fresh, stale or (hard
// invalidated) missing.
func (s *regionState) state(ctx context.Context, st *stamp, o *callOptions) lock.State {
	var inv Invalidation
	switch {
	case s.localInv != nil:
		inv = s.localInv.check(st.created)
	case s.gens != nil:
		inv = s.gens.check(ctx, *st)
		s.learnedSoft()
	default:
		inv = s.inv.Invalidated(ctx, time.Unix(0, st.created))
	}
	if st.tags != nil {
		inv = max(inv, s.tags.check(st.tags, st.created))
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
	switch {
	case st.ttl == ttlExpired:
		return lock.Stale
	case st.ttl != 0: // the entry's own, which its creator set (ttlNever is NoExpiration)
		exp = time.Duration(st.ttl)
	case o.hasExpiration:
		if o.expiration == 0 {
			return lock.Stale // expired at once, as in Python's dogpile.cache (see ExpirationTime)
		}
		exp = o.expiration
	}
	if exp <= 0 {
		return lock.Fresh
	}
	var now int64
	switch {
	case s.clock != nil:
		now = s.clock()
	case exp >= clock.CoarseMin:
		now = clock.Coarse() // inlined: the hit path's one clock read, two atomic loads
	default:
		now = clock.Now()
	}
	if now-st.created > int64(exp) || s.early != nil && s.early.due(st.created, exp) {
		return lock.Stale
	}
	return lock.Fresh
}

// described names the region in messages: `region "users"`, or "an unnamed
// region".
func (r *Region) described() string {
	if r.name == "" {
		return "an unnamed region"
	}
	return fmt.Sprintf("region %q", r.name)
}
