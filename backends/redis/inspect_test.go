package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// listKeys collects a listing, failing the test on an error.
func listKeys(t *testing.T, b dogpile.Backend, opts backend.ListOptions) []string {
	t.Helper()
	l, ok := b.(backend.Lister)
	if !ok {
		t.Fatalf("%T is not a backend.Lister", b)
	}
	var keys []string
	for k, err := range l.ListKeys(testutil.Context(t), opts) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// The redis backends list their keys with SCAN — on a Cluster, on every
// master — by prefix and up to a limit, without the lock keys unless asked,
// and report INFO's numbers typed, a Cluster's by master; listing an
// unreachable server or Cluster yields one error, ErrUnreachable, and the
// stats of an unreachable server are a report with ErrUnreachable and
// unknown numbers, those of an unreachable Cluster ErrUnreachable.
func TestListKeysAndStoreStats(t *testing.T) {
	for _, c := range []struct {
		name string
		args func(t *testing.T) dogpile.Args
	}{
		{"redis", func(t *testing.T) dogpile.Args {
			return dogpile.Args{"url": "redis://" + testserver.StartRedis(t).Addr(), "distributed_lock": true}
		}},
		{"redis_cluster", func(t *testing.T) dogpile.Args {
			return dogpile.Args{"startup_nodes": testserver.SharedCluster(t).Addrs(), "distributed_lock": true}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := testutil.Context(t)
			b := newFromArgs(t, c.name, c.args(t))
			ns := testutil.Unique("list") + ":"
			var want []string
			for _, k := range []string{"a", "b", "c", "d", "e", "f", "g*", "h[1]"} { // many slots; glob characters
				if err := b.Set(ctx, ns+k, []byte("v")); err != nil {
					t.Fatal(err)
				}
				want = append(want, ns+k)
			}
			if err := b.Set(ctx, ns[:len(ns)-1]+"X:other", []byte("v")); err != nil {
				t.Fatal(err)
			}
			mu := b.(backend.Locking).Mutex(ns + "a")
			if err := mu.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			defer mu.Unlock(context.Background())

			if got := listKeys(t, b, backend.ListOptions{Prefix: ns}); !slices.Equal(got, want) {
				t.Errorf("keys with prefix %q:\n got %q\nwant %q", ns, got, want)
			}
			if got := listKeys(t, b, backend.ListOptions{Prefix: ns + "g*"}); !slices.Equal(got, []string{ns + "g*"}) {
				t.Errorf("a prefix with a glob character is literal: %q", got)
			}
			if got := listKeys(t, b, backend.ListOptions{Prefix: ns + "h[1]"}); !slices.Equal(got, []string{ns + "h[1]"}) {
				t.Errorf("a prefix with a glob class is literal: %q", got)
			}
			if got := listKeys(t, b, backend.ListOptions{Prefix: ns, Limit: 3}); len(got) != 3 {
				t.Errorf("limit 3: %q", got)
			}
			if lock := listKeys(t, b, backend.ListOptions{Prefix: redis.DefaultLockPrefix, Own: true}); !slices.Contains(lock, redis.LockKey(ns+"a")) {
				t.Errorf("the held lock %q is not among the lock keys listed with Own: %q", redis.LockKey(ns+"a"), lock)
			}
			if got := listKeys(t, b, backend.ListOptions{Prefix: redis.DefaultLockPrefix}); len(got) != 0 {
				t.Errorf("lock keys without Own: %q", got)
			}

			st, err := b.(backend.StatsReporter).StoreStats(ctx)
			if err != nil || len(st) == 0 {
				t.Fatal(st, err)
			}
			if c.name == "redis_cluster" && len(st) != len(testserver.SharedCluster(t).Addrs()) {
				t.Errorf("%d reports for a cluster of %d masters", len(st), len(testserver.SharedCluster(t).Addrs()))
			}
			var entries int64
			for _, s := range st {
				if c.name == "redis_cluster" && !strings.HasPrefix(s.Source, "redis cluster master 127.0.0.1:") {
					t.Errorf("a cluster's report comes from %q; want the master's address", s.Source)
				}
				if s.Err != nil || !strings.HasPrefix(s.Source, "redis") || s.Bytes <= 0 || s.Hits < 0 || s.Misses < 0 || s.Evictions < 0 {
					t.Errorf("report %+v", s)
				}
				entries += s.Entries
				for _, e := range s.Extra {
					switch v := e.Value.(type) {
					case int64:
					case string:
						if e.Name == "maxmemory" || e.Name == "uptime_in_seconds" {
							t.Errorf("%s is a string %q, not a number", e.Name, v)
						}
					default:
						t.Errorf("%s is a %T", e.Name, v)
					}
				}
			}
			if entries < int64(len(want)) {
				t.Errorf("%d entries in all, fewer than the %d keys written", entries, len(want))
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.2})
		cluster := newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": "127.0.0.1:1", "socket_connect_timeout": 0.2})
		for _, b := range []dogpile.Backend{b, cluster} {
			n := 0
			for _, err := range b.(backend.Lister).ListKeys(testutil.Context(t), backend.ListOptions{}) {
				n++
				if !errors.Is(err, redis.ErrUnreachable) || !strings.Contains(err.Error(), "scan") {
					t.Errorf("listing an unreachable server: %v; want ErrUnreachable", err)
				}
			}
			if n != 1 {
				t.Errorf("listing an unreachable %T yielded %d times; want one error", b, n)
			}
		}
		st, err := b.(backend.StatsReporter).StoreStats(testutil.Context(t))
		if err != nil {
			t.Errorf("stats of an unreachable server: %v (want a report with Err)", err)
		}
		if len(st) != 1 || !errors.Is(st[0].Err, redis.ErrUnreachable) || st[0].Entries != backend.Unknown || st[0].Source != "redis at 127.0.0.1:1" {
			t.Errorf("stats of an unreachable server: %+v; want one report from redis at 127.0.0.1:1, its Err ErrUnreachable, its entries Unknown", st)
		}
		if _, err := cluster.(backend.StatsReporter).StoreStats(testutil.Context(t)); !errors.Is(err, redis.ErrUnreachable) {
			t.Errorf("stats of an unreachable cluster: %v; want ErrUnreachable", err)
		}
	})
}

// TestStoreStatsNumbers: a server's report is its own numbers — the keys of
// the database (DBSIZE), the server's used_memory, its keyspace hits and
// misses and its evicted keys — with INFO's other fields in the documented
// order, from the source "redis at" the server's address.
func TestStoreStatsNumbers(t *testing.T) {
	srv := testserver.StartRedis(t)
	ctx := testutil.Context(t)
	raw := rawClient(t, srv.Addr())
	// Keys evicted: all there are, under a maxmemory of a byte.
	for i := range 4 {
		if err := raw.Set(ctx, fmt.Sprintf("evicted-%d", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "allkeys-random"}, {"maxmemory", "1"}, {"maxmemory", "0"}} {
		if err := raw.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n := raw.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("%d keys left after a maxmemory of one byte (the test's set-up)", n)
	}
	b := newTestBackend(t, srv.Addr(), redis.Options{})
	for _, k := range []string{"a", "b", "c"} {
		if err := b.Set(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "x", "y", "z"} { // two hits, three misses
		if _, _, err := b.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.StoreStats(ctx)
	if err != nil || len(st) != 1 {
		t.Fatalf("StoreStats = %+v, %v; want one report", st, err)
	}
	s := st[0]
	info := raw.InfoMap(ctx, "memory", "stats").Val()
	evicted, _ := strconv.ParseInt(info["Stats"]["evicted_keys"], 10, 64)
	used, _ := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	if s.Err != nil || s.Source != "redis at "+srv.Addr() || s.Entries != 3 || s.Hits != 2 || s.Misses != 3 || evicted == 0 || s.Evictions != evicted {
		t.Errorf("report %+v; want from redis at %s: 3 entries, 2 hits, 3 misses, %d evictions", s, srv.Addr(), evicted)
	}
	if d := s.Bytes - used; d < -1<<16 || d > 1<<16 {
		t.Errorf("Bytes %d; the server's used_memory is %d", s.Bytes, used)
	}
	var names []string
	for _, e := range s.Extra {
		names = append(names, e.Name)
	}
	if want := []string{"redis_version", "used_memory_human", "maxmemory", "maxmemory_policy", "expired_keys", "connected_clients", "uptime_in_seconds"}; !slices.Equal(names, want) {
		t.Errorf("the report's other fields %q; want %q", names, want)
	}
}

// TestListKeysClusterMastersDown: when a Cluster's masters stop answering
// after the client learned them, listing yields one error, ErrUnreachable,
// and ends there.
func TestListKeysClusterMastersDown(t *testing.T) {
	c := testserver.StartCluster(t)
	b := newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": c.Addrs(), "socket_connect_timeout": 0.2})
	ctx := testutil.Context(t)
	if err := b.Set(ctx, testutil.Unique("down"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	listKeys(t, b, backend.ListOptions{}) // the client learns the masters
	for _, n := range c.Nodes {
		n.Kill()
	}
	n := 0
	for _, err := range b.(backend.Lister).ListKeys(ctx, backend.ListOptions{}) {
		n++
		if !errors.Is(err, redis.ErrUnreachable) || !strings.Contains(err.Error(), "scan") {
			t.Errorf("listing a cluster whose masters are down: %v; want ErrUnreachable", err)
		}
	}
	if n != 1 {
		t.Errorf("listing a cluster whose masters are down yielded %d times; want one error", n)
	}
}

// TestStoreStatsDBSizeRefused: a server that answers INFO but refuses
// DBSIZE (an ACL without it) gives a report with that error and its entries
// Unknown, not 0.
func TestStoreStatsDBSizeRefused(t *testing.T) {
	srv := testserver.StartRedis(t)
	if out := testserver.RedisCLI(t, srv.Addr(), "ACL", "SETUSER", "nodbsize", "on", ">pw", "~*", "&*", "+@all", "-dbsize"); out != "OK" {
		t.Fatalf("ACL SETUSER: %s", out)
	}
	b := newClientBackend(t, &goredis.Options{Addr: srv.Addr(), Username: "nodbsize", Password: "pw"})
	st, err := b.StoreStats(testutil.Context(t))
	if err != nil || len(st) != 1 {
		t.Fatalf("StoreStats = %+v, %v; want one report", st, err)
	}
	if s := st[0]; s.Err == nil || !strings.Contains(s.Err.Error(), "NOPERM") || s.Entries != backend.Unknown {
		t.Fatalf("report %+v; want Redis's NOPERM and the entries Unknown", s)
	}
}
