package redis_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// killAfterGet is a client hook that kills a server right after it answered
// the GET of key: the value has been read, and the lock attempt that
// follows finds the server dead.
type killAfterGet struct {
	key  string
	kill func()
	once sync.Once
}

func (h *killAfterGet) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *killAfterGet) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if a := cmd.Args(); len(a) == 2 && strings.EqualFold(cmd.Name(), "get") && a[1] == h.key {
			h.once.Do(h.kill)
		}
		return err
	}
}

func (h *killAfterGet) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestDL8LockErrorFailsOpen, case 10: the store dies between the read of a
// key and its lock attempt — a standalone server killed, or the Cluster node
// of the key's (and its lock's) slot. With WithFailOpen the caller gets the
// creator's value; a caller holding a stale value gets that; the failure is
// counted as a backend error either way.
func TestDL8LockErrorFailsOpen(t *testing.T) {
	type setup struct {
		name  string
		start func(t *testing.T, key string) (args dogpile.Args, backend string, kill func())
	}
	for _, s := range []setup{
		{"standalone", func(t *testing.T, key string) (dogpile.Args, string, func()) {
			srv := testserver.StartRedis(t)
			return dogpile.Args{"url": "redis://" + srv.Addr(), "socket_connect_timeout": 1}, "redis", srv.Kill
		}},
		{"cluster", func(t *testing.T, key string) (dogpile.Args, string, func()) {
			c := testserver.StartCluster(t)
			owner := clusterOwner(t, c, key)
			return dogpile.Args{"startup_nodes": c.Addrs(), "socket_connect_timeout": 1}, "redis_cluster", owner.Kill
		}},
	} {
		for _, stale := range []bool{false, true} {
			name := s.name + "/cold"
			if stale {
				name = s.name + "/stale"
			}
			t.Run(name, func(t *testing.T) {
				key := testutil.Unique("dl8")
				args, name, kill := s.start(t, key)
				args["distributed_lock"] = true
				r := metricsRegion(t, name, args, dogpile.WithFailOpen(time.Minute))
				ctx := testutil.Context(t)
				if stale {
					if err := r.Set(ctx, key, "stale"); err != nil {
						t.Fatal(err)
					}
					if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
						t.Fatal(err)
					}
				}
				r.Backend().(*redis.Backend).Client().AddHook(&killAfterGet{key: key, kill: kill})
				v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) { return "created", nil })
				want := "created"
				if stale {
					want = "stale"
				}
				if err != nil || v != want {
					t.Fatalf("GetOrCreate with the lock's server dead = %q, %v; want %q", v, err, want)
				}
				if st := r.Stats(); st.BackendErrors < 1 {
					t.Fatalf("BackendErrors = %d; want the lock's failure counted", st.BackendErrors)
				}
			})
		}
	}
}

// clusterOwner returns the node that serves key's slot.
func clusterOwner(t *testing.T, c *testserver.Cluster, key string) *testserver.Process {
	t.Helper()
	slot := redis.Slot(key)
	v, err := testserver.Do(testutil.Context(t), c.Nodes[0].Addr(), "CLUSTER", "SLOTS")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range v.([]any) {
		rng := r.([]any)
		lo, hi := rng[0].(int64), rng[1].(int64)
		if int64(slot) < lo || int64(slot) > hi {
			continue
		}
		port := rng[2].([]any)[1].(int64)
		for _, n := range c.Nodes {
			if int64(n.Port) == port {
				return n
			}
		}
	}
	t.Fatalf("no node serves slot %d", slot)
	return nil
}
