package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// TestDL6LockEvictedUnderMemoryPressure: the server evicts a held lock — the
// limit of an efficiency lock that the package's documentation states: with
// a maxmemory policy that evicts keys with a TTL, a second creator may run.
// A Redis with maxmemory 2mb and allkeys-lru; a region's creation (region
// first) holds a key's lock; the test floods the server with other keys
// through a plain client until the lock key is evicted (EXISTS on
// redis.LockKey, after each batch). Then the memory pressure is lifted
// (CONFIG SET maxmemory 0), so that nothing written afterwards is evicted:
// what the test pins is what follows an eviction of the lock, not which
// keys allkeys-lru picks. (There is no value key to protect during the
// flood: the key is cold, its value not written yet.) A second region takes
// the free lock, its creator runs — the second creator the documentation
// warns of — and stores "newer"; then the first creation returns "older".
//
// The first creation's lock_timeout is 2 minutes, so its lease is renewed
// only every 40s, after the test is over (its context, 30s): the renewal
// never looks at the lock, the creation's context does not end, and the
// first creation's write reaches the server with the lease still looking
// held. Only the fence — the write's script compares the lock's token —
// stands between "older" and "newer". So: the server must still hold
// "newer"; the first creation's caller gets its own value, "older" (the
// value is good, only storing it would be wrong); the first region counts
// the lost lock (Stats.LocksLost = 1) and logs it as a refused fenced
// write; its creation's context had no cause when its creator returned; and
// the creator ran twice. With the fenced write made unconditional (checked),
// "older" is stored over "newer" and the test fails at the value's check.
func TestDL6LockEvictedUnderMemoryPressure(t *testing.T) {
	srv := testserver.StartRedis(t, "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
	addr := srv.Addr()
	raw := rawClient(t, addr)
	ctx := testutil.Context(t)
	key := testutil.Unique("dl6-evicted")
	lk := redis.LockKey(key)
	firstLog := testutil.NewLogRecorderFrom(slog.LevelWarn)
	first := metricsRegion(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_timeout": "2m"}, dogpile.WithLogger(firstLog.Logger()))
	second := metricsRegion(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true})

	var creators atomic.Int32
	creating, finish := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(finish) })
	t.Cleanup(release) // a test that fails early lets the creation end
	type outcome struct {
		v     string
		err   error
		cause error // of the creation's context when its creator returned
	}
	done := make(chan outcome, 1)
	go func() {
		var cause error
		v, err := dogpile.GetOrCreate(ctx, first, key, func(ctx context.Context) (string, error) {
			creators.Add(1)
			close(creating)
			<-finish
			cause = context.Cause(ctx)
			return "older", nil
		})
		done <- outcome{v, err, cause}
	}()
	select {
	case <-creating:
	case <-ctx.Done():
		t.Fatal("the first creation did not start")
	}
	if raw.Exists(ctx, lk).Val() != 1 {
		t.Fatal("the first creation holds no lock on the server")
	}

	flooded := floodUntilGone(t, raw, lk, key)
	evicted := infoField(t, raw, "stats", "evicted_keys")
	if err := raw.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the lock was evicted after %d keys of flood (evicted_keys %s)", flooded, evicted)

	v, err := dogpile.GetOrCreate(ctx, second, key, func(context.Context) (string, error) {
		creators.Add(1)
		return "newer", nil
	})
	if err != nil || v != "newer" {
		t.Fatalf("the second region got %q, %v; want its own creator's value", v, err)
	}
	checkNewer(t, second, key)

	release()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		t.Fatal("the first creation did not return")
	}
	checkNewer(t, second, key)
	if o.err != nil || o.v != "older" {
		t.Fatalf("the first creation's caller got %q, %v; want its own creator's value", o.v, o.err)
	}
	if o.cause != nil {
		t.Fatalf("the first creation's context ended (cause %v) before its creator returned; the test meant the fence alone to stop its write", o.cause)
	}
	if n := first.Stats().LocksLost; n != 1 {
		t.Fatalf("the first region counted %d lost locks; want 1 (its fenced write refused)", n)
	}
	if l := firstLog.Lines("lock lost", lock.ErrLockLost.Error(), "fenced write"); len(l) != 1 {
		t.Fatalf("the first region logged %q about the refused write; want one warning of the lost lock", l)
	}
	if n := creators.Load(); n != 2 {
		t.Fatalf("the creator ran %d times; want 2 (the first creation, and the second after the eviction)", n)
	}
}

// floodUntilGone writes keys of 1 KiB (named after key) to the server
// through raw, in pipelines of 100, until gone has left it (evicted), and
// returns how many it wrote. It fails the test if gone outlives 200,000
// keys — a hundred times the server's 2mb.
func floodUntilGone(t *testing.T, raw *goredis.Client, gone, key string) int {
	t.Helper()
	ctx := testutil.Context(t)
	const batch, limit = 100, 200_000
	pad := strings.Repeat("x", 1<<10)
	for n := 0; n < limit; n += batch {
		p := raw.Pipeline()
		for i := range batch {
			p.Set(ctx, fmt.Sprintf("%s:flood:%d", key, n+i), pad, 0)
		}
		exists := p.Exists(ctx, gone)
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if exists.Val() == 0 {
			return n + batch
		}
	}
	t.Fatalf("%q was not evicted after %d keys of 1 KiB", gone, limit)
	return 0
}

// infoField returns field of section of the server's INFO.
func infoField(t *testing.T, raw *goredis.Client, section, field string) string {
	t.Helper()
	info, err := raw.Info(testutil.Context(t), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v
		}
	}
	t.Fatalf("no %s in INFO %s", field, section)
	return ""
}
