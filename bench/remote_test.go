package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/startgate"
	"github.com/dogpile-go/dogpile/internal/testutil"
	goredis "github.com/redis/go-redis/v9"
)

// workerWait bounds each wait for a worker of the distributed stampede.
const workerWait = time.Minute

const (
	distProcesses  = 4
	distGoroutines = 50
	multiKeys      = 100
)

var (
	redisOnce, memcachedOnce sync.Once
	redisSrv, memcachedSrv   *Server
	redisErr, memcachedErr   error
)

func TestMain(m *testing.M) {
	testutil.Main(m, map[string]func() error{
		// A worker process of the distributed stampede: see worker.
		"worker": func() error { return worker(os.Getenv("BENCH_WORKER")) },
	}, func() {
		redisSrv.Stop()
		memcachedSrv.Stop()
	})
}

// redisAddr starts redis-server once per test binary, on first use.
func redisAddr(b *testing.B) string {
	redisOnce.Do(func() { redisSrv, redisErr = StartRedis() })
	if redisErr != nil {
		b.Fatal(redisErr)
	}
	return redisSrv.Addr
}

func memcachedAddr(b *testing.B) string {
	memcachedOnce.Do(func() { memcachedSrv, memcachedErr = StartMemcached() })
	if memcachedErr != nil {
		b.Fatal(memcachedErr)
	}
	return memcachedSrv.Addr
}

func load(_ context.Context, key string) (string, error) { return "value:" + key, nil }

// BenchmarkRedisHit is workload 4a: one key, present in Redis, read
// serially (one round trip each on loopback). Rows that keep a local copy
// (sturdyc, go-redis/cache's TinyLFU) would be measuring memory, not Redis,
// and are left out.
func BenchmarkRedisHit(b *testing.B) {
	ctx := context.Background()
	addr := redisAddr(b)
	cfg := RemoteConfig{Config: Config{Load: load, TTL: time.Hour}, RedisAddr: addr}
	rc := NewRedisClient(addr)
	defer rc.Close()
	// eko/gocache's loadable cache stores in the background and serves from
	// memory meanwhile: every row waits until the value is in Redis, so that
	// it measures a Redis hit.
	hit := func(b *testing.B, get func(key string) (string, error)) {
		benchHit(b, "Redis", get, func(key string) bool { return rc.Exists(ctx, key).Val() == 1 })
	}
	b.Run("lib=dogpile", func(b *testing.B) {
		r, err := NewDogpileRedisRegion(addr, time.Hour, true, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		create := func(key string) func(context.Context) (string, error) {
			return func(ctx context.Context) (string, error) { return load(ctx, key) }
		}
		hit(b, func(key string) (string, error) { return dogpile.GetOrCreate(ctx, r, key, create(key)) })
	})
	b.Run("lib=go-redis", func(b *testing.B) {
		rc := NewRedisClient(addr)
		defer rc.Close()
		hit(b, func(key string) (string, error) {
			v, err := rc.Get(ctx, key).Result()
			if errors.Is(err, goredis.Nil) {
				v, _ = load(ctx, key)
				err = rc.Set(ctx, key, v, remoteTTL).Err()
			}
			return v, err
		})
	})
	b.Run("lib=go-redis-cache", func(b *testing.B) {
		c, err := NewRedisCacheRemote(cfg, false)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		hit(b, func(key string) (string, error) { return c.Get(ctx, key) })
	})
	b.Run("lib=gocache", func(b *testing.B) {
		c, err := NewGocacheRedis(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		hit(b, func(key string) (string, error) {
			v, err := c.Get(ctx, key)
			if err == nil && v == "" {
				err = errors.New("empty")
			}
			return v, err
		})
	})
}

// BenchmarkRedisMulti100 is workload 4b: 100 keys, all present, in one
// call. Only dogpile (GetOrCreateMulti: one MGET) and plain go-redis (MGET)
// have a multi-key read of a shared store; see RESULTS.md for the others.
func BenchmarkRedisMulti100(b *testing.B) {
	ctx := context.Background()
	addr := redisAddr(b)
	keys := multiWorkloadKeys()
	b.Run("lib=dogpile", func(b *testing.B) {
		dogpileMulti(b, keys, func() (*dogpile.Region, error) { return NewDogpileRedisRegion(addr, time.Hour, true, 0) })
	})
	b.Run("lib=go-redis", func(b *testing.B) {
		rc := NewRedisClient(addr)
		defer rc.Close()
		p := rc.Pipeline()
		for _, k := range keys {
			p.Set(ctx, "plain:"+k, "value:"+k, remoteTTL)
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		plain := make([]string, len(keys))
		for i, k := range keys {
			plain[i] = "plain:" + k
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			vs, err := rc.MGet(ctx, plain...).Result()
			if err != nil || len(vs) != multiKeys || vs[multiKeys-1] == nil {
				b.Fatal(len(vs), err)
			}
		}
	})
}

// multiWorkloadKeys are the keys of the 100-key multi-gets (4b, 4d).
func multiWorkloadKeys() []string {
	keys := make([]string, multiKeys)
	for i := range keys {
		keys[i] = "multi:" + strconv.Itoa(i)
	}
	return keys
}

// dogpileMulti is dogpile's row of a 100-key multi-get: on the region open
// makes (and dogpileMulti closes), one GetOrCreateMulti of keys stores them,
// then b's loop reads them all.
func dogpileMulti(b *testing.B, keys []string, open func() (*dogpile.Region, error)) {
	ctx := context.Background()
	r, err := open()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	createMulti := func(_ context.Context, ks []string) ([]string, error) {
		out := make([]string, len(ks))
		for i, k := range ks {
			out[i] = "value:" + k
		}
		return out, nil
	}
	if _, err := dogpile.GetOrCreateMulti(ctx, r, keys, createMulti); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, createMulti)
		if err != nil || len(vs) != len(keys) || vs[len(keys)-1] == "" {
			b.Fatal(len(vs), err)
		}
	}
}

// BenchmarkMemcachedHit is workload 4c: one key, present in memcached, read
// serially.
func BenchmarkMemcachedHit(b *testing.B) {
	ctx := context.Background()
	addr := memcachedAddr(b)
	raw := NewGomemcache(addr)
	defer raw.Close()
	// eko/gocache's loadable cache stores in the background: every row
	// waits for memcached to have the value.
	hit := func(b *testing.B, get func(key string) (string, error)) {
		benchHit(b, "memcached", get, func(key string) bool { _, err := raw.Get(key); return err == nil })
	}
	b.Run("lib=dogpile", func(b *testing.B) {
		r, err := NewDogpileMemcachedRegion(addr, time.Hour, false)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		hit(b, func(key string) (string, error) {
			return dogpile.GetOrCreate(ctx, r, key, func(ctx context.Context) (string, error) { return load(ctx, key) })
		})
	})
	b.Run("lib=gocache", func(b *testing.B) {
		mc := NewGomemcache(addr)
		defer mc.Close()
		c := NewGocacheMemcache(mc, func(ctx context.Context, key string) ([]byte, error) {
			v, err := load(ctx, key)
			return []byte(v), err
		})
		defer c.Close()
		hit(b, func(key string) (string, error) {
			v, err := c.Get(ctx, key)
			return string(v), err
		})
	})
	b.Run("lib=gomemcache", func(b *testing.B) {
		mc := NewGomemcache(addr)
		defer mc.Close()
		hit(b, func(key string) (string, error) {
			it, err := mc.Get(key)
			if errors.Is(err, memcache.ErrCacheMiss) {
				v, _ := load(ctx, key)
				return v, mc.Set(&memcache.Item{Key: key, Value: []byte(v)})
			}
			if err != nil {
				return "", err
			}
			return string(it.Value), nil
		})
	})
}

// BenchmarkMemcachedMulti100 is workload 4d: 100 keys, all present in
// memcached, in one call: dogpile's GetOrCreateMulti (one get-multi round
// trip) against gomemcache's GetMulti of the same keys.
func BenchmarkMemcachedMulti100(b *testing.B) {
	addr := memcachedAddr(b)
	keys := multiWorkloadKeys()
	b.Run("lib=dogpile", func(b *testing.B) {
		dogpileMulti(b, keys, func() (*dogpile.Region, error) { return NewDogpileMemcachedRegion(addr, time.Hour, false) })
	})
	b.Run("lib=gomemcache", func(b *testing.B) {
		mc := NewGomemcache(addr)
		defer mc.Close()
		plain := make([]string, len(keys))
		for i, k := range keys {
			plain[i] = "plain:" + k
			if err := mc.Set(&memcache.Item{Key: plain[i], Value: []byte("value:" + k)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			items, err := mc.GetMulti(plain)
			if err != nil || len(items) != multiKeys {
				b.Fatal(len(items), err)
			}
		}
	})
}

// benchHit measures get(key) on a key of its own, present in the store
// (the first call stores it; stored says when the store has it): the
// read of a hit.
func benchHit(b *testing.B, store string, get func(key string) (string, error), stored func(key string) bool) {
	key := "hit:" + b.Name()
	if _, err := get(key); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !stored(key); {
		if time.Now().After(deadline) {
			b.Fatalf("%s never reached %s", key, store)
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v, err := get(key); err != nil || v == "" {
			b.Fatalf("%q, %v", v, err)
		}
	}
}

// BenchmarkDistributedStampede is workload 5: 4 processes × 50 goroutines
// ask at once for a key nobody has, in one shared store (Redis, Memcached,
// or one cache file of the file backend); the creator (50ms) counts its
// calls with INCR on the Redis server, whatever the store, so every
// process's calls are counted. The processes are this test binary,
// re-executed as workers.
func BenchmarkDistributedStampede(b *testing.B) {
	st := stores{redis: redisAddr(b), memcached: memcachedAddr(b)}
	for _, lib := range DistributedLibs {
		b.Run("lib="+lib.Name, func(b *testing.B) {
			st := st
			if lib.Store == "file" {
				st.file = filepath.Join(b.TempDir(), "cache.db")
				// Created once here, so that the workers open a cache that
				// is there rather than race to make it.
				r, err := NewDogpileFileRegion(st.file, time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
			distributed(b, lib, st)
		})
	}
}

// stores are the shared stores of the distributed stampede, as the workers
// get them in their environment.
type stores struct{ redis, memcached, file string }

func (s stores) env() []string {
	return []string{"BENCH_REDIS_ADDR=" + s.redis, "BENCH_MEMCACHED_ADDR=" + s.memcached, "BENCH_FILE=" + s.file}
}

func storesFromEnv() stores {
	return stores{redis: os.Getenv("BENCH_REDIS_ADDR"), memcached: os.Getenv("BENCH_MEMCACHED_ADDR"), file: os.Getenv("BENCH_FILE")}
}

type workerResult struct {
	LatencyUS []float64 `json:"latency_us"`
	Err       string    `json:"err,omitempty"`
}

func distributed(b *testing.B, lib RemoteLib, st stores) {
	ctx := context.Background()
	rc := NewRedisClient(st.redis)
	defer rc.Close()
	var calls int64
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		key := fmt.Sprintf("dist:%s:%d:%d:%d", lib.Name, os.Getpid(), time.Now().UnixNano(), i)
		procs := make([]*testutil.Child, distProcesses)
		for p := range procs {
			procs[p] = testutil.StartChild(b, "worker", append(st.env(), "BENCH_WORKER="+lib.Name, "BENCH_KEY="+key)...)
		}
		for _, p := range procs {
			p.Expect("ready", workerWait)
		}
		b.StartTimer()
		for _, p := range procs {
			p.Send("go")
		}
		for _, p := range procs {
			line := p.Next(workerWait)
			var res workerResult
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				b.Fatalf("worker: %q: %v", line, err)
			}
			if res.Err != "" {
				b.Fatalf("worker: %s", res.Err)
			}
			for _, us := range res.LatencyUS {
				lat = append(lat, time.Duration(us*float64(time.Microsecond)))
			}
		}
		b.StopTimer()
		for _, p := range procs {
			if err := p.Wait(workerWait); err != nil {
				b.Fatalf("worker: %v", err)
			}
		}
		n, err := rc.Get(ctx, key+":calls").Int64()
		if err != nil {
			b.Fatalf("creator calls: %v", err)
		}
		calls += n
		b.StartTimer()
	}
	reportStampede(b, "distributed", lib.Name, calls, lat)
}

// worker is one process of the distributed stampede: it builds lib's cache
// on the stores in its environment, says "ready", waits for "go" on stdin, runs
// distGoroutines concurrent Gets of $BENCH_KEY and prints their latencies as
// one JSON line.
func worker(libName string) error {
	ctx := context.Background()
	var lib RemoteLib
	for _, l := range DistributedLibs {
		if l.Name == libName {
			lib = l
		}
	}
	if lib.New == nil {
		return fmt.Errorf("no library %q", libName)
	}
	st, key := storesFromEnv(), os.Getenv("BENCH_KEY")
	rc := NewRedisClient(st.redis)
	defer rc.Close()
	creator := func(ctx context.Context, k string) (string, error) {
		if err := rc.Incr(ctx, k+":calls").Err(); err != nil {
			return "", err
		}
		time.Sleep(creatorTime)
		return "value:" + k, nil
	}
	c, err := lib.New(RemoteConfig{Config: Config{Load: creator, TTL: time.Hour}, RedisAddr: st.redis, MemcachedAddr: st.memcached, File: st.file})
	if err != nil {
		return err
	}
	defer c.Close()
	// Warm up on another key, with as many goroutines: connection pools
	// are filled and code paths are hot before the start, so that the run
	// measures the stampede, not dialling.
	var warm sync.WaitGroup
	warmErr := make(chan error, distGoroutines)
	for range distGoroutines {
		warm.Go(func() {
			if _, err := c.Get(ctx, fmt.Sprintf("%s:warm:%d", key, os.Getpid())); err != nil {
				warmErr <- err
			}
		})
	}
	warm.Wait()
	close(warmErr)
	if err := <-warmErr; err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	res := workerResult{LatencyUS: make([]float64, distGoroutines)}
	var mu sync.Mutex
	gate := startgate.New(distGoroutines, func(g int) {
		t0 := time.Now()
		v, err := c.Get(ctx, key)
		res.LatencyUS[g] = Micros(time.Since(t0))
		if err != nil || v == "" {
			mu.Lock()
			res.Err = fmt.Sprintf("%s: Get: %q, %v", libName, v, err)
			mu.Unlock()
		}
	})
	fmt.Println("ready")
	if line, err := testutil.ReadLine(); err != nil || line != "go" {
		return fmt.Errorf("want go, got %q, %v", line, err)
	}
	gate.Open()
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}
