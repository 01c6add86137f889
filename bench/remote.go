package bench

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/backends/file"      // registers "file"
	_ "github.com/dogpile-go/dogpile/backends/memcached" // registers "memcached"
	_ "github.com/dogpile-go/dogpile/backends/redis"     // registers "redis"
	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocachememcache "github.com/eko/gocache/store/memcache/v4"
	gocacheredis "github.com/eko/gocache/store/redis/v4"
	rediscache "github.com/go-redis/cache/v9"
	goredis "github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"
	"golang.org/x/sync/singleflight"
)

// RemoteConfig is a shared-store workload's set-up.
type RemoteConfig struct {
	Config
	// RedisAddr and MemcachedAddr are the servers (host:port).
	RedisAddr, MemcachedAddr string
	// File is the cache file of the file backend, shared by the processes.
	File string
}

// RemoteLib is one library on a shared store.
type RemoteLib struct {
	// Name is the row name (safe in a benchmark name).
	Name string
	// Store is what the processes share: "Redis", "Memcached" or "file".
	Store string
	// Note says how it is set up.
	Note string
	// New builds the cache.
	New func(cfg RemoteConfig) (Cache, error)
}

// remoteTTL is the store-side lifetime of values in the remote workloads:
// longer than any run.
const remoteTTL = time.Hour

// DistributedLibs are the libraries of the distributed stampede (workload
// 5): each process has its own instance, all share one store. dogpile runs
// on each store it locks across processes, with default settings; the
// others coalesce per process only.
var DistributedLibs = []RemoteLib{
	{Name: "dogpile", Store: "Redis", Note: `region on the "redis" backend with distributed_lock, default settings: waiting processes are woken by the lock's release (pub/sub) and read the holder's value; lock_sleep (100 ms) is only the fallback poll`, New: func(c RemoteConfig) (Cache, error) { return newDogpileRedis(c, true, 0) }},
	{Name: "dogpile-sleep10ms", Store: "Redis", Note: `as dogpile, with lock_sleep 10ms: the fallback poll more often`, New: func(c RemoteConfig) (Cache, error) { return newDogpileRedis(c, true, 10*time.Millisecond) }},
	{Name: "dogpile-memcached", Store: "Memcached", Note: `region on the "memcached" backend with distributed_lock, default settings: Memcached has no push, so waiters poll the lock with a back-off from 1 ms up to lock_sleep (50 ms)`, New: newDogpileMemcachedLocked},
	{Name: "dogpile-file", Store: "file", Note: `region on the "file" backend (SQLite) with its default lock, an OS file lock: the 4 processes open one cache file, and a waiter sleeps in the kernel until the holder's lock is released`, New: newDogpileFile},
	{Name: "sturdyc", Store: "Redis", Note: "sturdyc GetOrFetch with WithDistributedStorage over go-redis (the adapter is ours: sturdyc ships none)", New: newSturdycRedis},
	{Name: "gocache", Store: "Redis", Note: "eko/gocache LoadableCache over its Redis store", New: newGocacheRedis},
	{Name: "gocache-memcached", Store: "Memcached", Note: "eko/gocache LoadableCache over its memcache store", New: newGocacheMemcachedRemote},
	{Name: "go-redis-cache", Store: "Redis", Note: "go-redis/cache Once, Redis plus its local TinyLFU", New: func(c RemoteConfig) (Cache, error) { return newRedisCacheRemote(c, true) }},
	{Name: "redis-sf", Store: "Redis", Note: "baseline: go-redis GET, on a miss singleflight(load, SET)", New: newRedisBaseline},
}

// NewRedisClient returns a go-redis client for addr, with a pool big
// enough for the stampedes.
func NewRedisClient(addr string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 64, Protocol: 3})
}

func splitHostPort(addr string) (string, int) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, _ := strconv.Atoi(addr[i+1:])
			return addr[:i], p
		}
	}
	return addr, 0
}

// NewDogpileRedisRegion returns a region on the "redis" backend; lockSleep
// 0 keeps the default.
func NewDogpileRedisRegion(addr string, ttl time.Duration, distributedLock bool, lockSleep time.Duration) (*dogpile.Region, error) {
	host, port := splitHostPort(addr)
	args := dogpile.Args{
		"host": host, "port": port,
		"distributed_lock":      distributedLock,
		"redis_expiration_time": remoteTTL,
		"pool_size":             64,
	}
	if lockSleep > 0 {
		args["lock_sleep"] = lockSleep
	}
	return dogpile.NewRegion(dogpile.WithName("bench")).Configure("redis",
		dogpile.WithExpiration(ttl), dogpile.WithArguments(args))
}

// NewDogpileMemcachedRegion returns a region on the "memcached" backend,
// with the distributed lock if distributedLock.
func NewDogpileMemcachedRegion(addr string, ttl time.Duration, distributedLock bool) (*dogpile.Region, error) {
	return dogpile.NewRegion(dogpile.WithName("bench")).Configure("memcached",
		dogpile.WithExpiration(ttl),
		dogpile.WithArguments(dogpile.Args{"url": addr, "max_idle_conns": 64, "distributed_lock": distributedLock}))
}

func newDogpileMemcachedLocked(c RemoteConfig) (Cache, error) {
	r, err := NewDogpileMemcachedRegion(c.MemcachedAddr, c.TTL, true)
	if err != nil {
		return nil, err
	}
	return NewDogpileRegion(r, c.Load), nil
}

// NewDogpileFileRegion returns a region on the "file" backend at path, with
// its cross-process lock (on by default).
func NewDogpileFileRegion(path string, ttl time.Duration) (*dogpile.Region, error) {
	return dogpile.NewRegion(dogpile.WithName("bench")).Configure("file",
		dogpile.WithExpiration(ttl),
		dogpile.WithArguments(dogpile.Args{"filename": path}))
}

func newDogpileFile(c RemoteConfig) (Cache, error) {
	r, err := NewDogpileFileRegion(c.File, c.TTL)
	if err != nil {
		return nil, err
	}
	return NewDogpileRegion(r, c.Load), nil
}

func newDogpileRedis(c RemoteConfig, lock bool, lockSleep time.Duration) (Cache, error) {
	r, err := NewDogpileRedisRegion(c.RedisAddr, c.TTL, lock, lockSleep)
	if err != nil {
		return nil, err
	}
	return NewDogpileRegion(r, c.Load), nil
}

// ---- sturdyc + Redis ----

// sturdycRedis is the DistributedStorage sturdyc asks its users to write.
type sturdycRedis struct{ c *goredis.Client }

func (s sturdycRedis) Get(ctx context.Context, key string) ([]byte, bool) {
	b, err := s.c.Get(ctx, key).Bytes()
	return b, err == nil
}

func (s sturdycRedis) Set(ctx context.Context, key string, value []byte) {
	s.c.Set(ctx, key, value, remoteTTL)
}

func (s sturdycRedis) GetBatch(ctx context.Context, keys []string) map[string][]byte {
	out := make(map[string][]byte, len(keys))
	vals, err := s.c.MGet(ctx, keys...).Result()
	if err != nil {
		return out
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[keys[i]] = []byte(s)
		}
	}
	return out
}

func (s sturdycRedis) SetBatch(ctx context.Context, records map[string][]byte) {
	p := s.c.Pipeline()
	for k, v := range records {
		p.Set(ctx, k, v, remoteTTL)
	}
	p.Exec(ctx) //nolint:errcheck // sturdyc's interface has no error
}

type sturdycRemote struct {
	sturdycCache
	rc *goredis.Client
}

func newSturdycRedis(c RemoteConfig) (Cache, error) {
	ttl := c.TTL
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	rc := NewRedisClient(c.RedisAddr)
	sc := sturdyc.New[string](bigCapacity, 10, ttl, 10, sturdyc.WithDistributedStorage(sturdycRedis{rc}))
	return &sturdycRemote{sturdycCache: sturdycCache{c: sc, load: c.Load}, rc: rc}, nil
}

func (s *sturdycRemote) Close() { s.rc.Close() }

// ---- eko/gocache + Redis ----

type gocacheRemote struct {
	gocacheCache
	rc *goredis.Client
}

func newGocacheRedis(c RemoteConfig) (Cache, error) {
	rc := NewRedisClient(c.RedisAddr)
	store := gocacheredis.NewRedis(rc, gocachestore.WithExpiration(remoteTTL))
	load := func(ctx context.Context, key any) (string, []gocachestore.Option, error) {
		v, err := c.Load(ctx, key.(string))
		return v, nil, err
	}
	return &gocacheRemote{gocacheCache: gocacheCache{c: gocache.NewLoadable[string](load, gocache.New[string](store))}, rc: rc}, nil
}

func (g *gocacheRemote) Close() { g.c.Close(); g.rc.Close() }

// ---- go-redis/cache + Redis ----

type redisCacheRemote struct {
	redisCacheCache
	rc *goredis.Client
}

func newRedisCacheRemote(c RemoteConfig, local bool) (Cache, error) {
	rc := NewRedisClient(c.RedisAddr)
	o := &rediscache.Options{Redis: rc}
	if local {
		o.LocalCache = rediscache.NewTinyLFU(bigCapacity, time.Minute)
	}
	return &redisCacheRemote{redisCacheCache: redisCacheCache{c: rediscache.New(o), load: c.Load}, rc: rc}, nil
}

func (r *redisCacheRemote) Close() { r.rc.Close() }

// ---- baseline: go-redis + singleflight ----

type redisBaseline struct {
	rc   *goredis.Client
	sf   singleflight.Group
	load func(context.Context, string) (string, error)
}

func newRedisBaseline(c RemoteConfig) (Cache, error) {
	return &redisBaseline{rc: NewRedisClient(c.RedisAddr), load: c.Load}, nil
}

func (b *redisBaseline) Get(ctx context.Context, key string) (string, error) {
	v, err := b.rc.Get(ctx, key).Result()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, goredis.Nil) {
		return "", err
	}
	x, err, _ := b.sf.Do(key, func() (any, error) {
		v, err := b.load(ctx, key)
		if err != nil {
			return "", err
		}
		return v, b.rc.Set(ctx, key, v, remoteTTL).Err()
	})
	s, _ := x.(string)
	return s, err
}

func (b *redisBaseline) Set(ctx context.Context, key, value string) error {
	return b.rc.Set(ctx, key, value, remoteTTL).Err()
}

func (b *redisBaseline) Close() { b.rc.Close() }

// ---- remote hits (workload 4) ----

// NewGomemcache returns a plain gomemcache client for addr.
func NewGomemcache(addr string) *memcache.Client {
	c := memcache.New(addr)
	c.MaxIdleConns = 64
	return c
}

// NewGocacheMemcache is eko/gocache's loadable cache on its memcache store
// (values are []byte there).
func NewGocacheMemcache(mc *memcache.Client, load func(context.Context, string) ([]byte, error)) *gocache.LoadableCache[[]byte] {
	store := gocachememcache.NewMemcache(mc, gocachestore.WithExpiration(remoteTTL))
	l := func(ctx context.Context, key any) ([]byte, []gocachestore.Option, error) {
		v, err := load(ctx, key.(string))
		return v, nil, err
	}
	return gocache.NewLoadable[[]byte](l, gocache.New[[]byte](store))
}

// gocacheMemcached is eko/gocache's loadable cache on memcached, whose
// values are bytes, as a Cache of strings.
type gocacheMemcached struct {
	c  *gocache.LoadableCache[[]byte]
	mc *memcache.Client
}

func newGocacheMemcachedRemote(c RemoteConfig) (Cache, error) {
	mc := NewGomemcache(c.MemcachedAddr)
	lc := NewGocacheMemcache(mc, func(ctx context.Context, key string) ([]byte, error) {
		v, err := c.Load(ctx, key)
		return []byte(v), err
	})
	return &gocacheMemcached{c: lc, mc: mc}, nil
}

func (g *gocacheMemcached) Get(ctx context.Context, key string) (string, error) {
	v, err := g.c.Get(ctx, key)
	return string(v), err
}

func (g *gocacheMemcached) Set(ctx context.Context, key, value string) error {
	return g.c.Set(ctx, key, []byte(value))
}

func (g *gocacheMemcached) Close() { g.c.Close(); g.mc.Close() }

// NewRedisCacheRemote is go-redis/cache on Redis, with or without its local
// TinyLFU.
func NewRedisCacheRemote(c RemoteConfig, local bool) (Cache, error) {
	return newRedisCacheRemote(c, local)
}

// NewGocacheRedis is eko/gocache's loadable cache on its Redis store.
func NewGocacheRedis(c RemoteConfig) (Cache, error) { return newGocacheRedis(c) }
