package lock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// leaseMutex is a Local mutex with a lease: renewals are counted and
// answered by renew (nil: renewed).
type leaseMutex struct {
	lock.Mutex
	ttl     time.Duration
	renews  atomic.Int32
	renew   func(n int32) error
	renewed chan int32 // each renewal's number, if not nil
}

func (m *leaseMutex) TTL() time.Duration { return m.ttl }

func (m *leaseMutex) Renew(context.Context) error {
	n := m.renews.Add(1)
	if m.renewed != nil {
		m.renewed <- n
	}
	if m.renew != nil {
		return m.renew(n)
	}
	return nil
}

// eventCounts counts the events a lock observes.
type eventCounts struct{ m sync.Map }

func (c *eventCounts) observe(e lock.Event, _ time.Duration) {
	n, _ := c.m.LoadOrStore(e, new(atomic.Int32))
	n.(*atomic.Int32).Add(1)
}

func (c *eventCounts) count(e lock.Event) int32 {
	if n, ok := c.m.Load(e); ok {
		return n.(*atomic.Int32).Load()
	}
	return 0
}

// hangingLease is a Local mutex with a lease whose renewals hang until
// their context ends, as on a store that stopped answering. It records a
// release that came while a renewal was still running.
type hangingLease struct {
	lock.Mutex
	ttl          time.Duration
	entered      chan struct{} // closed when the first renewal begins
	once         sync.Once
	giveUp       chan struct{} // closed by a test that failed: renewals return
	renewing     atomic.Int32
	unlockedAmid atomic.Bool
}

func newHangingLease(m lock.Mutex, ttl time.Duration) *hangingLease {
	return &hangingLease{Mutex: m, ttl: ttl, entered: make(chan struct{}), giveUp: make(chan struct{})}
}

func (m *hangingLease) TTL() time.Duration { return m.ttl }

func (m *hangingLease) Renew(ctx context.Context) error {
	m.renewing.Add(1)
	defer m.renewing.Add(-1)
	m.once.Do(func() { close(m.entered) })
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-m.giveUp:
		return errors.New("the test gave up")
	}
}

func (m *hangingLease) Unlock(ctx context.Context) error {
	if m.renewing.Load() != 0 {
		m.unlockedAmid.Store(true)
	}
	return m.Mutex.Unlock(ctx)
}

// failingMutex fails every call, as a mutex whose store is down does.
type failingMutex struct{ err error }

func (m failingMutex) TryLock(context.Context) (bool, error) { return false, m.err }
func (m failingMutex) Lock(context.Context) error            { return m.err }
func (m failingMutex) Unlock(context.Context) error          { return nil }

// ended waits for ctx to end, for at most 10s, and reports whether it did.
func ended(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

func TestDL5LeaseRenewedWhileCreatorRuns(t *testing.T) {
	// A creator that outlives several TTLs keeps its lease: the lock renews
	// it every TTL/3 for as long as the creation runs, and stops once it
	// is done.
	var locks lock.Local
	m := &leaseMutex{Mutex: locks.Mutex("k"), ttl: 30 * time.Millisecond, renewed: make(chan int32, 16)}
	s := &store{}
	var g lock.Group
	l := newLock(&g, s, func(ctx context.Context) (string, error) {
		// Run for three TTLs, counted by renewals (nine of them).
		for n := int32(0); n < 9; {
			select {
			case n = <-m.renewed:
			case <-time.After(10 * time.Second):
				t.Errorf("only %d renewals while the creator ran", n)
				return "", errors.New("not renewed")
			}
		}
		if err := context.Cause(ctx); err != nil {
			t.Errorf("creation context ended: %v", err)
		}
		return "slow", nil
	})
	l.Mutex = m
	if v, err := l.Get(context.Background()); v != "slow" || err != nil {
		t.Fatalf("got %q, %v", v, err)
	}
	after := m.renews.Load()
	// No renewal runs once the creation has returned: the renewer is waited
	// for before the mutex is released.
	other := locks.Mutex("k")
	if ok, _ := other.TryLock(context.Background()); !ok {
		t.Fatal("the lock was not released after the creation")
	}
	if n := m.renews.Load(); n != after {
		t.Fatalf("%d renewals after the creation returned", n-after)
	}
}

func TestDL5LostLeaseCancelsCreationWithCause(t *testing.T) {
	// The store reports the lease gone: the creator's context ends with
	// ErrLockLost as its cause. The flight then waits for the lock again
	// and loads again: the later holder's value is the answer, and this
	// creator does not run a second time.
	var locks lock.Local
	m := &leaseMutex{Mutex: locks.Mutex("k"), ttl: 30 * time.Millisecond, renew: func(int32) error { return lock.ErrLockLost }}
	s := &store{}
	var g lock.Group
	var calls atomic.Int32
	var cause error
	var renewals int32
	l := newLock(&g, s, func(ctx context.Context) (string, error) {
		calls.Add(1)
		if !ended(ctx) {
			return "", errors.New("the creation's context never ended")
		}
		cause, renewals = context.Cause(ctx), m.renews.Load()
		s.put("later holder's") // what the holder that took the lost lock stored
		return "", ctx.Err()
	})
	l.Mutex = m
	var events eventCounts
	l.Observe = events.observe
	v, err := l.Get(context.Background())
	if !errors.Is(cause, lock.ErrLockLost) {
		t.Fatalf("the creator's context ended with cause %v, want ErrLockLost", cause)
	}
	if v != "later holder's" || err != nil {
		t.Fatalf("got %q, %v; want the later holder's value", v, err)
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("creator ran %d times", c)
	}
	if renewals != 1 {
		t.Fatalf("the creation was told after %d renewals; want at the first that found the lease gone", renewals)
	}
	if n := events.count(lock.LeaseLost); n != 1 {
		t.Fatalf("LeaseLost observed %d times, want once", n)
	}
}

func TestDL5UnreachableStoreEndsLeaseAfterTTL(t *testing.T) {
	// Renewals that fail to reach the store don't end the creation at once
	// (the next one may succeed), but once a whole TTL has passed without a
	// renewal the hold has surely ended: the creation is told.
	var locks lock.Local
	unreachable := errors.New("connection refused")
	m := &leaseMutex{Mutex: locks.Mutex("k"), ttl: 30 * time.Millisecond, renew: func(int32) error { return unreachable }}
	var g lock.Group
	s := &store{}
	var ranFor time.Duration
	l := newLock(&g, s, func(ctx context.Context) (string, error) {
		start := time.Now()
		if !ended(ctx) {
			return "", errors.New("the creation's context never ended")
		}
		ranFor = time.Since(start)
		return "", context.Cause(ctx)
	})
	l.Mutex = m
	if _, err := l.Get(context.Background()); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("got %v, want ErrLockLost", err)
	}
	if ranFor < m.ttl {
		t.Fatalf("the lease was given up after %v of failed renewals; want it kept while the TTL (%v) lasts", ranFor, m.ttl)
	}
	if n := m.renews.Load(); n < 1 {
		t.Fatal("no renewal was tried")
	}
}

func TestHeldIsTheCreationsMutex(t *testing.T) {
	var locks lock.Local
	m := locks.Mutex("k")
	var g lock.Group
	var got, other lock.Mutex
	l := newLock(&g, &store{}, func(ctx context.Context) (string, error) {
		got, other = lock.Held(ctx, "k"), lock.Held(ctx, "elsewhere")
		return "v", nil
	})
	l.Mutex = m
	if _, err := l.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got != m || other != nil {
		t.Fatalf("Held = %v for the key, %v for another; want the flight's mutex and nil", got, other)
	}
	if lock.Held(context.Background(), "k") != nil {
		t.Fatal("Held outside a creation is not nil")
	}
}

func TestDL8MutexErrorServesStaleAndIsReportedForMissing(t *testing.T) {
	down := errors.New("store down")
	var g lock.Group
	var failed atomic.Int32
	observe := func(e lock.Event, _ time.Duration) {
		if e == lock.MutexFailed {
			failed.Add(1)
		}
	}
	// A stale value: served, the failure observed.
	stale := newLock(&g, &store{v: "old", state: lock.Stale}, func(context.Context) (string, error) { return "new", nil })
	stale.Mutex, stale.Observe = failingMutex{down}, observe
	if v, err := stale.Get(context.Background()); v != "old" || err != nil {
		t.Fatalf("stale caller got %q, %v; want the stale value", v, err)
	}
	// No value: the error, as a *MutexError wrapping the store's.
	missing := newLock(&g, &store{}, func(context.Context) (string, error) { return "new", nil })
	missing.Mutex, missing.Observe = failingMutex{down}, observe
	_, err := missing.Get(context.Background())
	var me *lock.MutexError
	if !errors.As(err, &me) || !errors.Is(err, down) {
		t.Fatalf("got %v; want a *MutexError wrapping the store's error", err)
	}
	if n := failed.Load(); n != 1 {
		t.Fatalf("MutexFailed observed %d times, want 1 (the stale caller's)", n)
	}
}

// waiterMutex is a held lock whose LockOrWait reports each release of the
// other holder; it counts how often it was taken and released.
type waiterMutex struct {
	lock.Mutex
	released chan struct{} // a release of the other holder's lock
	taken    atomic.Int32
	unlocks  atomic.Int32
}

func (m *waiterMutex) Unlock(ctx context.Context) error {
	m.unlocks.Add(1)
	return m.Mutex.Unlock(ctx)
}

func (m *waiterMutex) LockOrWait(ctx context.Context) (bool, error) {
	select {
	case <-m.released:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (m *waiterMutex) TryLock(ctx context.Context) (bool, error) {
	ok, err := m.Mutex.TryLock(ctx)
	if ok {
		m.taken.Add(1)
	}
	return ok, err
}

func TestDL7WaiterLoadsAtReleaseInsteadOfTakingTheLock(t *testing.T) {
	// Another process holds the lock and creates; at its release the
	// waiting flight loads the value it stored and never takes the lock,
	// nor releases it: a release of a lock it does not hold could free
	// another holder's, wherever the store's release is not fenced.
	var locks lock.Local
	heldElsewhere(t, &locks)
	m := &waiterMutex{Mutex: locks.Mutex("k"), released: make(chan struct{}, 1)}
	s := &store{}
	var g lock.Group
	var created atomic.Int32
	l := newLock(&g, s, func(context.Context) (string, error) { created.Add(1); return "mine", nil })
	l.Mutex = m
	done := make(chan string)
	go func() { v, _ := l.Get(context.Background()); done <- v }()
	testutil.Eventually(t, "the flight", func() bool { return g.InFlight("k") })
	s.put("theirs")
	m.released <- struct{}{}
	select {
	case v := <-done:
		if v != "theirs" {
			t.Fatalf("got %q, want the other process's value", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting flight did not load the value at the release")
	}
	if n, c := m.taken.Load(), created.Load(); n != 0 || c != 0 {
		t.Fatalf("the lock was taken %d times and the creator ran %d times; want 0 and 0", n, c)
	}
	// Released, if at all, before the flight ended and Get returned.
	if n := m.unlocks.Load(); n != 0 {
		t.Fatalf("the lock it never took was released %d times, want 0", n)
	}
}

// A lease without a TTL (it does not expire) is never renewed.
func TestDL5LeaseWithoutTTLIsNotRenewed(t *testing.T) {
	var locks lock.Local
	renewed := make(chan struct{})
	var once sync.Once
	m := &leaseMutex{Mutex: locks.Mutex("k"), renew: func(int32) error {
		once.Do(func() { close(renewed) })
		return nil
	}}
	var g lock.Group
	l := newLock(&g, &store{}, func(context.Context) (string, error) {
		// A renewer, had one started, would renew at once and again: a
		// window much longer than that is enough to see one.
		select {
		case <-renewed:
			return "", errors.New("a lease without a TTL was renewed")
		case <-time.After(50 * time.Millisecond):
			return "v", nil
		}
	})
	l.Mutex = m
	if v, err := l.Get(context.Background()); v != "v" || err != nil {
		t.Fatalf("got %q, %v", v, err)
	}
}

// A failed renewal (the store did not answer) after renewals that
// succeeded keeps the hold if the last success is less than a TTL ago,
// however long the creation has run.
func TestDL5RenewalFailingAfterSuccessesKeepsTheHold(t *testing.T) {
	var locks lock.Local
	unreachable := errors.New("connection refused")
	// Renewals every 100ms; the fourth fails, 400ms after the creation
	// began (more than a TTL) and 100ms after the third succeeded.
	m := &leaseMutex{Mutex: locks.Mutex("k"), ttl: 300 * time.Millisecond, renewed: make(chan int32, 16),
		renew: func(n int32) error {
			if n == 4 {
				return unreachable
			}
			return nil
		}}
	var g lock.Group
	var events eventCounts
	l := newLock(&g, &store{}, func(ctx context.Context) (string, error) {
		for n := int32(0); n < 5; {
			select {
			case n = <-m.renewed:
			case <-ctx.Done():
				return "", context.Cause(ctx)
			}
		}
		return "v", nil
	})
	l.Mutex, l.Observe = m, events.observe
	if v, err := l.Get(context.Background()); v != "v" || err != nil {
		t.Fatalf("got %q, %v; want the creation to keep its hold through one failed renewal", v, err)
	}
	if n := events.count(lock.LeaseLost); n != 0 {
		t.Fatalf("LeaseLost observed %d times", n)
	}
}

// A renewal that hangs is given up after a third of the TTL, like one that
// fails: once a whole TTL has passed without a renewal the creation is told
// its hold has ended.
func TestDL5HangingRenewalEndsTheHoldAfterTTL(t *testing.T) {
	var locks lock.Local
	m := newHangingLease(locks.Mutex("k"), 30*time.Millisecond)
	var g lock.Group
	var cause error
	l := newLock(&g, &store{}, func(ctx context.Context) (string, error) {
		if !ended(ctx) {
			close(m.giveUp) // the renewal hangs still: end it, so that the test ends
			return "", errors.New("the creation's context never ended")
		}
		cause = context.Cause(ctx)
		return "", cause
	})
	l.Mutex = m
	l.Get(context.Background()) //nolint:errcheck // the cause is what counts
	if !errors.Is(cause, lock.ErrLockLost) {
		t.Fatalf("the creation ended with cause %v, want ErrLockLost", cause)
	}
}

// The lock is released only once no renewal of it is running: a creation
// that returns while a renewal hangs waits for that renewal to give up
// before the release.
func TestDL5ReleaseWaitsForTheRunningRenewal(t *testing.T) {
	var locks lock.Local
	m := newHangingLease(locks.Mutex("k"), 30*time.Millisecond)
	var g lock.Group
	l := newLock(&g, &store{}, func(context.Context) (string, error) {
		<-m.entered // a renewal is running
		return "v", nil
	})
	l.Mutex = m
	if v, err := l.Get(context.Background()); v != "v" || err != nil {
		t.Fatalf("got %q, %v", v, err)
	}
	if m.unlockedAmid.Load() {
		t.Fatal("the lock was released while a renewal of it was running")
	}
}

// A loss the creation reported itself (a refused fenced write, through
// ReportLost, which the region counts) is not counted again when a renewal
// then finds the lease gone.
func TestDL5LossReportedByTheCreationIsCountedOnce(t *testing.T) {
	var locks lock.Local
	m := &leaseMutex{Mutex: locks.Mutex("k"), ttl: 30 * time.Millisecond, renew: func(int32) error { return lock.ErrLockLost }}
	var g lock.Group
	var events eventCounts
	reported := false
	l := newLock(&g, &store{}, func(ctx context.Context) (string, error) {
		reported = lock.ReportLost(ctx, "k")
		if !ended(ctx) {
			return "", errors.New("the creation's context never ended")
		}
		return "", context.Cause(ctx)
	})
	l.Mutex, l.Observe = m, events.observe
	l.Get(context.Background()) //nolint:errcheck
	if !reported {
		t.Fatal("ReportLost of the creation's own key = false, want true (the first report)")
	}
	if n := events.count(lock.LeaseLost); n != 0 {
		t.Fatalf("LeaseLost observed %d times by the lock; the creation's report was the one", n)
	}
}
