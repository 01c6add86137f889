package memcached

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// TestDL2LockLivesAtLeastLockTimeout: a lock with a 1s lock_timeout lives
// at least 1s on the server (Memcached's whole-second clock made such locks
// live 153–830ms), and not much more than 2s longer. Six locks are taken 200ms
// apart, so that one of them is taken just before a tick of the server's
// clock, whatever its phase; each is polled until it is gone. A poll that
// finds a lock gone ended after the lock's expiry, so one that ended sooner
// than 1s after the lock was asked for shows a short lock; a poll that
// found it there began before its expiry, which bounds the lifetime from
// above.
func TestDL2LockLivesAtLeastLockTimeout(t *testing.T) {
	t.Parallel() // mostly waiting for locks to expire
	const (
		locks       = 6
		spacing     = 200 * time.Millisecond
		lockTimeout = time.Second
	)
	b, srv := lockingBackend(t, 1)
	raw := rawClient(srv)
	ctx := testutil.Context(t)
	key := testutil.Unique("lifetime")
	type probe struct {
		lockKey          string
		asked, taken     time.Time // before the add was sent, and once it was answered
		lastSeen, goneBy time.Time // before the last poll that found it, after the first that did not
	}
	var probes [locks]probe
	start := time.Now()
	taken, gone := 0, 0
	for gone < locks {
		if taken < locks && time.Since(start) >= time.Duration(taken)*spacing {
			p := &probes[taken]
			k := fmt.Sprintf("%s-%d", key, taken)
			p.lockKey = b.lockKey(k)
			p.asked = time.Now()
			if ok, err := b.Mutex(k).TryLock(ctx); !ok || err != nil {
				t.Fatalf("TryLock(%q) = %v, %v", k, ok, err)
			}
			p.taken = time.Now()
			taken++
		}
		for i := range probes[:taken] {
			p := &probes[i]
			if !p.goneBy.IsZero() {
				continue
			}
			before := time.Now()
			_, err := raw.Get(p.lockKey)
			switch {
			case err == nil:
				p.lastSeen = before
			case errors.Is(err, memcache.ErrCacheMiss):
				p.goneBy = time.Now()
				gone++
			default:
				t.Fatal(err)
			}
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d of %d 1s locks still there after 10s", locks-gone, locks)
		}
		time.Sleep(2 * time.Millisecond) // polling for the server's expiry
	}
	for i, p := range probes {
		if life := p.goneBy.Sub(p.asked); life < lockTimeout {
			t.Errorf("lock %d (taken at +%v) was gone within %v; want it to live at least lock_timeout (%v)",
				i, p.asked.Sub(start).Round(time.Millisecond), life.Round(time.Millisecond), lockTimeout)
		}
		if life := p.lastSeen.Sub(p.taken); life > lockTimeout+2*time.Second+500*time.Millisecond { // the server's timer may run late
			t.Errorf("lock %d was still there %v after it was taken; want at most lock_timeout+2s", i, life.Round(time.Millisecond))
		}
		t.Logf("lock %d: seen %v after it was asked for, gone by %v", i, p.lastSeen.Sub(p.asked).Round(time.Millisecond), p.goneBy.Sub(p.asked).Round(time.Millisecond))
	}
}

// startCreator starts a createChild on srv's key, with lock_timeout 1s,
// whose creator will return value; it returns once the child is creating.
func startCreator(t *testing.T, srv, key, value string) *testutil.Child {
	t.Helper()
	c := testutil.StartChild(t, "create", "MC_SERVERS="+srv, "MC_KEY="+key, "MC_LOCK_TIMEOUT=1", "MC_VALUE="+value)
	c.Expect("creating", time.Minute)
	return c
}

type result struct {
	v   string
	err error
}

func goGetOrCreate(ctx context.Context, r *dogpile.Region, key string, create func(context.Context) (string, error)) <-chan result {
	res := make(chan result, 1)
	go func() {
		v, err := dogpile.GetOrCreate(ctx, r, key, create)
		res <- result{v, err}
	}()
	return res
}

// TestDL5SlowCreatorKeepsItsLock: a process's creator runs four times as
// long as lock_timeout (1s). Its lock is renewed all along — left alone it
// would be gone within 3s — so a second process that asks for the key
// meanwhile waits for it, and gets its value: one creator run in all.
func TestDL5SlowCreatorKeepsItsLock(t *testing.T) {
	t.Parallel() // mostly waiting: the creation outlasts its lock's timeout
	key := testutil.Unique("dl5")
	b, srv := lockingBackend(t, 1)
	zeroCounters(t, b, key+"-creators")
	ctx := testutil.Context(t)

	c := startCreator(t, srv, key, "first")
	creating := time.Now()
	raw := rawClient(srv)
	for time.Since(creating) < 4*time.Second {
		it, err := raw.Get(b.lockKey(key))
		if err != nil || bytes.Equal(it.Value, releasedValue) {
			t.Fatalf("%v into a creation, its lock (lock_timeout 1s) is gone: %v", time.Since(creating).Round(time.Millisecond), err)
		}
		time.Sleep(20 * time.Millisecond) // the creation's length is what is tested
	}

	r := newRegion(t, b, dogpile.WithMetrics())
	res := goGetOrCreate(ctx, r, key, func(context.Context) (string, error) {
		b.Client().Increment(key+"-creators", 1) //nolint:errcheck // counted below
		return "second", nil
	})
	if err := testserver.WaitFor(10*time.Second, "the second process's miss", func(context.Context) error {
		if r.Stats().Misses == 0 {
			return errors.New("no miss yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-res:
		t.Fatalf("the second process returned %+v while the first was creating", got)
	default:
	}
	c.Send("finish")
	c.Expect("done first 0", time.Minute)
	if got := <-res; got.err != nil || got.v != "first" {
		t.Fatalf("the second process got %q, %v; want the first one's value", got.v, got.err)
	}
	if n := counter(t, b, key+"-creators"); n != 1 {
		t.Fatalf("%d creator runs; want 1", n)
	}
}

// TestDL6StalledHolderDoesNotOverwrite: a process creating under a lock is
// stopped (SIGSTOP) until its lock has expired; another takes the lock and
// stores "newer"; when the first resumes, its creator returns "older",
// which is not stored. Whether its lease renewal finds the lock gone first
// (the creation is then retried, and finds "newer") or its fenced write
// does (the caller gets its "older", not stored), the loss is counted.
func TestDL6StalledHolderDoesNotOverwrite(t *testing.T) {
	t.Parallel() // mostly waiting for a lock to expire
	key := testutil.Unique("dl6")
	b, srv := lockingBackend(t, 1)
	zeroCounters(t, b, key+"-creators")
	ctx := testutil.Context(t)
	raw := rawClient(srv)

	c := startCreator(t, srv, key, "older")
	c.Pause()
	if err := testserver.WaitFor(10*time.Second, "the stalled holder's lock to expire", func(context.Context) error {
		if _, err := raw.Get(b.lockKey(key)); !errors.Is(err, memcache.ErrCacheMiss) {
			return fmt.Errorf("the lock is there (%v)", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := newRegion(t, b, dogpile.WithMetrics())
	if v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) { return "newer", nil }); err != nil || v != "newer" {
		t.Fatalf("the second process: %q, %v", v, err)
	}
	c.Send("finish")
	c.Resume()

	var got string
	var lost uint64
	if _, err := fmt.Sscanf(c.Next(time.Minute), "done %s %d", &got, &lost); err != nil {
		t.Fatal(err)
	}
	if got != "older" && got != "newer" || lost != 1 {
		t.Fatalf("the resumed process got %q with %d locks lost; want its own value or the newer one, and the loss counted once", got, lost)
	}
	t.Logf("the resumed process got %q; LocksLost %d", got, lost)
	if v, ok, err := dogpile.Get[string](ctx, r, key); err != nil || !ok || v != "newer" {
		t.Fatalf("stored: %q (%v, %v); the resumed holder overwrote the newer value", v, ok, err)
	}
	if n := r.Stats().LocksLost; n != 0 {
		t.Fatalf("the holder that kept its lock counted %d lost", n)
	}
}

// holderAndOther returns two regions on the same servers, as two processes
// would have: holder with metrics.
func holderAndOther(t *testing.T, args dogpile.Args) (holder, other *dogpile.Region, hb *Backend) {
	t.Helper()
	hb = newBackend(t, args)
	// The holder's warning of its lost lock goes to the test's log.
	logger := dogpile.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil)))
	return newRegion(t, hb, dogpile.WithMetrics(), logger), newRegion(t, newBackend(t, args)), hb
}

// creating starts a GetOrCreate of key on r whose creator returns value
// when finish is closed, and returns once the creator runs.
func creating(t *testing.T, r *dogpile.Region, key, value string) (finish chan struct{}, res <-chan result) {
	t.Helper()
	started, finish := make(chan struct{}), make(chan struct{})
	res = goGetOrCreate(testutil.Context(t), r, key, func(context.Context) (string, error) {
		close(started)
		<-finish
		return value, nil
	})
	<-started
	return finish, res
}

// lostLock finishes the holder's creation after another process stored
// "newer", and checks that the holder's "older" was not stored over it and
// that the holder counted its lost lock.
func lostLock(t *testing.T, holder, other *dogpile.Region, key string, finish chan struct{}, res <-chan result) {
	t.Helper()
	ctx := testutil.Context(t)
	if v, err := dogpile.GetOrCreate(ctx, other, key, func(context.Context) (string, error) { return "newer", nil }); err != nil || v != "newer" {
		t.Fatalf("the other process: %q, %v", v, err)
	}
	close(finish)
	if got := <-res; got.err != nil || got.v != "older" {
		t.Fatalf("the holder's caller got %q, %v; want its creator's value", got.v, got.err)
	}
	if v, ok, err := dogpile.Get[string](ctx, other, key); err != nil || !ok || v != "newer" {
		t.Fatalf("stored: %q (%v, %v); want the newer value, not the lost holder's", v, ok, err)
	}
	if n := holder.Stats().LocksLost; n != 1 {
		t.Fatalf("the holder counted %d lost locks; want 1", n)
	}
}

// TestDL6LockLostWithServerRestart: the server restarts (empty) while a
// creation holds a lock; another process takes the key's lock at once and
// stores "newer"; the first creation's fenced write finds its lock gone and
// stores nothing. (lock_timeout is long, so no renewal runs meanwhile: the
// fence alone decides.)
func TestDL6LockLostWithServerRestart(t *testing.T) {
	p := testserver.Memcached(t, testserver.MemcachedOptions{})
	holder, other, _ := holderAndOther(t, dogpile.Args{"url": p.Addr(), "distributed_lock": true, "lock_timeout": 60})
	key := testutil.Unique("dl6-restart")
	finish, res := creating(t, holder, key, "older")
	p.Kill()
	p.Restart(t)
	lostLock(t, holder, other, key, finish, res)
}

// TestDL6LockLostToEviction: on a server with 2 MB of memory, traffic evicts
// a held lock; another process takes the lock and stores "newer"; the first
// creation's fenced write finds its lock gone and stores nothing.
func TestDL6LockLostToEviction(t *testing.T) {
	t.Parallel()
	p := testserver.Memcached(t, testserver.MemcachedOptions{Args: []string{"-m", "2"}})
	holder, other, hb := holderAndOther(t, dogpile.Args{"url": p.Addr(), "distributed_lock": true, "lock_timeout": 60})
	key := testutil.Unique("dl6-evict")
	finish, res := creating(t, holder, key, "older")

	// Items of the lock's size and around it, until the lock is evicted.
	// (MemcachedHas does not mark the lock used, which would keep it.)
	raw := rawClient(p.Addr())
	for round := 0; testserver.MemcachedHas(t, p.Addr(), hb.lockKey(key)); round++ {
		if round == 50 {
			t.Fatal("the lock survived 500,000 writes to a 2 MB server")
		}
		for i := range 10_000 {
			if err := raw.Set(&memcache.Item{Key: fmt.Sprintf("flood-%d-%d", round, i), Value: make([]byte, 40+i%80)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if ev := testserver.MemcachedStats(t, p.Addr())["evictions"]; ev == "0" {
		t.Fatal("the lock is gone, but the server evicted nothing")
	}
	lostLock(t, holder, other, key, finish, res)
}

// wantStored fails the test unless the server at srv holds want under key,
// read by a raw client behind the backend's back; why says what a
// different value would mean.
func wantStored(t *testing.T, srv, key, want, why string) {
	t.Helper()
	it, err := rawClient(srv).Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if got := string(it.Value); got != want {
		t.Fatalf("stored %q, want %q: %s", got, want, why)
	}
}

// TestDL6FenceCatchesAWriteAfterTheCheck: a holder has read the value and
// found its lock its own, and stalls before its write; meanwhile its lock
// is lost, and the next holder stores "newer". The stalled write, sent then,
// is refused — the value changed since it was read (a cas), or appeared
// since it was found missing (an add) — and the holder, reading again,
// finds its lock gone: nothing older is written over "newer".
func TestDL6FenceCatchesAWriteAfterTheCheck(t *testing.T) {
	srv := servers(t, 1)[0]
	for name, before := range map[string]string{"value there": "before", "no value yet": ""} {
		t.Run(name, func(t *testing.T) {
			key := testutil.Unique("dl6-fence")
			if before != "" {
				if err := rawClient(srv).Set(itemOf(key, before)); err != nil {
					t.Fatal(err)
				}
			}
			// Stalled once checked, not yet written.
			fencedWriteLosesItsLock(t, srv, key, storageOf(key))
		})
	}
}

// TestDL6HolderOverwritesALateWrite: the other way round: while the holder
// is between its check and its write, a late write of an older value lands
// (from a holder that lost the lock to it, say). The holder's write is
// refused, it reads again, finds its lock still its own, and writes: its
// newer value is stored.
func TestDL6HolderOverwritesALateWrite(t *testing.T) {
	srv := servers(t, 1)[0]
	key := testutil.Unique("dl6-late")
	ctx := testutil.Context(t)
	g := newGate()
	holder := gatedMutex(t, srv, key, g)
	testutil.MustLock(t, holder)
	g.armFunc(passWrite, storageOf(key)) // no value yet: the write is an add
	errc := testutil.Async(func() error { return holder.SetFenced(ctx, key, []byte("newer")) })
	g.await(t)
	if err := rawClient(srv).Set(itemOf(key, "late-older")); err != nil {
		t.Fatal(err)
	}
	close(g.released)
	if err := <-errc; err != nil {
		t.Fatalf("the holder's fenced write: %v", err)
	}
	wantStored(t, srv, key, "newer", "the holder's fenced write was not stored")
}

// TestDL6FencedWrite: a holder's fenced write is stored; one that does not
// hold the lock — lost to another holder, gone, released, or never taken —
// stores nothing and says ErrLockLost; a fenced write of another key than
// the mutex's is refused.
func TestDL6FencedWrite(t *testing.T) {
	b, srv := lockingBackend(t, 1)
	ctx := testutil.Context(t)
	key := testutil.Unique("fenced")
	var f backend.Fenced = b.Mutex(key).(*mutex)
	if err := f.SetFenced(ctx, key, []byte("never")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("a fenced write without the lock: %v; want ErrLockLost", err)
	}
	testutil.MustLock(t, f)
	for _, v := range []string{"v1", "v2"} { // added, then swapped
		if err := f.SetFenced(ctx, key, []byte(v)); err != nil {
			t.Fatal(err)
		}
		wantStored(t, srv, key, v, "the holder's fenced write was not stored")
	}
	if err := f.SetFenced(ctx, key+"-other", []byte("x")); err == nil || errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("a fenced write of another key: %v; want a plain error", err)
	}

	// Lost to another holder.
	if err := b.Client().Delete(b.lockKey(key)); err != nil {
		t.Fatal(err)
	}
	other := b.Mutex(key)
	testutil.MustLock(t, other)
	if err := f.SetFenced(ctx, key, []byte("lost")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("a fenced write after the lock changed hands: %v; want ErrLockLost", err)
	}
	// Gone, and released.
	if err := b.Client().Delete(b.lockKey(key)); err != nil {
		t.Fatal(err)
	}
	if err := other.(backend.Fenced).SetFenced(ctx, key, []byte("gone")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("a fenced write with the lock gone: %v; want ErrLockLost", err)
	}
	testutil.MustLock(t, f)
	if err := f.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.SetFenced(ctx, key, []byte("released")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("a fenced write after Unlock: %v; want ErrLockLost", err)
	}
	wantStored(t, srv, key, "v2", "a write without the lock got through")
}

// TestDL5Renew: a holder's Renew extends its lock to lock_timeout (and the
// server clock's two seconds) from now; it may run beside the holder's fenced writes;
// Renew by a holder whose lock is gone, taken by another or released says
// ErrLockLost and leaves the other's lock alone.
func TestDL5Renew(t *testing.T) {
	b, srv := lockingBackend(t, 5)
	ctx := testutil.Context(t)
	key := testutil.Unique("renew")
	var l lock.Lease = b.Mutex(key).(*mutex)
	if l.TTL() != 5*time.Second {
		t.Fatalf("TTL = %v, want lock_timeout", l.TTL())
	}
	if err := l.Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew before TryLock: %v; want ErrLockLost", err)
	}
	testutil.MustLock(t, l)
	// Shorten the lock on the server (as if its time were nearly up).
	if err := b.Client().Touch(b.lockKey(key), 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if ttl, ok := testserver.MemcachedTTL(t, srv, b.lockKey(key)); !ok || ttl < 6*time.Second {
		t.Fatalf("after Renew the lock's TTL on the server is %v (%v); want lock_timeout and more", ttl, ok)
	}

	// Renewals beside fenced writes (the race detector watches).
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 20 {
			if err := l.Renew(ctx); err != nil {
				t.Error(err)
			}
		}
	})
	for i := range 20 {
		if err := l.(backend.Fenced).SetFenced(ctx, key, []byte(fmt.Sprint(i))); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()

	if err := b.Client().Delete(b.lockKey(key)); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew of a lock that is gone: %v; want ErrLockLost", err)
	}
	other := b.Mutex(key)
	testutil.MustLock(t, other)
	if err := l.Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew of a lock another holds: %v; want ErrLockLost", err)
	}
	if it, err := b.Client().Get(b.lockKey(key)); err != nil || !bytes.Equal(it.Value, other.(*mutex).held()) {
		t.Fatalf("the other holder's lock after a stale Renew: %v, %v", it, err)
	}
	if err := other.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.(lock.Lease).Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew after Unlock: %v; want ErrLockLost", err)
	}
}

// TestDL5RenewFindsALockTakenBetweenReadAndSwap: a holder's lock expires
// and another process takes it between Renew's read (which found the lock
// its holder's) and its swap: the swap is refused, Renew says ErrLockLost,
// and the other's lock stays as it was.
func TestDL5RenewFindsALockTakenBetweenReadAndSwap(t *testing.T) {
	srv := servers(t, 1)[0]
	key := testutil.Unique("renew-race")
	g := newGate()
	m := gatedMutex(t, srv, key, g)
	testutil.MustLock(t, m)
	g.armFunc(passWrite, storageOf(m.lockKey))
	errc := testutil.Async(func() error { return m.Renew(testutil.Context(t)) })
	g.await(t)
	other := lostTo(t, srv, key)
	close(g.released)
	if err := <-errc; !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew of a lock taken by another since its read: %v; want ErrLockLost", err)
	}
	wantHolder(t, srv, other, "a stale Renew changed the lock another process had taken")
}

// TestDL5RenewOverABrokenConnection: the connection breaks under Renew's
// swap, and Renew reads the lock again to learn whether it still holds it:
// if the swap was made, or it was not and the lock is still the holder's,
// the lock is renewed (extended on the server); if it was not and another
// process has taken the lock meanwhile, Renew says ErrLockLost.
func TestDL5RenewOverABrokenConnection(t *testing.T) {
	srv := servers(t, 1)[0]
	for _, c := range []struct {
		name  string
		fault gateFault
		taken bool
	}{
		{"reply lost", loseReply, false},
		{"swap dropped", dropWrite, false},
		{"swap dropped, lock taken meanwhile", dropWrite, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := testutil.Unique("broken-renew")
			g := newGate()
			m := gatedMutex(t, srv, key, g)
			testutil.MustLock(t, m)
			// Shorten the lock on the server, so that a renewal shows.
			if err := rawClient(srv).Touch(m.lockKey, 1); err != nil {
				t.Fatal(err)
			}
			g.armFunc(c.fault, storageOf(m.lockKey))
			errc := testutil.Async(func() error { return m.Renew(testutil.Context(t)) })
			g.await(t)
			var other *mutex
			if c.taken {
				other = lostTo(t, srv, key)
			}
			close(g.released)
			err := <-errc
			if c.taken {
				if !errors.Is(err, lock.ErrLockLost) {
					t.Fatalf("Renew of a lock taken by another while its swap was lost: %v; want ErrLockLost", err)
				}
				wantHolder(t, srv, other, "a stale Renew changed the lock another process had taken")
				return
			}
			if err != nil {
				t.Fatalf("Renew over a broken connection: %v", err)
			}
			wantHolder(t, srv, m, "the renewed lock is not the holder's")
			// lock_timeout 1s is sent as 3s; the lock was shortened to 1s.
			if ttl, ok := testserver.MemcachedTTL(t, srv, m.lockKey); !ok || ttl < 2*time.Second {
				t.Fatalf("after Renew the lock's TTL on the server is %v (%v); want it extended to lock_timeout and more", ttl, ok)
			}
		})
	}
}

// TestDL6FenceReadsTheValueBeforeTheLock: a holder's lock is lost, and the
// next holder stores "newer", while the holder's fenced write reads the
// value: the write, which reads the lock after the value (and so finds it
// another's), stores nothing. (Were the lock read first, the write would
// find it its own, then read "newer" with its CAS id and swap "older" over
// it.)
func TestDL6FenceReadsTheValueBeforeTheLock(t *testing.T) {
	srv := servers(t, 1)[0]
	key := testutil.Unique("dl6-order")
	if err := rawClient(srv).Set(itemOf(key, "before")); err != nil {
		t.Fatal(err)
	}
	fencedWriteLosesItsLock(t, srv, key, readOf(key))
}

// fencedWriteLosesItsLock has a holder's fenced write of "older" to key
// stall at the first command stalledAt matches; meanwhile its lock is lost
// and the next holder stores "newer". The stalled write must then fail
// with ErrLockLost and leave "newer" stored.
func fencedWriteLosesItsLock(t *testing.T, srv, key string, stalledAt func([]byte) bool) {
	t.Helper()
	ctx := testutil.Context(t)
	g := newGate()
	stalled := gatedMutex(t, srv, key, g)
	testutil.MustLock(t, stalled)
	g.armFunc(passWrite, stalledAt)
	errc := testutil.Async(func() error { return stalled.SetFenced(ctx, key, []byte("older")) })
	g.await(t)
	next := lostTo(t, srv, key)
	if err := next.SetFenced(ctx, key, []byte("newer")); err != nil {
		t.Fatal(err)
	}
	close(g.released)
	if err := <-errc; !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("the fenced write of a holder that lost its lock: %v; want ErrLockLost", err)
	}
	wantStored(t, srv, key, "newer", "the holder that lost its lock wrote over the next holder's value")
}
