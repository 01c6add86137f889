package lock_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// store is a value with a state, as a cache would hold it.
type store struct {
	mu    sync.Mutex
	v     string
	state lock.State
	loads atomic.Int32
}

func (s *store) load(context.Context) (string, lock.State, error) {
	s.loads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v, s.state, nil
}

func (s *store) put(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v, s.state = v, lock.Fresh
}

// heldElsewhere returns key k's mutex in locks, taken: another process
// holds the lock.
func heldElsewhere(t *testing.T, locks *lock.Local) lock.Mutex {
	t.Helper()
	other := locks.Mutex("k")
	if ok, _ := other.TryLock(context.Background()); !ok {
		t.Fatal("the other process could not take the free mutex")
	}
	return other
}

// otherFinishes is the creation of another process, which holds other,
// ending: it stores v, then releases the mutex.
func otherFinishes(s *store, other lock.Mutex, v string) {
	s.put(v)
	other.Unlock(context.Background()) //nolint:errcheck
}

// gated is a creator that counts its calls and, once release is closed,
// returns "v".
type gated struct {
	calls   atomic.Int32
	release chan struct{}
}

func newGated() *gated { return &gated{release: make(chan struct{})} }

func (c *gated) create(context.Context) (string, error) {
	c.calls.Add(1)
	<-c.release
	return "v", nil
}

func newLock(g *lock.Group, s *store, create func(context.Context) (string, error)) *lock.Lock[string] {
	return &lock.Lock[string]{
		Group: g, Key: "k", Load: s.load,
		Create: func(ctx context.Context) (string, error) {
			v, err := create(ctx)
			if err == nil {
				s.put(v)
			}
			return v, err
		},
	}
}

func TestMissingValueCreatedOnceForAllWaiters(t *testing.T) {
	var g lock.Group
	s := &store{}
	creator := newGated()
	const n = 20
	results := make(chan string, n)
	for range n {
		go func() {
			v, err := newLock(&g, s, creator.create).Get(context.Background())
			if err != nil {
				t.Error(err)
			}
			results <- v
		}()
	}
	testutil.Eventually(t, "all callers in the flight", func() bool { return g.Waiters("k") == n-1 })
	close(creator.release)
	for range n {
		if v := <-results; v != "v" {
			t.Fatalf("caller got %q", v)
		}
	}
	if c := creator.calls.Load(); c != 1 {
		t.Fatalf("creator ran %d times, want 1", c)
	}
}

func TestStaleServedWhileOneRegenerates(t *testing.T) {
	var g lock.Group
	s := &store{v: "old", state: lock.Stale}
	entered, release := make(chan struct{}), make(chan struct{})
	create := func(context.Context) (string, error) { close(entered); <-release; return "new", nil }
	done := make(chan string)
	go func() {
		v, _ := newLock(&g, s, create).Get(context.Background())
		done <- v
	}()
	<-entered
	for range 5 {
		v, err := newLock(&g, s, func(context.Context) (string, error) {
			t.Error("second creator")
			return "", nil
		}).Get(context.Background())
		if err != nil || v != "old" {
			t.Fatalf("got %q, %v; want the stale value at once", v, err)
		}
	}
	close(release)
	if v := <-done; v != "new" {
		t.Fatalf("regenerating caller got %q", v)
	}
}

func TestRecheckAfterMutex(t *testing.T) {
	// The mutex is held by "another process", which stores a fresh value
	// before releasing it: the waiter must return that value, not create.
	var g lock.Group
	var locks lock.Local
	s := &store{}
	other := heldElsewhere(t, &locks)
	l := newLock(&g, s, func(context.Context) (string, error) {
		t.Error("creator ran although a fresh value was stored while waiting")
		return "", nil
	})
	l.Mutex = locks.Mutex("k")
	done := make(chan string)
	go func() {
		v, err := l.Get(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- v
	}()
	testutil.Eventually(t, "the waiter's first load", func() bool { return s.loads.Load() >= 1 })
	otherFinishes(s, other, "from-other-process")
	if v := <-done; v != "from-other-process" {
		t.Fatalf("got %q", v)
	}
}

func TestAsyncLeaderReturnsStaleAndReleases(t *testing.T) {
	var g lock.Group
	s := &store{v: "old", state: lock.Stale}
	runs := make(chan func(), 2)
	mk := func(create func(context.Context) (string, error)) *lock.Lock[string] {
		l := newLock(&g, s, create)
		l.Async = func(f func()) { runs <- f }
		return l
	}
	v, err := mk(func(context.Context) (string, error) { panic("boom") }).Get(context.Background())
	if err != nil || v != "old" {
		t.Fatalf("async leader got %q, %v; want the stale value", v, err)
	}
	if !g.InFlight("k") {
		t.Fatal("the key is not locked while the regeneration is pending")
	}
	(<-runs)() // the panicking regeneration must release the key
	if g.InFlight("k") {
		t.Fatal("a panicking async regeneration did not release the key")
	}
	v, _ = mk(func(context.Context) (string, error) { return "new", nil }).Get(context.Background())
	if v != "old" {
		t.Fatalf("got %q", v)
	}
	(<-runs)()
	if v, st, _ := s.load(context.Background()); v != "new" || st != lock.Fresh {
		t.Fatalf("after the background regeneration the store holds %q (%v)", v, st)
	}
}

func TestPanicReraisedInLeaderWaitersGetError(t *testing.T) {
	var g lock.Group
	s := &store{}
	release := make(chan struct{})
	create := func(context.Context) (string, error) { <-release; panic("boom") }
	leaderPanic := make(chan any)
	go func() {
		defer func() { leaderPanic <- recover() }()
		newLock(&g, s, create).Get(context.Background()) //nolint:errcheck
	}()
	testutil.Eventually(t, "the flight", func() bool { return g.InFlight("k") })
	waiterErr := make(chan error)
	go func() {
		_, err := newLock(&g, s, create).Get(context.Background())
		waiterErr <- err
	}()
	testutil.Eventually(t, "the waiter", func() bool { return g.Waiters("k") == 1 })
	close(release)
	p := <-leaderPanic
	pe, ok := p.(*lock.PanicError)
	if !ok || pe.Value != "boom" {
		t.Fatalf("leader recovered %#v; want a *PanicError with the creator's value", p)
	}
	// Its text ends with the creator's stack, which the panic raised again
	// in the leader's goroutine no longer shows.
	if msg := pe.Error(); !strings.HasPrefix(msg, "dogpile: creator panicked: boom\n\n") || !strings.Contains(msg, "TestPanicReraisedInLeaderWaitersGetError.func") {
		t.Errorf("the panic's error text is %q; want the value, then the creator's stack", msg)
	}
	if err := <-waiterErr; !errors.Is(err, lock.ErrPanicked) {
		t.Fatalf("waiter got %v; want an error matching ErrPanicked", err)
	}
	if g.InFlight("k") {
		t.Fatal("the key stayed locked after the panic")
	}
}

func TestCallerCancelDoesNotCancelCreation(t *testing.T) {
	var g lock.Group
	s := &store{}
	testutil.CallerGivesUp(t, func(ctx context.Context, create testutil.Creator) (string, error) {
		l := newLock(&g, s, create)
		l.Timeout = time.Hour
		return l.Get(ctx)
	}, func() func() bool {
		return func() bool { return g.Waiters("k") == 1 }
	})
}

func TestTwoGroupsShareOneMutex(t *testing.T) {
	// Two groups are two processes; the Local mutex stands for the store's.
	var locks lock.Local
	s := &store{}
	creator := newGated()
	var g1, g2 lock.Group
	done := make(chan string, 2)
	for _, g := range []*lock.Group{&g1, &g2} {
		go func() {
			l := newLock(g, s, creator.create)
			l.Mutex = locks.Mutex("k")
			v, _ := l.Get(context.Background())
			done <- v
		}()
	}
	testutil.Eventually(t, "both flights", func() bool { return g1.InFlight("k") && g2.InFlight("k") && creator.calls.Load() == 1 })
	close(creator.release)
	if a, b := <-done, <-done; a != "v" || b != "v" {
		t.Fatalf("got %q and %q", a, b)
	}
	if c := creator.calls.Load(); c != 1 {
		t.Fatalf("creator ran %d times across two processes, want 1", c)
	}
}

func TestStaleLeaderYieldsToOtherProcess(t *testing.T) {
	// Another process holds the mutex: a stale caller returns the stale
	// value without waiting, and a caller that can't take stale waits.
	var locks lock.Local
	other := heldElsewhere(t, &locks)
	s := &store{v: "old", state: lock.Stale}
	var g lock.Group
	l := newLock(&g, s, func(context.Context) (string, error) { return "mine", nil })
	l.Mutex = locks.Mutex("k")
	if v, err := l.Get(context.Background()); v != "old" || err != nil {
		t.Fatalf("got %q, %v; want the stale value", v, err)
	}
	strict := newLock(&g, s, func(context.Context) (string, error) { return "mine", nil })
	strict.Mutex, strict.NoStale = locks.Mutex("k"), true
	done := make(chan string)
	go func() { v, _ := strict.Get(context.Background()); done <- v }()
	testutil.Eventually(t, "the strict caller's flight", func() bool { return g.InFlight("k") })
	otherFinishes(s, other, "theirs")
	if v := <-done; v != "theirs" {
		t.Fatalf("NoStale caller got %q, want the other process's value", v)
	}
}

// A NoStale caller that finds a stale value while another caller in this
// process regenerates it waits for the new value: it is not served the
// stale one, as the others are.
func TestNoStaleWaitsForARegenerationInThisProcess(t *testing.T) {
	var g lock.Group
	s := &store{v: "old", state: lock.Stale}
	c := newGated()
	regenerated := make(chan string, 1)
	go func() { v, _ := newLock(&g, s, c.create).Get(context.Background()); regenerated <- v }()
	testutil.Eventually(t, "the regeneration's flight", func() bool { return g.InFlight("k") })
	got := joinAsNoStale(t, &g, newLock(&g, s, c.create), "while the key was being regenerated")
	close(c.release)
	if v, w := <-got, <-regenerated; v != "v" || w != "v" {
		t.Fatalf("the NoStale caller got %q and the regenerating one %q; want the new value for both", v, w)
	}
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("creator ran %d times, want 1", n)
	}
}

// joinAsNoStale starts strict.Get as a NoStale caller and returns the
// channel of its answer once it has joined key k's flight; a caller that
// answered instead, when, fails t.
func joinAsNoStale(t *testing.T, g *lock.Group, strict *lock.Lock[string], when string) <-chan string {
	t.Helper()
	strict.NoStale = true
	got := make(chan string, 1)
	go func() { v, _ := strict.Get(context.Background()); got <- v }()
	testutil.Eventually(t, "the NoStale caller joining the flight", func() bool { return g.Waiters("k") == 1 || len(got) == 1 })
	if len(got) == 1 {
		t.Fatalf("a NoStale caller got %q %s; want it to wait for the flight", <-got, when)
	}
	return got
}

// triedFirst is a Mutex whose TryLock waits for proceed before it tries: it
// holds a flight open at the point where another process's lock is found.
type triedFirst struct {
	lock.Mutex
	trying  chan struct{}
	proceed chan struct{}
}

func (m *triedFirst) TryLock(ctx context.Context) (bool, error) {
	m.trying <- struct{}{}
	<-m.proceed
	return m.Mutex.TryLock(ctx)
}

// A NoStale caller that joined a flight which ended serving the stale value
// (another process holds the key's mutex) is not served it either: it waits
// for the other process's value.
func TestNoStaleJoinerOfAFlightServedStaleWaits(t *testing.T) {
	var locks lock.Local
	other := heldElsewhere(t, &locks)
	s := &store{v: "old", state: lock.Stale}
	var g lock.Group
	mine := func(context.Context) (string, error) { return "mine", nil }
	leader := newLock(&g, s, mine)
	tried := &triedFirst{Mutex: locks.Mutex("k"), trying: make(chan struct{}, 1), proceed: make(chan struct{})}
	leader.Mutex = tried
	served := make(chan string, 1)
	go func() { v, _ := leader.Get(context.Background()); served <- v }()
	<-tried.trying
	strict := newLock(&g, s, mine)
	strict.Mutex = locks.Mutex("k")
	got := joinAsNoStale(t, &g, strict, "before the flight it should have joined ended")
	close(tried.proceed)
	if v := <-served; v != "old" {
		t.Fatalf("the leader got %q; want the stale value, another process holding the lock", v)
	}
	// The NoStale caller looks again after the flight (the third load: the
	// leader's, its own, this one) and finds the value still stale.
	testutil.Eventually(t, "the NoStale caller loading again", func() bool { return s.loads.Load() >= 3 })
	otherFinishes(s, other, "theirs")
	if v := <-got; v != "theirs" {
		t.Fatalf("the NoStale caller got %q; want the other process's value", v)
	}
}

func TestCreatorErrorReturnedNotKept(t *testing.T) {
	var g lock.Group
	s := &store{}
	boom := errors.New("boom")
	if _, err := newLock(&g, s, func(context.Context) (string, error) { return "", boom }).Get(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if v, err := newLock(&g, s, func(context.Context) (string, error) { return "ok", nil }).Get(context.Background()); v != "ok" || err != nil {
		t.Fatalf("after an error the next call got %q, %v", v, err)
	}
}

// wrapped is a mutex that wraps another, as a proxy's does.
type wrapped struct{ lock.Mutex }

func (w wrapped) Unwrap() lock.Mutex { return w.Mutex }

// As looks for what it is asked for along the chain of wrappers, the
// outermost first, and reports false at the end of the chain.
func TestAsFollowsTheChainOfWrappers(t *testing.T) {
	var l lock.Local
	inner := &leaseMutex{Mutex: l.Mutex("k"), ttl: time.Minute}
	outer := wrapped{wrapped{inner}}
	if got, ok := lock.As[lock.Lease](outer); !ok || got != lock.Lease(inner) {
		t.Errorf("As[Lease] = %v, %v; want the lease two wrappers in", got, ok)
	}
	if got, ok := lock.As[wrapped](outer); !ok || got != outer {
		t.Errorf("As[wrapped] = %v, %v; want the outermost wrapper", got, ok)
	}
	if _, ok := lock.As[lock.Lease](wrapped{l.Mutex("k")}); ok {
		t.Error("As found a Lease in a chain without one")
	}
	if _, ok := lock.As[lock.Lease](nil); ok {
		t.Error("As found a Lease in no mutex")
	}
}
