package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile"
	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocachemem "github.com/eko/gocache/store/go_cache/v4"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	patrickmn "github.com/patrickmn/go-cache"
	"github.com/viccon/sturdyc"
	"golang.org/x/sync/singleflight"
)

// Cache is what every workload calls: one library, used the way its
// documentation shows for a key-dependent loader. The interface call costs
// every library the same nanosecond or two.
type Cache interface {
	// Get returns key's value, calling the loader on a miss (and, where the
	// library refreshes, in the background on a stale hit).
	Get(ctx context.Context, key string) (string, error)
	// Set writes key's value without the loader.
	Set(ctx context.Context, key, value string) error
	// Close releases the library's goroutines.
	Close()
}

// Config is one workload's cache set-up, the same for every library.
type Config struct {
	// Load makes a missing value.
	Load func(ctx context.Context, key string) (string, error)
	// TTL is how long a value is fresh. After it, libraries that can serve a
	// stale value while one caller reloads it (dogpile, otter's
	// refresh-after-write, sturdyc's early refreshes) do; the others treat
	// the key as missing. Zero: values never go stale.
	TTL time.Duration
	// Capacity bounds the number of entries; 0 means unbounded (or, for
	// libraries that must have a bound, a bound well above the working set).
	Capacity int
}

// Lib is one library under test.
type Lib struct {
	// Name is the row name in every table, safe in a benchmark name (no
	// slash): "go-redis-cache" is go-redis/cache.
	Name string
	// Note says how the library is set up, for RESULTS.md.
	Note string
	// Bounded reports whether Config.Capacity is honoured.
	Bounded bool
	// Stale reports whether the library serves a stale value while one caller
	// reloads it.
	Stale bool
	// New builds the cache.
	New func(cfg Config) (Cache, error)
}

const bigCapacity = 1 << 20 // for libraries that need a bound when Config.Capacity is 0

// MemoryLibs are the in-process caches of workloads 1, 2, 3 and 6, dogpile
// first.
var MemoryLibs = []Lib{
	{Name: "dogpile", Note: "Region over the memory backend (max_entries when bounded), GetOrCreate with a creator closure over the key", Bounded: true, Stale: true, New: func(c Config) (Cache, error) { return newDogpile(c) }},
	{Name: "dogpile-async", Note: "as dogpile, with WithAsyncRunner(go): the caller that wins the lock on a stale value also gets it at once, the regeneration runs in the background", Bounded: true, Stale: true, New: func(c Config) (Cache, error) {
		return newDogpile(c, dogpile.WithAsyncRunner(func(f func()) { go f() }))
	}},
	{Name: "otter", Note: "otter v2 Cache.Get with a Loader, RefreshWriting(TTL) (refresh-after-write), no expiry", Bounded: true, Stale: true, New: newOtter},
	{Name: "sturdyc", Note: "sturdyc GetOrFetch, TTL expiry, no early refreshes", Bounded: true, New: func(c Config) (Cache, error) { return newSturdyc(c, false) }},
	{Name: "sturdyc-early", Note: "sturdyc GetOrFetch with WithEarlyRefreshes(TTL, TTL, 100×TTL): stale served while refreshing in the background, expiry at 100×TTL", Bounded: true, Stale: true, New: func(c Config) (Cache, error) { return newSturdyc(c, true) }},
	{Name: "gocache", Note: "eko/gocache v4 LoadableCache over its go_cache store (patrickmn/go-cache, unbounded)", New: newGocache},
	{Name: "go-redis-cache", Note: "go-redis/cache v9 Once with its local TinyLFU only (no Redis): values are stored marshalled", Bounded: true, New: newRedisCacheLocal},
	{Name: "map-rwmutex-sf", Note: "baseline: map under a RWMutex, singleflight on a miss, expiry by time.Now when TTL is set", New: newMapBaseline},
	{Name: "syncmap-sf", Note: "baseline: sync.Map, singleflight on a miss, expiry by time.Now when TTL is set", New: newSyncMapBaseline},
}

// ---- dogpile ----

type dogpileCache struct {
	r    *dogpile.Region
	load func(context.Context, string) (string, error)
}

func newDogpile(c Config, opts ...dogpile.RegionOption) (Cache, error) {
	args := dogpile.Args{}
	if c.Capacity > 0 {
		args["max_entries"] = c.Capacity
	}
	r, err := dogpile.NewRegion(append([]dogpile.RegionOption{dogpile.WithName("bench")}, opts...)...).Configure("memory",
		dogpile.WithExpiration(c.TTL), dogpile.WithArguments(args))
	if err != nil {
		return nil, err
	}
	return &dogpileCache{r: r, load: c.Load}, nil
}

// NewDogpileRegion wraps a configured region (any backend) as a Cache.
func NewDogpileRegion(r *dogpile.Region, load func(context.Context, string) (string, error)) Cache {
	return &dogpileCache{r: r, load: load}
}

func (d *dogpileCache) Get(ctx context.Context, key string) (string, error) {
	return dogpile.GetOrCreate(ctx, d.r, key, func(ctx context.Context) (string, error) { return d.load(ctx, key) })
}

func (d *dogpileCache) Set(ctx context.Context, key, value string) error {
	return d.r.Set(ctx, key, value)
}

func (d *dogpileCache) Close() { d.r.Close() }

// ---- otter v2 ----

type otterCache struct {
	c      *otter.Cache[string, string]
	loader otter.Loader[string, string]
}

func newOtter(c Config) (Cache, error) {
	o := &otter.Options[string, string]{}
	if c.Capacity > 0 {
		o.MaximumSize = c.Capacity
	}
	if c.TTL > 0 {
		o.RefreshCalculator = otter.RefreshWriting[string, string](c.TTL)
	}
	oc, err := otter.New(o)
	if err != nil {
		return nil, err
	}
	return &otterCache{c: oc, loader: otter.LoaderFunc[string, string](c.Load)}, nil
}

func (o *otterCache) Get(ctx context.Context, key string) (string, error) {
	return o.c.Get(ctx, key, o.loader)
}

func (o *otterCache) Set(_ context.Context, key, value string) error {
	o.c.Set(key, value)
	return nil
}

func (o *otterCache) Close() { o.c.StopAllGoroutines() }

// ---- sturdyc ----

type sturdycCache struct {
	c    *sturdyc.Client[string]
	load func(context.Context, string) (string, error)
}

func newSturdyc(c Config, early bool) (Cache, error) {
	capacity, ttl := c.Capacity, c.TTL
	if capacity == 0 {
		capacity = bigCapacity
	}
	if ttl == 0 {
		ttl = 24 * time.Hour // sturdyc must have one
	}
	var opts []sturdyc.Option
	if early {
		// Refresh in the background from TTL on; expire (and refresh in the
		// caller) only at 100×TTL: the closest sturdyc gets to "serve stale
		// while one caller reloads".
		opts = append(opts, sturdyc.WithEarlyRefreshes(ttl, ttl, 100*ttl, 10*time.Millisecond))
		ttl *= 100
	}
	// 10 shards (a power-of-two-ish count near the core count × a few is
	// what its README suggests); evict 10% when a shard is full.
	shards := 10
	if capacity < shards {
		shards = 1
	}
	sc := sturdyc.New[string](capacity, shards, ttl, 10, opts...)
	return &sturdycCache{c: sc, load: c.Load}, nil
}

func (s *sturdycCache) Get(ctx context.Context, key string) (string, error) {
	return s.c.GetOrFetch(ctx, key, func(ctx context.Context) (string, error) { return s.load(ctx, key) })
}

func (s *sturdycCache) Set(_ context.Context, key, value string) error {
	s.c.Set(key, value)
	return nil
}

func (s *sturdycCache) Close() {}

// ---- eko/gocache ----

type gocacheCache struct {
	c *gocache.LoadableCache[string]
}

func newGocache(c Config) (Cache, error) {
	exp := patrickmn.NoExpiration
	if c.TTL > 0 {
		exp = c.TTL
	}
	// The janitor interval of go-cache; expiry itself is checked on Get.
	gc := patrickmn.New(exp, time.Minute)
	store := gocachemem.NewGoCache(gc, gocachestore.WithExpiration(exp))
	var opts []gocachestore.Option
	if c.TTL > 0 {
		opts = append(opts, gocachestore.WithExpiration(c.TTL))
	}
	load := func(ctx context.Context, key any) (string, []gocachestore.Option, error) {
		v, err := c.Load(ctx, key.(string))
		return v, opts, err
	}
	return &gocacheCache{c: gocache.NewLoadable[string](load, gocache.New[string](store))}, nil
}

func (g *gocacheCache) Get(ctx context.Context, key string) (string, error) {
	return g.c.Get(ctx, key)
}

func (g *gocacheCache) Set(ctx context.Context, key, value string) error {
	return g.c.Set(ctx, key, value)
}

func (g *gocacheCache) Close() { g.c.Close() }

// ---- go-redis/cache ----

type redisCacheCache struct {
	c    *rediscache.Cache
	load func(context.Context, string) (string, error)
}

func newRedisCacheLocal(c Config) (Cache, error) {
	capacity, ttl := c.Capacity, c.TTL
	if capacity == 0 {
		capacity = bigCapacity
	}
	if ttl == 0 {
		ttl = 24 * time.Hour // TinyLFU must have one
	}
	local := rediscache.NewTinyLFU(capacity, ttl)
	local.UseRandomizedTTL(0)
	return &redisCacheCache{c: rediscache.New(&rediscache.Options{LocalCache: local}), load: c.Load}, nil
}

// NewRedisCache wraps a go-redis/cache Cache (Redis, local or both).
func NewRedisCache(c *rediscache.Cache, load func(context.Context, string) (string, error)) Cache {
	return &redisCacheCache{c: c, load: load}
}

func (r *redisCacheCache) Get(ctx context.Context, key string) (string, error) {
	var v string
	err := r.c.Once(&rediscache.Item{
		Ctx:   ctx,
		Key:   key,
		Value: &v,
		TTL:   time.Hour, // its Redis TTL; it can't go below a second
		Do:    func(it *rediscache.Item) (any, error) { return r.load(it.Context(), it.Key) },
	})
	return v, err
}

func (r *redisCacheCache) Set(ctx context.Context, key, value string) error {
	return r.c.Set(&rediscache.Item{Ctx: ctx, Key: key, Value: value, TTL: time.Hour})
}

func (r *redisCacheCache) Close() {}

// ---- baselines ----

type mapEntry struct {
	v   string
	exp int64 // UnixNano; 0 = never
}

// mapBaseline is the cache every Go programmer writes first.
type mapBaseline struct {
	mu   sync.RWMutex
	m    map[string]mapEntry
	sf   singleflight.Group
	ttl  time.Duration
	load func(context.Context, string) (string, error)
}

func newMapBaseline(c Config) (Cache, error) {
	return &mapBaseline{m: map[string]mapEntry{}, ttl: c.TTL, load: c.Load}, nil
}

func (b *mapBaseline) entry(v string) mapEntry {
	e := mapEntry{v: v}
	if b.ttl > 0 {
		e.exp = time.Now().Add(b.ttl).UnixNano()
	}
	return e
}

func (b *mapBaseline) Get(ctx context.Context, key string) (string, error) {
	b.mu.RLock()
	e, ok := b.m[key]
	b.mu.RUnlock()
	if ok && (e.exp == 0 || time.Now().UnixNano() < e.exp) {
		return e.v, nil
	}
	x, err, _ := b.sf.Do(key, func() (any, error) {
		v, err := b.load(ctx, key)
		if err == nil {
			b.mu.Lock()
			b.m[key] = b.entry(v)
			b.mu.Unlock()
		}
		return v, err
	})
	s, _ := x.(string)
	return s, err
}

func (b *mapBaseline) Set(_ context.Context, key, value string) error {
	b.mu.Lock()
	b.m[key] = b.entry(value)
	b.mu.Unlock()
	return nil
}

func (b *mapBaseline) Close() {}

type syncMapBaseline struct {
	m    sync.Map // string -> *mapEntry
	sf   singleflight.Group
	ttl  time.Duration
	load func(context.Context, string) (string, error)
}

func newSyncMapBaseline(c Config) (Cache, error) {
	return &syncMapBaseline{ttl: c.TTL, load: c.Load}, nil
}

func (b *syncMapBaseline) entry(v string) *mapEntry {
	e := &mapEntry{v: v}
	if b.ttl > 0 {
		e.exp = time.Now().Add(b.ttl).UnixNano()
	}
	return e
}

func (b *syncMapBaseline) Get(ctx context.Context, key string) (string, error) {
	if x, ok := b.m.Load(key); ok {
		if e := x.(*mapEntry); e.exp == 0 || time.Now().UnixNano() < e.exp {
			return e.v, nil
		}
	}
	x, err, _ := b.sf.Do(key, func() (any, error) {
		v, err := b.load(ctx, key)
		if err == nil {
			b.m.Store(key, b.entry(v))
		}
		return v, err
	})
	s, _ := x.(string)
	return s, err
}

func (b *syncMapBaseline) Set(_ context.Context, key, value string) error {
	b.m.Store(key, b.entry(value))
	return nil
}

func (b *syncMapBaseline) Close() {}

// Counter is a creator that counts its calls and takes a fixed time: the
// expensive computation the cache is there to save.
type Counter struct {
	calls  atomic.Int64
	active atomic.Int64
	delay  atomic.Int64 // time.Duration
}

// NewCounter returns a creator taking delay per call.
func NewCounter(delay time.Duration) *Counter {
	c := &Counter{}
	c.SetDelay(delay)
	return c
}

// SetDelay changes the time each call takes from now on.
func (c *Counter) SetDelay(d time.Duration) { c.delay.Store(int64(d)) }

// Load is the creator.
func (c *Counter) Load(ctx context.Context, key string) (string, error) {
	c.calls.Add(1)
	c.active.Add(1)
	defer c.active.Add(-1)
	if d := time.Duration(c.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "value:" + key, nil
}

// Calls returns the number of calls so far.
func (c *Counter) Calls() int64 { return c.calls.Load() }

// WaitIdle waits, up to timeout, until at least one call was made and none
// is running: background refreshes (otter, sturdyc) finish after every
// caller has returned, and must be counted.
func (c *Counter) WaitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.calls.Load() > 0 && c.active.Load() == 0 {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// LibByName finds a library in libs.
func LibByName(libs []Lib, name string) (Lib, error) {
	for _, l := range libs {
		if l.Name == name {
			return l, nil
		}
	}
	return Lib{}, fmt.Errorf("bench: no library %q", name)
}
