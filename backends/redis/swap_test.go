package redis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestSwapRefusesLockKeys: CompareAndSwap, on a standalone server and a
// Cluster, refuses a key in the distributed lock's namespace. What every
// Swapper does (nil old swaps only an absent key, an old value only itself,
// concurrent read-modify-write loops lose no update) is checked by the
// conformance suite in TestRD1Conformance.
func TestSwapRefusesLockKeys(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		addr := testserver.SharedRedis(t).Addr()
		testLockKeySwap(t, newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + addr, "redis_expiration_time": 3600}).(backend.Swapper))
	})
	t.Run("redis_cluster", func(t *testing.T) {
		c := testserver.SharedCluster(t)
		testLockKeySwap(t, newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": c.Addrs(), "distributed_lock": true}).(backend.Swapper))
	})
}

func testLockKeySwap(t *testing.T, b backend.Swapper) {
	ctx := testutil.Context(t)
	key := testutil.Unique("cas")
	if _, err := b.CompareAndSwap(ctx, redis.LockKey(key), nil, []byte("x")); !errors.Is(err, redis.ErrReservedKey) {
		t.Fatalf("CompareAndSwap of a lock key = %v; want ErrReservedKey", err)
	}
	if _, ok, err := b.Get(ctx, redis.LockKey(key)); err == nil && ok {
		t.Fatal("a refused CompareAndSwap of a lock key stored it")
	}
}

// TestLockKeySlot: every lock key is in its value key's Cluster slot (a
// fenced write's script needs both), lock keys of different value keys
// differ, and the slot tags cover every slot.
func TestLockKeySlot(t *testing.T) {
	keys := []string{"", "a", "user:42", "user:{42}:name", "{user}", "user", "a{}b", "x}y", "}", "{", "{}", "a{b", "{a}{b}", strings.Repeat("k", 300), "\x00\xfe"}
	seen := map[string]string{}
	for _, k := range keys {
		lk := redis.LockKey(k)
		if !strings.HasPrefix(lk, redis.DefaultLockPrefix) {
			t.Errorf("LockKey(%q) = %q lacks the prefix", k, lk)
		}
		if redis.Slot(lk) != redis.Slot(k) {
			t.Errorf("LockKey(%q) = %q is in slot %d, the key in %d", k, lk, redis.Slot(lk), redis.Slot(k))
		}
		if other, ok := seen[lk]; ok {
			t.Errorf("LockKey(%q) = LockKey(%q) = %q", k, other, lk)
		}
		seen[lk] = k
	}
	// A "}" in an untagged key takes a slot tag: try one key per slot.
	bySlot := map[uint16]bool{}
	for i := 0; len(bySlot) < 16384 && i < 1_000_000; i++ {
		k := "}" + strconv.Itoa(i)
		if s := redis.Slot(k); !bySlot[s] {
			bySlot[s] = true
			if redis.Slot(redis.LockKey(k)) != s {
				t.Fatalf("LockKey(%q) is in slot %d, the key in %d", k, redis.Slot(redis.LockKey(k)), s)
			}
		}
	}
	if len(bySlot) != 16384 {
		t.Fatalf("only %d slots tried", len(bySlot))
	}
}

// TestLockPrefix: lock_prefix begins every lock key; value keys that begin
// with it are refused, and the default prefix becomes an ordinary key.
func TestLockPrefix(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_prefix": "_lock"}).(*redis.Backend)
	ctx := testutil.Context(t)
	key := testutil.Unique("prefix")
	m := b.NewMutex(key)
	if m.Key() != "_lock{"+key+"}"+key || m.Key() != b.LockKey(key) || b.LockPrefix() != "_lock" {
		t.Fatalf("lock key %q", m.Key())
	}
	testutil.MustLock(t, m)
	if raw.Exists(ctx, m.Key()).Val() != 1 {
		t.Fatal("the lock is not under its prefixed key")
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "_lockfoo", []byte("x")); !errors.Is(err, redis.ErrReservedKey) {
		t.Fatalf("Set of a key with the lock prefix = %v; want ErrReservedKey", err)
	}
	if err := b.Set(ctx, redis.DefaultLockPrefix+key, []byte("x")); err != nil {
		t.Fatalf("with another lock prefix, the default one is a value key: %v", err)
	}
	r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_prefix": "_lock"})
	if v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) { return "v", nil }); err != nil || v != "v" {
		t.Fatalf("GetOrCreate under lock_prefix = %q, %v", v, err)
	}
}
