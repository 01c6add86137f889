package redis_test

import (
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/dogpiletest"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// newFromArgs makes a backend by registered name, as Configure does, and
// closes it at the end of the test.
func newFromArgs(t *testing.T, name string, args dogpile.Args) dogpile.Backend {
	t.Helper()
	b, err := dogpile.NewBackend(name, args)
	if err != nil {
		t.Fatalf("NewBackend(%q): %v", name, err)
	}
	t.Cleanup(func() { b.(interface{ Close() error }).Close() })
	return b
}

// hasMutex reports whether b hands out distributed mutexes: a *Backend
// always implements backend.Locking, and returns nil mutexes without
// distributed_lock.
func hasMutex(b dogpile.Backend) bool {
	return b.(*redis.Backend).Mutex("k") != nil
}

// TestRD1Conformance runs the exported conformance suite against the three
// variants on real servers, with and without the distributed lock.
func TestRD1Conformance(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		addr := testserver.SharedRedis(t).Addr()
		dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
			b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + addr})
			if hasMutex(b) {
				t.Fatal("redis without distributed_lock has a distributed mutex; Python dogpile.cache's default is false")
			}
			return b
		})
	})
	t.Run("redis/distributed_lock", func(t *testing.T) {
		addr := testserver.SharedRedis(t).Addr()
		dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
			b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_sleep": 0.01})
			if !hasMutex(b) {
				t.Fatal("distributed_lock: true gave a backend without a distributed mutex")
			}
			return b
		}, dogpiletest.WithShortLease(func(t *testing.T) dogpile.Backend {
			return newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_sleep": 0.01, "lock_timeout": "300ms"})
		}))
	})
	t.Run("redis_sentinel", func(t *testing.T) {
		s := testserver.StartSentinel(t)
		dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
			// Python dogpile.cache's default for Sentinel is distributed_lock: true.
			b := newFromArgs(t, "redis_sentinel", dogpile.Args{"sentinels": s.SentinelAddrs(), "service_name": s.MasterName, "lock_sleep": 0.01})
			if !hasMutex(b) {
				t.Fatal("redis_sentinel has no distributed mutex by default; Python dogpile.cache's default is true")
			}
			return b
		})
	})
	t.Run("redis_cluster", func(t *testing.T) {
		c := testserver.SharedCluster(t)
		dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
			return newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": c.Addrs(), "distributed_lock": true, "lock_sleep": 0.01})
		}, dogpiletest.WithShortLease(func(t *testing.T) dogpile.Backend {
			return newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": c.Addrs(), "distributed_lock": true, "lock_sleep": 0.01, "lock_timeout": "300ms"})
		}))
	})
}
