package dogpiletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/startgate"
	"github.com/dogpile-go/dogpile/lock"
)

// An Option adds to what TestBackend checks.
type Option func(*options)

type options struct {
	shortLease Factory
}

// WithShortLease gives TestBackend a second factory: one that makes the
// backend with a short lock timeout (its lock_timeout argument, say), a
// second or less. The checks of a lock.Lease that let a hold lapse use it: a
// hold lasts at least its TTL, Renew keeps it past its TTL, once it has
// lapsed and been taken over Renew and fenced writes fail with
// lock.ErrLockLost, and a creation slower than the TTL keeps its lock. They
// wait a few TTLs. Without this option they run only if the factory's own
// lease is that short.
func WithShortLease(newBackend Factory) Option {
	return func(o *options) { o.shortLease = newBackend }
}

// maxLapseTTL is the longest TTL the suite waits out.
const maxLapseTTL = 2 * time.Second

// testLease checks a mutex that is a lock.Lease, with whatever TTL it has:
// Renew extends only a hold its holder has.
func testLease(t *testing.T, newMutex func(string) lock.Mutex) {
	ctx := ctxT(t)
	a := newMutex("lease")
	lease := capability[lock.Lease](t, a, "lock.Lease")
	if ttl := lease.TTL(); ttl <= 0 {
		t.Fatalf("TTL() = %v; a lease's hold lasts a positive time", ttl)
	}
	if err := lease.Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew by a holder that never locked = %v; want an error matching lock.ErrLockLost", err)
	}
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if err := lease.Renew(ctx); err != nil {
		t.Fatalf("Renew while holding = %v; want nil", err)
	}
	if ok, _ := newMutex("lease").TryLock(ctx); ok {
		t.Fatal("another holder took the lock after a Renew: Renew released it")
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lease.Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew after Unlock = %v; want an error matching lock.ErrLockLost", err)
	}
	b := newMutex("lease")
	if ok, err := b.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after the holder's Unlock and a failed Renew = %v, %v; Renew took the free lock back", ok, err)
	}
	defer b.Unlock(ctx) //nolint:errcheck
	if err := lease.Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Renew of a lock another holder has = %v; want an error matching lock.ErrLockLost", err)
	}
	if ok, _ := newMutex("lease").TryLock(ctx); ok {
		t.Fatal("a failed Renew released the other holder's lock")
	}
}

// testLeaseLapse checks the hold of a short lease in time: it lasts at least
// its TTL, Renew keeps it past its TTL, and once it has lapsed and been taken
// over its holder can neither renew it nor write through it.
func testLeaseLapse(t *testing.T, b dogpile.Backend, key func(string) string) {
	mb := mutexes(t, b)
	newMutex := func(k string) lock.Mutex { return mb.Mutex(key(k)) }
	lease := capability[lock.Lease](t, newMutex("probe"), "lock.Lease")
	ttl := lease.TTL()
	if ttl <= 0 || ttl > maxLapseTTL {
		t.Skipf("the lease's TTL is %v: the checks that let a hold lapse need one of at most %v (see WithShortLease)", ttl, maxLapseTTL)
	}
	// Generous bounds, so that a slow machine fails nothing: a hold must
	// have lapsed within this, and renewals come every tenth of the TTL.
	lapseBound := 10*ttl + 5*time.Second

	t.Run("RenewKeepsHold", func(t *testing.T) {
		ctx := ctxT(t)
		a := newMutex("renewed")
		if ok, err := a.TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		defer a.Unlock(ctx) //nolint:errcheck
		for start := time.Now(); time.Since(start) < 2*ttl; {
			time.Sleep(ttl / 10) // pacing the renewals, as the dogpile lock does
			if err := capability[lock.Lease](t, a, "lock.Lease").Renew(ctx); err != nil {
				t.Fatalf("Renew %v after TryLock = %v; want the hold extended", time.Since(start), err)
			}
		}
		if ok, _ := newMutex("renewed").TryLock(ctx); ok {
			t.Fatalf("another holder took the lock after two TTLs (%v) of renewals", 2*ttl)
		}
	})

	t.Run("Lapses", func(t *testing.T) {
		ctx := ctxT(t)
		k := key("lapsed")
		a := newMutex("lapsed")
		start := time.Now()
		if ok, err := a.TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		// Another process takes the lock once the hold lapses.
		taker := newMutex("lapsed")
		for {
			ok, err := taker.TryLock(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Since(start) > lapseBound {
				t.Fatalf("a hold of TTL %v did not lapse within %v", ttl, lapseBound)
			}
			time.Sleep(ttl / 20)
		}
		if held := time.Since(start); held < ttl {
			t.Fatalf("another holder took the lock %v after TryLock; a hold lasts at least its TTL (%v)", held, ttl)
		}
		if err := capability[lock.Lease](t, a, "lock.Lease").Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
			t.Fatalf("Renew of a lapsed hold taken over = %v; want an error matching lock.ErrLockLost", err)
		}
		fa, fenced := a.(backend.Fenced)
		if fenced {
			if err := fa.SetFenced(ctx, k, []byte("lapsed holder's")); !errors.Is(err, lock.ErrLockLost) {
				t.Fatalf("SetFenced through a lapsed hold taken over = %v; want an error matching lock.ErrLockLost", err)
			}
			if v, ok := mustGet(t, b, k); ok {
				t.Fatalf("SetFenced through a lapsed hold stored %q", v)
			}
			if err := fencing(t, taker).SetFenced(ctx, k, []byte("taker's")); err != nil {
				t.Fatalf("SetFenced by the holder that took the lock over: %v", err)
			}
		}
		if err := taker.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		// Lapsed and free: still not this holder's.
		if err := capability[lock.Lease](t, a, "lock.Lease").Renew(ctx); !errors.Is(err, lock.ErrLockLost) {
			t.Fatalf("Renew of a lapsed hold = %v; want an error matching lock.ErrLockLost", err)
		}
		if fenced {
			if err := fa.SetFenced(ctx, k, []byte("lapsed holder's")); !errors.Is(err, lock.ErrLockLost) {
				t.Fatalf("SetFenced through a lapsed hold = %v; want an error matching lock.ErrLockLost", err)
			}
			if v, _ := mustGet(t, b, k); string(v) != "taker's" {
				t.Fatalf("after a refused SetFenced the key holds %q; want the taker's value", v)
			}
		}
		if ok, _ := newMutex("lapsed").TryLock(ctx); !ok {
			t.Fatal("the lapsed holder's failed Renew took the free lock back")
		}
	})

	t.Run("RegionCreationOutlivesTTL", func(t *testing.T) {
		// A creator slower than the TTL keeps the lock: the dogpile lock
		// renews it while the creator runs.
		ctx := ctxT(t)
		r := region(t, b)
		k := key("slow")
		v, err := dogpile.GetOrCreate(ctx, r, k, func(ctx context.Context) (string, error) {
			for start := time.Now(); time.Since(start) < 2*ttl; time.Sleep(ttl / 10) {
				if err := context.Cause(ctx); err != nil {
					return "", fmt.Errorf("the creation's context ended after %v: %w", time.Since(start), err)
				}
			}
			if ok, _ := mb.Mutex(k).TryLock(ctx); ok {
				return "", errors.New("another holder took the lock while the creator ran")
			}
			return "slow", nil
		})
		if err != nil || v != "slow" {
			t.Fatalf("GetOrCreate with a creator running two TTLs = %q, %v", v, err)
		}
	})
}

// testFenced checks a mutex that is a backend.Fenced: a write through it
// stores while its holder holds the lock, and nothing once the lock was
// released or another holder has it.
func testFenced(t *testing.T, b dogpile.Backend, key func(string) string) {
	mb := mutexes(t, b)
	ctx := ctxT(t)
	k := key("fenced")
	a := fencing(t, mb.Mutex(k))
	if err := a.SetFenced(ctx, k, []byte("never held")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("SetFenced by a holder that never locked = %v; want an error matching lock.ErrLockLost", err)
	}
	if v, ok := mustGet(t, b, k); ok {
		t.Fatalf("SetFenced by a holder that never locked stored %q", v)
	}
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if err := a.SetFenced(ctx, k, []byte("first")); err != nil {
		t.Fatalf("SetFenced while holding: %v", err)
	}
	if v, ok := mustGet(t, b, k); !ok || string(v) != "first" {
		t.Fatalf("after SetFenced Get = %q, %v; want %q", v, ok, "first")
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.SetFenced(ctx, k, []byte("after release")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("SetFenced after Unlock = %v; want an error matching lock.ErrLockLost", err)
	}
	next := fencing(t, mb.Mutex(k))
	if ok, err := next.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock by the next holder = %v, %v", ok, err)
	}
	defer next.Unlock(ctx) //nolint:errcheck
	if err := a.SetFenced(ctx, k, []byte("taken over")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("SetFenced while another holder has the lock = %v; want an error matching lock.ErrLockLost", err)
	}
	if v, _ := mustGet(t, b, k); string(v) != "first" {
		t.Fatalf("refused SetFenced calls left %q; want %q untouched", v, "first")
	}
	if err := next.SetFenced(ctx, k, []byte("second")); err != nil {
		t.Fatalf("SetFenced by the next holder: %v", err)
	}
	if v, _ := mustGet(t, b, k); string(v) != "second" {
		t.Fatalf("after the next holder's SetFenced Get = %q; want %q", v, "second")
	}
}

// testSwap checks a backend.Swapper: CompareAndSwap stores only over what
// the caller read (nothing, when old is nil), of concurrent swaps from one
// read exactly one wins, and concurrent read-modify-write loops lose no
// update.
func testSwap(t *testing.T, b dogpile.Backend, key func(string) string) {
	sb, ok := b.(backend.Swapper)
	if !ok {
		t.Skipf("%T has no compare-and-swap (backend.Swapper)", b)
	}
	ctx := ctxT(t)
	k := key("cas")
	swap := func(old, new string, isNil bool, want bool) {
		t.Helper()
		var o []byte
		if !isNil {
			o = []byte(old)
		}
		got, err := sb.CompareAndSwap(ctx, k, o, []byte(new))
		if err != nil || got != want {
			t.Fatalf("CompareAndSwap(old %q (nil: %v), new %q) = %v, %v; want %v", old, isNil, new, got, err, want)
		}
	}
	holds := func(want string, present bool) {
		t.Helper()
		if v, ok := mustGet(t, b, k); ok != present || string(v) != want {
			t.Fatalf("the key holds %q (present %v); want %q (present %v)", v, ok, want, present)
		}
	}
	swap("", "v1", true, true) // absent, old nil: stored
	holds("v1", true)
	swap("", "v2", true, false) // present, old nil: refused
	holds("v1", true)
	swap("v1", "v2", false, true) // the value read: stored
	holds("v2", true)
	swap("v1", "v3", false, false) // not the value read: refused
	holds("v2", true)
	if err := b.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	swap("v2", "v3", false, false) // absent, old not nil: refused
	holds("", false)
	swap("", "v3", false, false) // an empty old is an empty value, not absence
	holds("", false)
	swap("", "v3", true, true)
	holds("v3", true)
	swap("v3", "", false, true) // an empty value is a value:
	holds("", true)
	swap("", "v4", true, false) // nil old does not match it,
	swap("", "v4", false, true) // an empty old does
	holds("v4", true)

	// Concurrent swaps from one read: one wins, its value stays.
	for round := range 5 {
		cur, _ := mustGet(t, b, k)
		const n = 8
		var (
			wins   atomic.Int32
			winner atomic.Value
			errs   = make(chan error, n)
		)
		startgate.Run(n, func(g int) {
			mine := []byte(fmt.Sprintf("round %d writer %d", round, g))
			ok, err := sb.CompareAndSwap(ctx, k, cur, mine)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
				winner.Store(mine)
			}
		})
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent CompareAndSwap: %v", err)
		}
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d of %d concurrent swaps from one read won; want exactly 1", round, w, n)
		}
		if v, _ := mustGet(t, b, k); !bytes.Equal(v, winner.Load().([]byte)) {
			t.Fatalf("round %d: the key holds %q, not the winner's %q", round, v, winner.Load())
		}
	}

	// Concurrent read-modify-write loops (read, compare-and-swap, retry on
	// a lost race), as shared invalidation runs them: no update is lost.
	counter := key("cas-counter")
	const workers, each = 8, 25
	errs := make(chan error, workers)
	startgate.Run(workers, func(int) {
		for range each {
			for {
				cur, ok, err := b.Get(ctx, counter)
				if err != nil {
					errs <- err
					return
				}
				var old []byte
				n := 0
				if ok {
					old = cur
					n, _ = strconv.Atoi(string(cur))
				}
				swapped, err := sb.CompareAndSwap(ctx, counter, old, []byte(strconv.Itoa(n+1)))
				if err != nil {
					errs <- err
					return
				}
				if swapped {
					break
				}
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent increments by CompareAndSwap: %v", err)
	}
	if v, _ := mustGet(t, b, counter); string(v) != strconv.Itoa(workers*each) {
		t.Fatalf("after %d concurrent increments by CompareAndSwap the counter is %q: an update was lost", workers*each, v)
	}
}

// testProber checks a mutex that is a lock.Prober: Locked tells whether
// anyone holds it, without taking it.
func testProber(t *testing.T, newMutex func(string) lock.Mutex) {
	ctx := ctxT(t)
	a := newMutex("probed")
	p := capability[lock.Prober](t, a, "lock.Prober (it can't tell whether it is held)")
	other := newMutex("probed")
	locked := func(who string, want bool) {
		t.Helper()
		if got, err := p.Locked(ctx); err != nil || got != want {
			t.Fatalf("Locked() while %s = %v, %v; want %v", who, got, err, want)
		}
	}
	locked("the mutex is free", false)
	if ok, err := other.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after Locked = %v, %v; Locked took the mutex", ok, err)
	}
	locked("another holder has it", true)
	if ok, err := a.TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock of a held mutex = %v, %v; want false", ok, err)
	}
	if err := other.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	locked("the other holder released it", false)
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	locked("its holder has it", true)
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	locked("its holder released it", false)
}

// testFencedSet checks the path a region writes a creation's value by: Set
// (and SetMulti) under a context that holds the backend's mutex for the key
// (lock.WithHeld) write through the mutex — they store while it is held and
// store nothing, with an error matching lock.ErrLockLost, once another holder
// has it.
func testFencedSet(t *testing.T, b dogpile.Backend, key func(string) string) {
	mb := mutexes(t, b)
	ctx := ctxT(t)
	k := key("fenced-set")
	a := mb.Mutex(k)
	// A wrapper's mutex (a tier's) fences the writes of the backend behind
	// it: Set goes through the wrapper, and the backend finds its own
	// mutex behind the one the context holds (lock.As).
	capability[backend.Fenced](t, a, "backend.Fenced (it does not fence writes)")
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	held := lock.WithHeld(ctx, k, a)
	if err := b.Set(held, k, []byte("holder's")); err != nil {
		t.Fatalf("Set under the held lock: %v", err)
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	next := mb.Mutex(k)
	if ok, err := next.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock by the next holder = %v, %v", ok, err)
	}
	defer next.Unlock(ctx) //nolint:errcheck
	if err := b.Set(held, k, []byte("lost holder's")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Set under a hold another holder took over = %v; want an error matching lock.ErrLockLost", err)
	}
	if mb, ok := b.(backend.Multi); ok {
		if err := mb.SetMulti(held, map[string][]byte{k: []byte("lost holder's")}); !errors.Is(err, lock.ErrLockLost) {
			t.Fatalf("SetMulti under a hold another holder took over = %v; want an error matching lock.ErrLockLost", err)
		}
	}
	if v, _ := mustGet(t, b, k); string(v) != "holder's" {
		t.Fatalf("refused writes left %q; want %q untouched", v, "holder's")
	}
	// A context that holds nothing, or another backend's mutex, is a plain
	// write.
	if err := b.Set(ctx, k, []byte("plain")); err != nil {
		t.Fatalf("Set without a held lock: %v", err)
	}
}
