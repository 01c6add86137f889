package redis_test

import (
	"context"
	"fmt"
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

// pubsubClients counts the server's pub/sub connections.
func pubsubClients(t *testing.T, addr string) int {
	t.Helper()
	out := testserver.RedisCLI(t, addr, "CLIENT", "LIST", "TYPE", "pubsub")
	if out == "" {
		return 0
	}
	return len(strings.Split(out, "\n"))
}

func numChannels(ctx context.Context, addr string) (int, error) {
	v, err := testserver.Do(ctx, addr, "PUBSUB", "CHANNELS")
	if err != nil {
		return 0, err
	}
	l, _ := v.([]any)
	return len(l), nil
}

// TestDL7OneSubscriptionPerBackend: 200 goroutines of one backend wait for
// 200 held locks on one subscription connection, and every one of them is
// woken by its lock's release (lock_sleep is a minute: polling would not
// get them out in time). When they are done, the channels are unsubscribed.
func TestDL7OneSubscriptionPerBackend(t *testing.T) {
	srv := testserver.StartRedis(t)
	holders := newTestBackend(t, srv.Addr(), redis.Options{})
	waiters := newTestBackend(t, srv.Addr(), redis.Options{LockSleep: time.Minute})
	ctx := testutil.Context(t)
	const n = 200
	held := make([]*redis.Mutex, n)
	for i := range held {
		held[i] = holders.NewMutex(fmt.Sprintf("key-%d", i))
		if ok, err := held[i].TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := waiters.NewMutex(fmt.Sprintf("key-%d", i))
			if err := m.Lock(ctx); err != nil {
				errs <- err
				return
			}
			errs <- m.Unlock(ctx)
		}()
	}
	if err := testserver.WaitFor(10*time.Second, "200 subscribed channels", func(ctx context.Context) error {
		if c, err := numChannels(ctx, srv.Addr()); err != nil || c != n {
			return fmt.Errorf("%w: %d channels (%v)", testserver.ErrNotYet, c, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if c := pubsubClients(t, srv.Addr()); c != 1 {
		t.Fatalf("%d waiters use %d pub/sub connections; want one", n, c)
	}
	start := time.Now()
	for _, m := range held {
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the waiters took %v after the releases; lock_sleep is a minute, so some were not woken", d)
	}
	if err := testserver.WaitFor(10*time.Second, "the channels unsubscribed", func(ctx context.Context) error {
		if c, err := numChannels(ctx, srv.Addr()); err != nil || c != 0 {
			return fmt.Errorf("%w: %d channels (%v)", testserver.ErrNotYet, c, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDL7LostSubscriptionWakesWaiters: the server restarts (without
// persistence: the held lock is gone) while a waiter waits with lock_sleep
// a minute. The waiter hears no release, but the subscription, made again on
// the new connection, wakes it, and it takes the lock at once.
func TestDL7LostSubscriptionWakesWaiters(t *testing.T) {
	srv := testserver.StartRedis(t)
	holder := newTestBackend(t, srv.Addr(), redis.Options{})
	waiter := newTestBackend(t, srv.Addr(), redis.Options{LockSleep: time.Minute})
	ctx := testutil.Context(t)
	key := testutil.Unique("restart")
	if ok, err := holder.NewMutex(key).TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	done := make(chan error, 1)
	go func() { done <- waiter.NewMutex(key).Lock(ctx) }()
	if err := testserver.WaitFor(10*time.Second, "the waiter's subscription", func(ctx context.Context) error {
		if c, err := numChannels(ctx, srv.Addr()); err != nil || c != 1 {
			return testserver.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	srv.Restart(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiter was not woken when its subscription came back (lock_sleep is a minute)")
	}
}

// TestDL7WakeInCluster: in a Cluster, a release published on the lock's
// node reaches the waiter's one subscription, wherever that is: 20 waiters
// on keys spread over the three masters are woken (lock_sleep is a minute).
func TestDL7WakeInCluster(t *testing.T) {
	c := testserver.SharedCluster(t)
	args := dogpile.Args{"startup_nodes": c.Addrs(), "distributed_lock": true}
	holders := newFromArgs(t, "redis_cluster", args).(*redis.Backend)
	args["lock_sleep"] = 60
	waiters := newFromArgs(t, "redis_cluster", args).(*redis.Backend)
	ctx := testutil.Context(t)
	const n = 20
	held := make([]*redis.Mutex, n)
	keys := make([]string, n)
	slots := map[uint16]bool{}
	for i := range held {
		keys[i] = testutil.Unique(fmt.Sprintf("wake-%d", i))
		slots[redis.Slot(keys[i])] = true
		held[i] = holders.NewMutex(keys[i])
		if ok, err := held[i].TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
	}
	errs := make(chan error, n)
	for _, key := range keys {
		go func() {
			w := waiters.NewMutex(key)
			if err := w.Lock(ctx); err != nil {
				errs <- err
				return
			}
			errs <- w.Unlock(ctx)
		}()
	}
	// Give the waiters their subscriptions (an event on the server: poll
	// every node, as a channel lives on the one a subscriber talks to).
	if err := testserver.WaitFor(10*time.Second, "the waiters' channels", func(ctx context.Context) error {
		total := 0
		for _, a := range c.Addrs() {
			k, err := numChannels(ctx, a)
			if err != nil {
				return err
			}
			total += k
		}
		if total != n {
			return fmt.Errorf("%w: %d channels", testserver.ErrNotYet, total)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, m := range held {
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the waiters took %v after the releases; lock_sleep is a minute", d)
	}
	t.Logf("%d waiters on %d slots woken in %v", n, len(slots), time.Since(start))
}

// TestRingWaitersPoll: on a Ring (sharded by the client), whose releases
// one subscription could not all hear, waiters poll every lock_sleep.
func TestRingWaitersPoll(t *testing.T) {
	a, b := testserver.SharedRedis(t), testserver.StartRedis(t)
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": a.Addr(), "b": b.Addr()}})
	t.Cleanup(func() { ring.Close() })
	rb, err := redis.NewFromClient(ring, redis.Options{LockSleep: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rb.Close() })
	ctx := testutil.Context(t)
	key := testutil.Unique("ring")
	holder := rb.NewMutex(key)
	if ok, err := holder.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	done := make(chan error, 1)
	go func() { done <- rb.NewMutex(key).Lock(ctx) }()
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
