package redis_test

import (
	"context"
	"slices"
	"strings"
	"testing"

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
// unreachable server or Cluster yields one error.
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
				if err == nil || !strings.Contains(err.Error(), "scan") {
					t.Errorf("listing an unreachable server: %v", err)
				}
			}
			if n != 1 {
				t.Errorf("listing an unreachable %T yielded %d times; want one error", b, n)
			}
		}
		if _, err := b.(backend.StatsReporter).StoreStats(testutil.Context(t)); err != nil {
			t.Errorf("stats of an unreachable server: %v (want a report with Err)", err)
		}
	})
}
