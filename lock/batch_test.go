package lock_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// kvStore holds values with their states by key, as a cache would, and
// records the keys of every Load.
type kvStore struct {
	mu    sync.Mutex
	m     map[string]kv
	loads [][]string
}

type kv struct {
	v  string
	st lock.State
}

func newKV(init map[string]kv) *kvStore {
	if init == nil {
		init = map[string]kv{}
	}
	return &kvStore{m: init}
}

func (s *kvStore) load(_ context.Context, keys []string) ([]string, []lock.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads = append(s.loads, slices.Clone(keys))
	vs, sts := make([]string, len(keys)), make([]lock.State, len(keys))
	for i, k := range keys {
		e, ok := s.m[k]
		if !ok {
			e.st = lock.Missing
		}
		vs[i], sts[i] = e.v, e.st
	}
	return vs, sts, nil
}

func (s *kvStore) put(k, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = kv{v, lock.Fresh}
}

// creates records the keys of each creator call and makes "K:" + key
// values (or runs body, if set).
type creates struct {
	mu    sync.Mutex
	calls [][]string
	body  func(ctx context.Context, keys []string) ([]string, error)
}

func (c *creates) create(ctx context.Context, keys []string) ([]string, error) {
	c.mu.Lock()
	c.calls = append(c.calls, slices.Clone(keys))
	c.mu.Unlock()
	if c.body != nil {
		return c.body(ctx, keys)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.ToUpper(k) + ":new"
	}
	return out, nil
}

func (c *creates) got() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func newBatch(g *lock.Group, s *kvStore, c *creates, keys ...string) *lock.Batch[string] {
	return &lock.Batch[string]{
		Group: g, Keys: keys, Load: s.load,
		Create: func(ctx context.Context, keys []string) ([]string, error) {
			vs, err := c.create(ctx, keys)
			if err == nil && len(vs) == len(keys) {
				for i, k := range keys {
					s.put(k, vs[i])
				}
			}
			return vs, err
		},
	}
}

// recordingMutexes hands out mutexes of a Local that record, in order, the
// keys they are taken for, and run a hook before Lock.
type recordingMutexes struct {
	locks  lock.Local
	mu     sync.Mutex
	taken  []string
	onLock func(key string)
}

type recordingMutex struct {
	lock.Mutex
	r   *recordingMutexes
	key string
}

func (r *recordingMutexes) Mutex(key string) lock.Mutex {
	return recordingMutex{Mutex: r.locks.Mutex(key), r: r, key: key}
}

func (m recordingMutex) record() {
	m.r.mu.Lock()
	m.r.taken = append(m.r.taken, m.key)
	m.r.mu.Unlock()
}

func (m recordingMutex) TryLock(ctx context.Context) (bool, error) {
	m.record()
	return m.Mutex.TryLock(ctx)
}

func (m recordingMutex) Lock(ctx context.Context) error {
	m.record()
	if m.r.onLock != nil {
		m.r.onLock(m.key)
	}
	return m.Mutex.Lock(ctx)
}

func (r *recordingMutexes) order() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.taken)
}

func TestM3BatchCreatesOnceWithTheKeysStillWithoutValue(t *testing.T) {
	// a is fresh, b stale, c and d missing, e missing but stored by another
	// process while this call waits for e's mutex: one creator call, with
	// b, c and d, in the order of the keys.
	var g lock.Group
	s := newKV(map[string]kv{"a": {"A", lock.Fresh}, "b": {"B:old", lock.Stale}})
	var c creates
	ms := &recordingMutexes{}
	other := ms.locks.Mutex("e")
	if ok, _ := other.TryLock(context.Background()); !ok {
		t.Fatal("TryLock")
	}
	ms.onLock = func(key string) {
		if key == "e" {
			s.put("e", "E:theirs")
			other.Unlock(context.Background()) //nolint:errcheck
		}
	}
	b := newBatch(&g, s, &c, "a", "e", "b", "c", "d")
	b.Mutex = ms.Mutex
	got, err := b.Get(context.Background())
	if want := []string{"A", "E:theirs", "B:new", "C:new", "D:new"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Get = %q, %v; want %q", got, err, want)
	}
	if calls := c.got(); len(calls) != 1 || !slices.Equal(calls[0], []string{"b", "c", "d"}) {
		t.Fatalf("creator calls %q; want one, with [b c d]", calls)
	}
	// One load of every key, one again once the mutexes are held.
	if !slices.Equal(s.loads[1], []string{"e", "b", "c", "d"}) || len(s.loads) != 2 {
		t.Fatalf("loads %q; want all keys, then the four without a fresh value", s.loads)
	}
}

func TestBatchTakesMutexesInKeyOrder(t *testing.T) {
	// Two calls asking for overlapping keys in different orders (in one
	// process or two) would deadlock if each took its mutexes in its own
	// order.
	var g lock.Group
	ms := &recordingMutexes{}
	b := newBatch(&g, newKV(nil), &creates{}, "d", "b", "c", "a")
	b.Mutex = ms.Mutex
	if _, err := b.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ms.order(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("mutexes taken in the order %q; want the keys' order", got)
	}
}

func TestBatchRepeatedKeyCreatedOnce(t *testing.T) {
	var g lock.Group
	var c creates
	got, err := newBatch(&g, newKV(nil), &c, "p", "q", "p").Get(context.Background())
	if want := []string{"P:new", "Q:new", "P:new"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Get = %q, %v; want %q", got, err, want)
	}
	if calls := c.got(); len(calls) != 1 || !slices.Equal(calls[0], []string{"p", "q"}) {
		t.Fatalf("creator calls %q; want one, with [p q]", calls)
	}
}

func TestL1BatchWaitsForAnotherCallersFlight(t *testing.T) {
	// b's value is being created by another caller: the batch creates only
	// a, and waits for b.
	var g lock.Group
	s := newKV(nil)
	entered, release := make(chan struct{}), make(chan struct{})
	single := &lock.Lock[string]{Group: &g, Key: "b",
		Load: func(ctx context.Context) (string, lock.State, error) {
			vs, sts, err := s.load(ctx, []string{"b"})
			return vs[0], sts[0], err
		},
		Create: func(context.Context) (string, error) {
			close(entered)
			<-release
			s.put("b", "B:other")
			return "B:other", nil
		},
	}
	other := make(chan error, 1)
	go func() { _, err := single.Get(context.Background()); other <- err }()
	<-entered

	c := &creates{}
	c.body = func(_ context.Context, keys []string) ([]string, error) {
		// The batch has joined b's flight before it creates.
		close(release)
		return []string{"A:new"}, nil
	}
	got, err := newBatch(&g, s, c, "a", "b").Get(context.Background())
	if want := []string{"A:new", "B:other"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Get = %q, %v; want %q", got, err, want)
	}
	if calls := c.got(); len(calls) != 1 || !slices.Equal(calls[0], []string{"a"}) {
		t.Fatalf("creator calls %q; want one, with [a]", calls)
	}
	if err := <-other; err != nil {
		t.Fatal(err)
	}
}

func TestL4BatchAsyncWhenEveryKeyIsStale(t *testing.T) {
	var g lock.Group
	s := newKV(map[string]kv{"a": {"A:old", lock.Stale}, "b": {"B:old", lock.Stale}})
	runs := make(chan func(), 2)
	var c creates
	mk := func(keys ...string) *lock.Batch[string] {
		b := newBatch(&g, s, &c, keys...)
		b.Async = func(f func()) { runs <- f }
		return b
	}
	got, err := mk("a", "b").Get(context.Background())
	if want := []string{"A:old", "B:old"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Get = %q, %v; want the stale values at once", got, err)
	}
	if len(runs) != 1 || len(c.got()) != 0 {
		t.Fatalf("%d regenerations handed to the runner and %d creator calls; want 1 and 0", len(runs), len(c.got()))
	}
	(<-runs)()
	if calls := c.got(); len(calls) != 1 || !slices.Equal(calls[0], []string{"a", "b"}) {
		t.Fatalf("creator calls %q; want one, with [a b]", calls)
	}
	if g.InFlight("a") || g.InFlight("b") {
		t.Fatal("keys still in flight after the background regeneration")
	}
	// A missing key among stale ones: one creation in the foreground.
	s.m["a"] = kv{"A:old", lock.Stale}
	got, err = mk("a", "m").Get(context.Background())
	if want := []string{"A:new", "M:new"}; err != nil || !slices.Equal(got, want) || len(runs) != 0 {
		t.Fatalf("Get = %q, %v with %d background runs; want %q created at once", got, err, len(runs), want)
	}
}

func TestL5BatchPanicFinishesEveryFlight(t *testing.T) {
	var g lock.Group
	s := newKV(nil)
	ms := &recordingMutexes{}
	release := make(chan struct{})
	c := &creates{body: func(context.Context, []string) ([]string, error) {
		<-release
		panic("boom")
	}}
	b := newBatch(&g, s, c, "a", "b")
	b.Mutex = ms.Mutex
	leaderPanic := make(chan any, 1)
	go func() {
		defer func() { leaderPanic <- recover() }()
		b.Get(context.Background()) //nolint:errcheck
	}()
	testutil.Eventually(t, "the flights", func() bool { return g.InFlight("a") && g.InFlight("b") })
	waiter := make(chan error, 1)
	go func() {
		_, err := newBatch(&g, s, &creates{}, "b").Get(context.Background())
		waiter <- err
	}()
	testutil.Eventually(t, "the waiter", func() bool { return g.Waiters("b") == 1 })
	close(release)
	if pe, ok := (<-leaderPanic).(*lock.PanicError); !ok || pe.Value != "boom" {
		t.Fatalf("the caller that ran the creator recovered %#v; want a *PanicError", pe)
	}
	if err := <-waiter; !errors.Is(err, lock.ErrPanicked) {
		t.Fatalf("the waiter got %v; want ErrPanicked", err)
	}
	if g.InFlight("a") || g.InFlight("b") {
		t.Fatal("a key stayed in flight after the panic")
	}
	for _, k := range []string{"a", "b"} {
		if ok, _ := ms.locks.Mutex(k).TryLock(context.Background()); !ok {
			t.Fatalf("%s's mutex was not released after the panic", k)
		}
	}
}

func TestR13BatchCreatorErrorReachesEveryKey(t *testing.T) {
	var g lock.Group
	s := newKV(nil)
	boom := errors.New("boom")
	if _, err := newBatch(&g, s, &creates{body: func(context.Context, []string) ([]string, error) { return nil, boom }}, "a", "b").Get(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("got %v; want the creator's error", err)
	}
	short := &creates{body: func(context.Context, []string) ([]string, error) { return []string{"one"}, nil }}
	if _, err := newBatch(&g, s, short, "a", "b").Get(context.Background()); err == nil {
		t.Fatal("a creator returning 1 value for 2 keys: no error")
	}
	if g.InFlight("a") || g.InFlight("b") {
		t.Fatal("a key stayed in flight after the error")
	}
	if got, err := newBatch(&g, s, &creates{}, "a", "b").Get(context.Background()); err != nil || !slices.Equal(got, []string{"A:new", "B:new"}) {
		t.Fatalf("after errors the next call got %q, %v", got, err)
	}
}

func TestDL5BatchRenewsEveryLeaseAndRetriesAfterALoss(t *testing.T) {
	// leases returns a and b's mutexes as leases of 30ms; b's renewals are
	// answered by renewB.
	leases := func(renewB func(n int32) error) (map[string]*leaseMutex, func(string) lock.Mutex) {
		var locks lock.Local
		m := map[string]*leaseMutex{
			"a": {Mutex: locks.Mutex("a"), ttl: 30 * time.Millisecond, renewed: make(chan int32, 64)},
			"b": {Mutex: locks.Mutex("b"), ttl: 30 * time.Millisecond, renewed: make(chan int32, 64), renew: renewB},
		}
		return m, func(k string) lock.Mutex { return m[k] }
	}

	t.Run("renewed", func(t *testing.T) {
		ls, mutex := leases(nil)
		var g lock.Group
		c := &creates{body: func(ctx context.Context, keys []string) ([]string, error) {
			// Run for three renewals of each lease.
			for _, k := range keys {
				for n := int32(0); n < 3; {
					select {
					case n = <-ls[k].renewed:
					case <-time.After(10 * time.Second):
						return nil, errors.New(k + " not renewed")
					}
				}
			}
			if err := context.Cause(ctx); err != nil {
				return nil, err
			}
			return []string{"A", "B"}, nil
		}}
		b := newBatch(&g, newKV(nil), c, "a", "b")
		b.Mutex = mutex
		if got, err := b.Get(context.Background()); err != nil || !slices.Equal(got, []string{"A", "B"}) {
			t.Fatalf("Get = %q, %v", got, err)
		}
	})

	t.Run("lost", func(t *testing.T) {
		// b's first renewal finds it gone: the creation's context ends with
		// ErrLockLost; the retry loads again, finds the value the holder
		// that took b over stored, and creates only a.
		_, mutex := leases(func(n int32) error {
			if n == 1 {
				return lock.ErrLockLost
			}
			return nil
		})
		var g lock.Group
		s := newKV(nil)
		var cause error
		c := &creates{}
		c.body = func(ctx context.Context, keys []string) ([]string, error) {
			if len(c.got()) > 1 {
				return []string{"A:second"}, nil
			}
			if !ended(ctx) {
				return nil, errors.New("the creation's context never ended")
			}
			cause = context.Cause(ctx)
			s.put("b", "B:later holder's")
			return nil, ctx.Err()
		}
		b := newBatch(&g, s, c, "a", "b")
		b.Mutex = mutex
		var lost atomic.Int32
		b.Observe = func(e lock.Event, _ time.Duration) {
			if e == lock.LeaseLost {
				lost.Add(1)
			}
		}
		got, err := b.Get(context.Background())
		if !errors.Is(cause, lock.ErrLockLost) {
			t.Fatalf("the creator's context ended with cause %v, want ErrLockLost", cause)
		}
		if want := []string{"A:second", "B:later holder's"}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("Get = %q, %v; want %q", got, err, want)
		}
		if calls := c.got(); len(calls) != 2 || !slices.Equal(calls[1], []string{"a"}) {
			t.Fatalf("creator calls %q; want a second with only [a]", calls)
		}
		if n := lost.Load(); n != 1 {
			t.Fatalf("LeaseLost observed %d times, want 1", n)
		}
	})
}

func TestHeldCarriesEveryMutexOfABatch(t *testing.T) {
	var locks lock.Local
	ms := map[string]lock.Mutex{"a": locks.Mutex("a"), "b": locks.Mutex("b")}
	held := map[string]lock.Mutex{}
	c := &creates{body: func(ctx context.Context, keys []string) ([]string, error) {
		for _, k := range []string{"a", "b", "c", "elsewhere"} {
			held[k] = lock.Held(ctx, k)
		}
		return make([]string, len(keys)), nil
	}}
	var g lock.Group
	b := newBatch(&g, newKV(nil), c, "a", "b", "c")
	b.Mutex = func(k string) lock.Mutex { return ms[k] } // c has none
	if _, err := b.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if held["a"] != ms["a"] || held["b"] != ms["b"] || held["c"] != nil || held["elsewhere"] != nil {
		t.Fatalf("Held = %v; want a's and b's mutexes, nil for c (none) and for another key", held)
	}
}

func TestDL8BatchMutexFailure(t *testing.T) {
	down := errors.New("store down")
	var g lock.Group
	s := newKV(map[string]kv{"s": {"S:old", lock.Stale}})
	var failed atomic.Int32
	mk := func(keys ...string) *lock.Batch[string] {
		b := newBatch(&g, s, &creates{}, keys...)
		b.Mutex = func(string) lock.Mutex { return failingMutex{down} }
		b.Observe = func(e lock.Event, _ time.Duration) {
			if e == lock.MutexFailed {
				failed.Add(1)
			}
		}
		return b
	}
	// A stale value: served, the failure observed.
	if got, err := mk("s").Get(context.Background()); err != nil || !slices.Equal(got, []string{"S:old"}) {
		t.Fatalf("Get = %q, %v; want the stale value", got, err)
	}
	if n := failed.Load(); n != 1 {
		t.Fatalf("MutexFailed observed %d times, want 1", n)
	}
	// A missing key too: the error, naming the key whose mutex failed.
	_, err := mk("s", "m").Get(context.Background())
	var me *lock.MutexError
	if !errors.As(err, &me) || me.Key != "m" || !errors.Is(err, down) {
		t.Fatalf("Get = %v; want a *MutexError for key m wrapping the store's error", err)
	}
}
