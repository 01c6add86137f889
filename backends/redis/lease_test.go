package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// The lock's contracts, checked at compile time.
var (
	_ lock.Lease      = (*redis.Mutex)(nil)
	_ backend.Fenced  = (*redis.Mutex)(nil)
	_ backend.Swapper = (*redis.Backend)(nil)
	_ backend.Locking = (*redis.Backend)(nil)
)

func newTestBackend(t testing.TB, addr string, opts redis.Options) *redis.Backend {
	t.Helper()
	opts.Client = &goredis.Options{Addr: addr}
	b, err := redis.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// metricsRegion is regionOn for a region that keeps Stats.
func metricsRegion(t testing.TB, backend string, args dogpile.Args, ropts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(append(ropts, dogpile.WithMetrics())...).Configure(backend, dogpile.WithArguments(args))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func readCreation(t *testing.T, c *testutil.Child) creationReport {
	t.Helper()
	var rep creationReport
	if err := json.Unmarshal([]byte(c.Next(30*time.Second)), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestDL5SlowCreatorKeepsItsLock: a creator three times slower than
// lock_timeout (300ms; the creator runs ≥ 1s) keeps its lock, renewed while
// it runs: a second process asking for the key meanwhile waits and gets the
// first one's value, and the creator ran once (counted on the server).
func TestDL5SlowCreatorKeepsItsLock(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	key := testutil.Unique("dl5")
	const lockTimeout = 300 * time.Millisecond
	env := []string{childAddrEnv + "=" + addr, childKeyEnv + "=" + key, childLockEnv + "=" + lockTimeout.String()}

	first := testutil.StartChild(t, "creator", append(env, childValueEnv+"=first's")...)
	first.Expect("creating", 30*time.Second)
	second := testutil.StartChild(t, "caller", append(env, childValueEnv+"=second's")...)
	second.Expect("calling", 30*time.Second)
	// Let the lock's timeout pass three times over: without renewals the
	// second process would take the expired lock and create.
	time.Sleep(3 * lockTimeout)
	if ttl := raw.PTTL(testutil.Context(t), redis.LockKey(key)).Val(); ttl <= 0 {
		t.Fatalf("after 3×lock_timeout the slow creator's lock has PTTL %v; want it renewed", ttl)
	}
	first.Send("finish")

	a, b := readCreation(t, first), readCreation(t, second)
	if a.Err != "" || a.Value != "first's" || b.Err != "" || b.Value != "first's" {
		t.Fatalf("first got %q (%s), second got %q (%s); want both the slow creator's value", a.Value, a.Err, b.Value, b.Err)
	}
	if b.Created {
		t.Fatal("the second process ran its creator while the first one's lock should have been renewed")
	}
	if n, _ := raw.Get(testutil.Context(t), key+":creators").Int(); n != 1 {
		t.Fatalf("the creator ran %d times across processes; want 1", n)
	}
	if a.Cause != "" || a.LocksLost != 0 {
		t.Fatalf("the slow creator's context had cause %q, LocksLost %d; want neither", a.Cause, a.LocksLost)
	}
}

// TestDL5LostLeaseCancelsCreation: when a renewal finds the lock gone (here
// deleted behind the holder's back, as an eviction or a restart would), the
// creation's context ends with lock.ErrLockLost as its cause; the lock tries
// the flight once more, and the caller gets the second creation's value.
func TestDL5LostLeaseCancelsCreation(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	r := metricsRegion(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_timeout": "300ms"})
	key := testutil.Unique("dl5-lost")
	var calls atomic.Int32
	causes := make(chan error, 2)
	v, err := dogpile.GetOrCreate(testutil.Context(t), r, key, func(ctx context.Context) (string, error) {
		if calls.Add(1) > 1 {
			return "second", nil
		}
		if err := raw.Del(ctx, redis.LockKey(key)).Err(); err != nil {
			return "", err
		}
		<-ctx.Done() // until the next renewal (100ms) finds the lock gone
		causes <- context.Cause(ctx)
		return "", ctx.Err()
	})
	if err != nil || v != "second" {
		t.Fatalf("GetOrCreate = %q, %v; want the retried creation's value", v, err)
	}
	if c := <-causes; !errors.Is(c, lock.ErrLockLost) {
		t.Fatalf("the creation's context ended with cause %v; want lock.ErrLockLost", c)
	}
	if n := r.Stats().LocksLost; n != 1 {
		t.Fatalf("LocksLost = %d, want 1", n)
	}
}

// TestDL6LostLockWritesNothing, case 1 of the issue: a process holding the
// lock is paused (SIGSTOP) past lock_timeout; another process takes the
// expired lock, creates and stores "newer"; the paused one is resumed and
// finishes "older". Its fenced write is refused: the store still holds
// "newer", and the paused process counts a lost lock.
func TestDL6LostLockWritesNothing(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	key := testutil.Unique("dl6-paused")
	const lockTimeout = 300 * time.Millisecond
	paused := testutil.StartChild(t, "creator", childAddrEnv+"="+addr, childKeyEnv+"="+key, childLockEnv+"="+lockTimeout.String(), childValueEnv+"=older")
	paused.Expect("creating", 30*time.Second)
	paused.Pause()
	waitGone(t, raw, redis.LockKey(key))

	newer := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true})
	overtake(t, newer, key, paused, paused.Resume)
}

// overtake is the end of a lost lock: the next holder (through region
// newer) takes the lock and stores "newer"; then the first creator (child
// first, resumed first if resume is not nil) finishes "older". The store
// must hold "newer", and the first creator's process must have counted the
// lost lock; its caller got a value — its own creator's ("older": the fenced
// write was refused), or the later holder's ("newer": the renewal found the
// lock gone first, and the lock's retry loaded it).
func overtake(t *testing.T, newer *dogpile.Region, key string, first *testutil.Child, resume func()) {
	t.Helper()
	if v, err := dogpile.GetOrCreate(testutil.Context(t), newer, key, func(context.Context) (string, error) { return "newer", nil }); err != nil || v != "newer" {
		t.Fatalf("the next holder got %q, %v", v, err)
	}
	if resume != nil {
		resume()
	}
	first.Send("finish")
	rep := readCreation(t, first)
	checkNewer(t, newer, key)
	if rep.Err != "" || rep.Value != "older" && rep.Value != "newer" {
		t.Fatalf("the first creator's caller got %q, %q; want a created value", rep.Value, rep.Err)
	}
	if rep.LocksLost < 1 {
		t.Fatalf("the first creator's process counted no lost lock (report %+v)", rep)
	}
}

// waitGone waits until key has left the server (an expiry: an external
// event, so by polling).
func waitGone(t *testing.T, raw goredis.UniversalClient, key string) {
	t.Helper()
	err := testserver.WaitFor(10*time.Second, "the lock's expiry", func(ctx context.Context) error {
		if raw.Exists(ctx, key).Val() != 0 {
			return testserver.ErrNotYet
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkNewer(t *testing.T, r *dogpile.Region, key string) {
	t.Helper()
	v, ok, err := dogpile.Get[string](testutil.Context(t), r, key)
	if err != nil || !ok || v != "newer" {
		t.Fatalf("the store holds %q (found %v, err %v); want %q: an older value was written over a newer one", v, ok, err, "newer")
	}
}

// TestDL6ServerRestartMidCreation, case 2: the server restarts without
// persistence while a process creates under the lock (the lock is gone with
// everything else); another process takes the lock and stores "newer"; the
// first one finishes "older" and writes nothing.
func TestDL6ServerRestartMidCreation(t *testing.T) {
	srv := testserver.StartRedis(t)
	key := testutil.Unique("dl6-restart")
	creator := testutil.StartChild(t, "creator", childAddrEnv+"="+srv.Addr(), childKeyEnv+"="+key, childLockEnv+"=5s", childValueEnv+"=older")
	creator.Expect("creating", 30*time.Second)
	srv.Kill()
	srv.Restart(t)

	overtake(t, regionOn(t, "redis", dogpile.Args{"url": "redis://" + srv.Addr(), "distributed_lock": true}), key, creator, nil)
}

// TestDL6SentinelFailoverMidCreation, case 2: a Sentinel failover while a
// process creates under the lock, to a replica that lacks the lock — as one
// does when asynchronous replication had not carried the lock's SET before
// the failover (made certain here by deleting the lock on the replica).
// Another process takes the lock on the new master and stores "newer"; the
// first one finishes "older" and writes nothing.
func TestDL6SentinelFailoverMidCreation(t *testing.T) {
	s := testserver.StartSentinel(t)
	key := testutil.Unique("dl6-failover")
	sentinels := strings.Join(s.SentinelAddrs(), ",")
	creator := testutil.StartChild(t, "creator", childSentinelsEnv+"="+sentinels, childKeyEnv+"="+key, childLockEnv+"=2s", childValueEnv+"=older")
	creator.Expect("creating", 30*time.Second)

	ctx := testutil.Context(t)
	oldMaster, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	replica := s.Servers[1]
	if replica == oldMaster {
		replica = s.Servers[0]
	}
	lk := redis.LockKey(key)
	if err := testserver.WaitFor(10*time.Second, "the lock on the replica", func(ctx context.Context) error {
		if n, err := testserver.Do(ctx, replica.Addr(), "EXISTS", lk); err != nil || n != int64(1) {
			return testserver.ErrNotYet
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"CONFIG", "SET", "replica-read-only", "no"}, {"DEL", lk}, {"CONFIG", "SET", "replica-read-only", "yes"}} {
		if _, err := testserver.Do(ctx, replica.Addr(), cmd...); err != nil {
			t.Fatal(cmd, err)
		}
	}
	if _, err := testserver.Do(ctx, s.Sentinels[0].Addr(), "SENTINEL", "FAILOVER", s.MasterName); err != nil {
		t.Fatal(err)
	}
	if err := testserver.WaitFor(20*time.Second, "the failover", func(ctx context.Context) error {
		if m, err := s.MasterAddr(ctx); err != nil || m != replica.Addr() {
			return testserver.ErrNotYet
		}
		// Both servers reconfigured: the old master, until it is told,
		// would still take writes that its resync discards.
		for addr, role := range map[string]string{replica.Addr(): "master", oldMaster.Addr(): "slave"} {
			if v, err := testserver.Do(ctx, addr, "ROLE"); err != nil || len(v.([]any)) == 0 || v.([]any)[0] != role {
				return testserver.ErrNotYet
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	overtake(t, regionOn(t, "redis_sentinel", dogpile.Args{"sentinels": s.SentinelAddrs(), "service_name": s.MasterName}), key, creator, nil)
}

// TestLeaseRenewAndFence: Renew and SetFenced against a real server. A
// holder renews and writes while it holds the lock; once its token is gone
// (expired, or another holder's), both refuse with lock.ErrLockLost and
// nothing is written.
func TestLeaseRenewAndFence(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	b := newTestBackend(t, addr, redis.Options{LockTimeout: time.Second, TTL: time.Hour})
	ctx := testutil.Context(t)
	key := testutil.Unique("fence")
	m := b.NewMutex(key)
	if m.TTL() != time.Second {
		t.Fatalf("TTL = %v, want lock_timeout", m.TTL())
	}
	if err := m.Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew before TryLock = %v; want ErrLockLost", err)
	}
	if err := m.SetFenced(ctx, key, []byte("x")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("SetFenced before TryLock = %v; want ErrLockLost", err)
	}
	testutil.MustLock(t, m)
	raw.PExpire(ctx, m.Key(), 100*time.Millisecond)
	if err := m.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	// A whole lock_timeout again, and no more: a holder that dies after a
	// renewal keeps the others waiting for at most lock_timeout.
	if ttl := raw.PTTL(ctx, m.Key()).Val(); ttl <= 500*time.Millisecond || ttl > time.Second {
		t.Fatalf("after Renew the lock's PTTL is %v; want about lock_timeout (1s), not more", ttl)
	}
	if err := m.SetFenced(ctx, key, []byte("mine")); err != nil {
		t.Fatal(err)
	}
	if got := raw.Get(ctx, key).Val(); got != "mine" {
		t.Fatalf("the fenced write stored %q", got)
	}
	if ttl := raw.PTTL(ctx, key).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("the fenced write's PTTL is %v; want redis_expiration_time (1h), not the lock's lock_timeout", ttl)
	}

	// Another holder takes over, as after our lock had expired.
	raw.Set(ctx, m.Key(), "someone else's token", 0)
	raw.Set(ctx, key, "newer", 0)
	for name, err := range map[string]error{"Renew": m.Renew(ctx), "SetFenced": m.SetFenced(ctx, key, []byte("older"))} {
		if !errors.Is(err, lock.ErrLockLost) {
			t.Errorf("%s after the lock changed hands = %v; want ErrLockLost", name, err)
		}
	}
	if got := raw.Get(ctx, key).Val(); got != "newer" {
		t.Fatalf("a refused fenced write changed the value to %q", got)
	}
	if got := raw.Get(ctx, m.Key()).Val(); got != "someone else's token" {
		t.Fatalf("a refused Renew changed the lock to %q", got)
	}
	if err := m.SetFenced(ctx, m.Key(), []byte("x")); !errors.Is(err, redis.ErrReservedKey) {
		t.Fatalf("SetFenced of the lock key = %v; want ErrReservedKey", err)
	}
}

// TestLeaseRenewConcurrentWithFence: the region renews in a goroutine of its
// own while the creation writes through the fence (run with -race).
func TestLeaseRenewConcurrentWithFence(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	b := newTestBackend(t, addr, redis.Options{LockTimeout: time.Second})
	ctx := testutil.Context(t)
	key := testutil.Unique("fence-race")
	m := b.NewMutex(key)
	testutil.MustLock(t, m)
	done := make(chan error, 1)
	go func() {
		for range 20 {
			if err := m.Renew(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 20 {
		if err := m.SetFenced(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFencedWriteInCluster: in a Cluster the fenced write's script touches
// the lock and the value in one slot, for keys with and without hash tags,
// and with a "}" in an untagged key; the region's creations go through it.
func TestFencedWriteInCluster(t *testing.T) {
	c := testserver.SharedCluster(t)
	b := newFromArgs(t, "redis_cluster", dogpile.Args{"startup_nodes": c.Addrs(), "distributed_lock": true}).(*redis.Backend)
	ctx := testutil.Context(t)
	for _, key := range []string{testutil.Unique("plain"), "user:{" + testutil.Unique("tag") + "}:name", testutil.Unique("brace}"), testutil.Unique("{}empty")} {
		m := b.NewMutex(key)
		if ok, err := m.TryLock(ctx); !ok || err != nil {
			t.Fatalf("%q: TryLock = %v, %v", key, ok, err)
		}
		if err := m.SetFenced(ctx, key, []byte("v")); err != nil {
			t.Fatalf("%q: SetFenced: %v", key, err)
		}
		if err := m.Renew(ctx); err != nil {
			t.Fatalf("%q: Renew: %v", key, err)
		}
		if err := m.Unlock(ctx); err != nil {
			t.Fatalf("%q: Unlock: %v", key, err)
		}
		if v, ok, err := b.Get(ctx, key); err != nil || !ok || string(v) != "v" {
			t.Fatalf("%q: Get = %q, %v, %v", key, v, ok, err)
		}
	}
	other := b.NewMutex(testutil.Unique("elsewhere"))
	testutil.MustLock(t, other)
	defer other.Unlock(ctx) //nolint:errcheck
	var far string
	for i := 0; far == ""; i++ {
		if k := testutil.Unique("far"); redis.Slot(k) != redis.Slot(other.Key()) {
			far = k
		}
	}
	if err := other.SetFenced(ctx, far, []byte("v")); err == nil || errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("SetFenced of a key in another slot = %v; want an error that is not ErrLockLost", err)
	}

	r := regionOn(t, "redis_cluster", dogpile.Args{"startup_nodes": c.Addrs(), "distributed_lock": true})
	key := testutil.Unique("region")
	if v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) { return "created", nil }); err != nil || v != "created" {
		t.Fatalf("GetOrCreate = %q, %v", v, err)
	}
	if v, ok, err := dogpile.Get[string](ctx, r, key); err != nil || !ok || v != "created" {
		t.Fatalf("Get after the fenced write = %q, %v, %v", v, ok, err)
	}
}

// TestLockedProbe: Locked tells whether anyone holds the lock, without
// taking it.
func TestLockedProbe(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	b := newTestBackend(t, addr, redis.Options{})
	ctx := testutil.Context(t)
	key := testutil.Unique("probe")
	holder, prober := b.NewMutex(key), b.NewMutex(key)
	probe := func(want bool) {
		t.Helper()
		if got, err := prober.Locked(ctx); err != nil || got != want {
			t.Fatalf("Locked = %v, %v; want %v", got, err, want)
		}
	}
	probe(false)
	testutil.MustLock(t, holder)
	probe(true)
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	probe(false)
}

// TestSetMultiWritesHeldKeysOnlyFenced: in a SetMulti under a creation's
// lock, the keys whose lock the context holds are written through the fence
// only and the rest plainly: a newer holder's value, written right after the
// fenced write, is not overwritten by the same call.
func TestSetMultiWritesHeldKeysOnlyFenced(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	ctx := testutil.Context(t)
	key, other := testutil.Unique("held"), testutil.Unique("not-held")
	b := newTestBackend(t, addr, redis.Options{})
	m := b.NewMutex(key)
	testutil.MustLock(t, m)
	defer m.Unlock(context.Background())
	b.Client().AddHook(&afterCommand{after: func() { raw.Set(ctx, key, "newer", 0) }, match: func(cmd goredis.Cmder, err error) bool {
		n := strings.ToLower(cmd.Name()) // a script that ran (a fenced write; not an EVALSHA refused with NOSCRIPT)
		return err == nil && (n == "evalsha" || n == "eval")
	}})
	if err := b.SetMulti(lock.WithHeld(ctx, key, m), map[string][]byte{key: []byte("mine"), other: []byte("o")}); err != nil {
		t.Fatal(err)
	}
	if got := raw.Get(ctx, key).Val(); got != "newer" {
		t.Fatalf("the held key holds %q after SetMulti; want the newer holder's value, written after the fenced write", got)
	}
	if got := raw.Get(ctx, other).Val(); got != "o" {
		t.Fatalf("the key not held holds %q; want o", got)
	}
}

// TestSetUnderAnotherBackendsLock: a context that holds another backend's
// lock for the key does not make a backend's Set go through that lock: the
// value is written to this backend's server.
func TestSetUnderAnotherBackendsLock(t *testing.T) {
	ctx := testutil.Context(t)
	mine, theirs := testserver.StartRedis(t).Addr(), testserver.SharedRedis(t).Addr()
	b, o := newTestBackend(t, mine, redis.Options{}), newTestBackend(t, theirs, redis.Options{})
	key := testutil.Unique("other-lock")
	m := o.NewMutex(key)
	testutil.MustLock(t, m)
	defer m.Unlock(context.Background())
	if err := b.Set(lock.WithHeld(ctx, key, m), key, []byte("v")); err != nil {
		t.Fatal(err)
	}
	if rawClient(t, mine).Exists(ctx, key).Val() != 1 || rawClient(t, theirs).Exists(ctx, key).Val() != 0 {
		t.Fatal("the value was not written to the backend's own server only")
	}
}
