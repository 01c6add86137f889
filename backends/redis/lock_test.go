package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestDL1CrossProcessStampede: 4 processes × 50 goroutines call GetOrCreate
// on one key of a shared server with distributed_lock. The creator's runs
// are counted on the server (INCR), outside every process.
func TestDL1CrossProcessStampede(t *testing.T) {
	const procs = 4
	const total = procs * goroutinesPerChild
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)

	// run starts the children, lets them loose at once (not before
	// notBefore), and returns what their callers got.
	run := func(t *testing.T, key, mode string, expiration time.Duration, notBefore time.Time) map[string]int {
		var kids []*testutil.Child
		for range procs {
			kids = append(kids, testutil.StartChild(t, "stampede",
				childAddrEnv+"="+addr, childKeyEnv+"="+key, childNEnv+"="+fmt.Sprint(total),
				childModeEnv+"="+mode, childExpEnv+"="+expiration.String()))
		}
		for _, k := range kids {
			k.Expect("ready", 30*time.Second)
		}
		time.Sleep(time.Until(notBefore))
		for _, k := range kids { // let every process loose at once
			k.Send("go")
		}
		values := map[string]int{}
		for i, k := range kids {
			var rep stampedeReport
			if err := json.Unmarshal([]byte(k.Next(60*time.Second)), &rep); err != nil {
				t.Fatalf("child %d: %v", i, err)
			}
			for _, e := range rep.Errors {
				t.Errorf("child %d: a caller failed: %s", i, e)
			}
			for v, n := range rep.Values {
				values[v] += n
			}
			if err := k.Wait(30 * time.Second); err != nil {
				t.Fatalf("child %d: %v", i, err)
			}
		}
		if n, err := raw.Get(testutil.Context(t), key+":creators").Int(); err != nil || n != 1 {
			t.Fatalf("the creator ran %d times in %d processes × %d goroutines (err %v); want exactly once", n, procs, goroutinesPerChild, err)
		}
		return values
	}

	t.Run("cold", func(t *testing.T) {
		values := run(t, testutil.Unique("dl1-cold"), "cold", 0, time.Time{})
		if values["new"] != total {
			t.Fatalf("callers got %v; want all %d to get the one created value", values, total)
		}
	})

	t.Run("expired", func(t *testing.T) {
		key := testutil.Unique("dl1-stale")
		const exp = 300 * time.Millisecond
		r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr})
		if err := r.Set(testutil.Context(t), key, "old"); err != nil {
			t.Fatal(err)
		}
		// The children's regions expire values after exp: once exp has
		// passed, "old" is expired for them. (This region has no
		// expiration, so it reads whatever is there.)
		values := run(t, key, "stale", exp, time.Now().Add(exp+10*time.Millisecond))
		// Every caller but the creator's was served the expired value at
		// once (the creator held on until all of them were served).
		if values["old"] != total-1 || values["new"] != 1 {
			t.Fatalf("callers got %v; want %d stale %q and the one regenerated %q", values, total-1, "old", "new")
		}
		if v, ok, err := dogpile.Get[string](testutil.Context(t), r, key); err != nil || !ok || v != "new" {
			t.Fatalf("after the stampede Get = %q, %v, %v; want the regenerated value", v, ok, err)
		}
	})
}

// TestDL2KilledHolderLockExpires: a process holding the lock is killed with
// SIGKILL in the middle of its creator; after lock_timeout another process
// takes the lock and creates the value, and nobody waits for ever.
func TestDL2KilledHolderLockExpires(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	key := testutil.Unique("dl2-killed")
	const lockTimeout = time.Second

	holder := testutil.StartChild(t, "holder", childAddrEnv+"="+addr, childKeyEnv+"="+key, childLockEnv+"="+lockTimeout.String())
	holder.Expect("creating", 30*time.Second)
	if ttl := raw.PTTL(testutil.Context(t), redis.LockKey(key)).Val(); ttl <= 0 || ttl > lockTimeout {
		t.Fatalf("while the holder creates, its lock's PTTL = %v; want in (0, %v]", ttl, lockTimeout)
	}
	holder.Kill()
	killed := time.Now()

	r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_sleep": 0.02})
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 10*lockTimeout)
	defer cancel()
	v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
		calls.Add(1)
		return "after the crash", nil
	})
	waited := time.Since(killed)
	if err != nil || v != "after the crash" || calls.Load() != 1 {
		t.Fatalf("GetOrCreate after the holder died = %q, %v (creator ran %d times); want the new value", v, err, calls.Load())
	}
	if waited > lockTimeout+2*time.Second {
		t.Fatalf("took %v to get past a dead holder's lock of %v", waited, lockTimeout)
	}
	if n := raw.Exists(testutil.Context(t), redis.LockKey(key)).Val(); n != 0 {
		t.Fatal("the lock is still there after the new creator finished")
	}
}

// TestDL2OnlyOwnerReleases: a holder whose lock expired and was taken by
// another must not release the other's lock; a non-holder releases nothing.
func TestDL2OnlyOwnerReleases(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	b, err := redis.New(redis.Options{Client: &goredis.Options{Addr: addr}, LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := testutil.Context(t)
	key := testutil.Unique("dl2-owner")
	a, other := b.NewMutex(key), b.NewMutex(key)
	testutil.MustLock(t, a)
	if err := other.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if raw.Exists(ctx, a.Key()).Val() != 1 {
		t.Fatal("a non-holder's Unlock released the lock")
	}
	// Let a's lock expire on the server (an external event: poll).
	deadline := time.Now().Add(5 * time.Second)
	for raw.Exists(ctx, a.Key()).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the lock did not expire after its lock_timeout")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok, err := other.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock of an expired lock = %v, %v; want true", ok, err)
	}
	token := raw.Get(ctx, other.Key()).Val()
	if err := a.Unlock(ctx); err != nil { // a still thinks it holds the lock
		t.Fatal(err)
	}
	if got := raw.Get(ctx, other.Key()).Val(); got != token {
		t.Fatalf("the old holder's Unlock released the new holder's lock (lock now %q)", got)
	}
	if err := other.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if raw.Exists(ctx, other.Key()).Val() != 0 {
		t.Fatal("the holder's Unlock did not release the lock")
	}
}

// TestDL3LockWaitHonoursContext: a caller waiting for another process's
// lock returns its context's error at once when its context ends.
func TestDL3LockWaitHonoursContext(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	args := dogpile.Args{"url": "redis://" + addr, "distributed_lock": true, "lock_sleep": 0.02}
	// Two regions on two clients: as far as locking goes, two processes.
	holder, waiter := regionOn(t, "redis", args), regionOn(t, "redis", args)
	key := testutil.Unique("dl3")

	entered, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		_, err := dogpile.GetOrCreate(context.Background(), holder, key, func(context.Context) (string, error) {
			close(entered)
			<-release
			return "holder's", nil
		})
		held <- err
	}()
	<-entered

	t.Run("region", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := dogpile.GetOrCreate(ctx, waiter, key, func(context.Context) (string, error) {
			t.Error("the waiter's creator ran while another process held the lock")
			return "", nil
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("GetOrCreate waiting for a held lock = %v; want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("the waiter returned %v after its 200ms context ended", d)
		}
	})
	t.Run("mutex", func(t *testing.T) {
		m := waiter.Backend().(*redis.Backend).NewMutex(key)
		ctx, cancel := context.WithCancel(context.Background())
		done := testutil.LockAsync(ctx, m)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Lock after cancel = %v; want context.Canceled", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Lock did not return after its context was cancelled")
		}
	})
	t.Run("lock_blocking_timeout", func(t *testing.T) {
		b := newFromArgs(t, "redis", dogpile.Args{"url": "redis://" + addr, "lock_sleep": 0.02, "lock_blocking_timeout": 0.1})
		err := b.(*redis.Backend).NewMutex(key).Lock(testutil.Context(t))
		if !errors.Is(err, redis.ErrLockWait) {
			t.Fatalf("Lock with lock_blocking_timeout 0.1 = %v; want ErrLockWait", err)
		}
	})

	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// The waiter's creation went on after its caller left; it finds the
	// holder's value.
	if v, err := dogpile.GetOrCreate(testutil.Context(t), waiter, key, func(context.Context) (string, error) { return "waiter's", nil }); err != nil || v != "holder's" {
		t.Fatalf("after the holder finished, GetOrCreate = %q, %v; want the holder's value", v, err)
	}
}

// TestDL4LockKeysApartFromValues: a lock lives under its own key, which no
// value key can name.
func TestDL4LockKeysApartFromValues(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	b, err := redis.New(redis.Options{Client: &goredis.Options{Addr: addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := testutil.Context(t)
	key := testutil.Unique("dl4")

	m := b.NewMutex(key)
	testutil.MustLock(t, m)
	defer m.Unlock(ctx) //nolint:errcheck
	if m.Key() == key || !strings.HasPrefix(m.Key(), redis.DefaultLockPrefix) {
		t.Fatalf("lock key %q", m.Key())
	}
	if raw.Exists(ctx, key).Val() != 0 {
		t.Fatal("taking the lock created the value key")
	}
	if err := b.Set(ctx, key, []byte("value")); err != nil {
		t.Fatal(err)
	}
	if got := raw.Get(ctx, key).Val(); got != "value" {
		t.Fatalf("value key holds %q", got)
	}
	if tok := raw.Get(ctx, m.Key()).Val(); tok == "value" || tok == "" {
		t.Fatalf("the lock key holds %q after a Set of the value", tok)
	}

	// No value operation may touch the lock namespace.
	lk := m.Key()
	checks := map[string]error{}
	_, _, checks["Get"] = b.Get(ctx, lk)
	checks["Set"] = b.Set(ctx, lk, []byte("x"))
	checks["Delete"] = b.Delete(ctx, lk)
	_, checks["GetMulti"] = b.GetMulti(ctx, []string{"a", lk})
	checks["SetMulti"] = b.SetMulti(ctx, map[string][]byte{"a": nil, lk: nil})
	checks["DeleteMulti"] = b.DeleteMulti(ctx, []string{"a", lk})
	for op, err := range checks {
		if !errors.Is(err, redis.ErrReservedKey) {
			t.Errorf("%s of the lock key %q = %v; want ErrReservedKey", op, lk, err)
		}
	}
	if ok, _ := b.NewMutex(key).TryLock(ctx); ok {
		t.Fatal("the lock was released by value operations")
	}

	// Through a region, with a key that looks like the seed's lock key
	// ("_lock" + key): just another value.
	r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr, "distributed_lock": true})
	if err := r.Set(ctx, "_lock"+key, "a value"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.NewMutex(key).TryLock(ctx); ok {
		t.Fatal("a value under the seed's lock name released the lock")
	}

	// In a Cluster, a hash tag keeps the lock on the value's slot.
	if redis.Slot(redis.LockKey("user:{42}:name")) != redis.Slot("user:{42}:name") {
		t.Fatal("the lock of a hash-tagged key is on another slot")
	}
}

// afterCommand is a client hook that calls after once, right after the
// first command that match accepts, given the command and its error.
type afterCommand struct {
	match func(goredis.Cmder, error) bool
	after func()
	once  sync.Once
}

func (h *afterCommand) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *afterCommand) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if h.match(cmd, err) {
			h.once.Do(h.after)
		}
		return err
	}
}

func (h *afterCommand) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
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
				r.Backend().(*redis.Backend).Client().AddHook(&afterCommand{after: kill, match: func(cmd goredis.Cmder, _ error) bool { // the GET of key: the value is read, the lock attempt that follows finds the server dead
					a := cmd.Args()
					return len(a) == 2 && strings.EqualFold(cmd.Name(), "get") && a[1] == key
				}})
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
