package lock_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// A Batch checks what its caller and its functions give it: no keys is an
// empty answer without a Load; values and states that do not match the keys
// in number, from the caller or from Load, and a creator's values that do
// not, are errors rather than values given to the wrong keys.
func TestBatchChecksWhatItIsGiven(t *testing.T) {
	ctx := context.Background()
	var g lock.Group
	s := newKV(nil)
	if got, err := newBatch(&g, s, &creates{}).Get(ctx); err != nil || got == nil || len(got) != 0 || len(s.loads) != 0 {
		t.Fatalf("Get of no keys = %#v, %v after %d loads; want an empty slice, no error, no load", got, err, len(s.loads))
	}
	if _, err := newBatch(&g, s, &creates{}, "k").GetLoaded(ctx, []string{""}, nil); err == nil {
		t.Fatal("GetLoaded with a value and no state for one key: no error")
	}
	for call := 1; call <= 2; call++ { // the caller's Load, the look again before creating
		b := newBatch(&g, s, &creates{}, "k")
		n := 0
		b.Load = func(ctx context.Context, keys []string) ([]string, []lock.State, error) {
			if n++; n == call {
				return []string{""}, nil, nil
			}
			return s.load(ctx, keys)
		}
		if _, err := b.Get(ctx); err == nil {
			t.Fatalf("Load call %d returning a value and no state for one key: no error", call)
		}
	}
	long := &creates{body: func(context.Context, []string) ([]string, error) { return []string{"one", "two", "three"}, nil }}
	if got, err := newBatch(&g, s, long, "a", "b").Get(ctx); err == nil {
		t.Fatalf("a creator returning 3 values for 2 keys: %q, no error", got)
	}
}

// A caller that finds a stale value while another caller in this process
// regenerates it is served the stale value at once, and the lock says so
// (ServedStale) for metrics.
func TestStaleServedInProcessIsObserved(t *testing.T) {
	ctx := context.Background()
	var g lock.Group
	s := newKV(map[string]kv{"k": {"K:old", lock.Stale}})
	entered, release := make(chan struct{}), make(chan struct{})
	c := &creates{body: func(context.Context, []string) ([]string, error) {
		close(entered)
		<-release
		return []string{"K:new"}, nil
	}}
	leader := make(chan error, 1)
	go func() { _, err := newBatch(&g, s, c, "k").Get(ctx); leader <- err }()
	<-entered
	var events eventCounts
	b := newBatch(&g, s, &creates{}, "k")
	b.Observe = events.observe
	if got, err := b.Get(ctx); err != nil || !slices.Equal(got, []string{"K:old"}) {
		t.Fatalf("Get during the regeneration = %q, %v; want the stale value", got, err)
	}
	if n := events.count(lock.ServedStale); n != 1 {
		t.Fatalf("ServedStale observed %d times; want 1", n)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Fatal(err)
	}
}

// A caller holding a stale value under a soft timeout that gives up (its
// context cancelled) gets its context's error, not the stale value as if
// the soft timeout had passed.
func TestSoftTimeoutCallerCancelledGetsItsError(t *testing.T) {
	var g lock.Group
	s := newKV(map[string]kv{"k": {"K:old", lock.Stale}})
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	c := &creates{body: func(context.Context, []string) ([]string, error) {
		close(entered)
		<-release
		return []string{"K:new"}, nil
	}}
	b := newBatch(&g, s, c, "k")
	b.SoftTimeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { _, err := b.Get(ctx); got <- err }()
	<-entered
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled caller got %v; want context.Canceled", err)
	}
}

// Callers that wait for another caller's flight take its value without
// loading again, when the flight knows of every invalidation they do: a
// flight's end is not a second stampede, of reads, on the store. Both for a
// flight creating a missing value and for one regenerating a stale value
// that a caller refusing stale values joined.
func TestWaitersTakeTheFlightsValueWithoutLoading(t *testing.T) {
	for _, tc := range []struct {
		name    string
		st      lock.State
		noStale bool
	}{
		{"missing", lock.Missing, false},
		{"stale, joined by a caller refusing stale values", lock.Stale, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var g lock.Group
			init := map[string]kv{}
			if tc.st == lock.Stale {
				init["k"] = kv{"K:old", lock.Stale}
			}
			s := newKV(init)
			entered, release := make(chan struct{}), make(chan struct{})
			c := &creates{body: func(context.Context, []string) ([]string, error) {
				close(entered)
				<-release
				return []string{"K:new"}, nil
			}}
			leader := newBatch(&g, s, c, "k")
			leader.Epoch = 1
			led := make(chan error, 1)
			go func() { _, err := leader.Get(ctx); led <- err }()
			<-entered

			waiter := newBatch(&g, s, &creates{}, "k")
			waiter.Epoch, waiter.NoStale = 1, tc.noStale
			var waiterLoads int
			waiter.Load = func(ctx context.Context, keys []string) ([]string, []lock.State, error) {
				waiterLoads++
				return s.load(ctx, keys)
			}
			got := make(chan []string, 1)
			go func() {
				v, err := waiter.Get(ctx)
				if err != nil {
					t.Error(err)
				}
				got <- v
			}()
			testutil.Eventually(t, "the waiter to join the flight", func() bool { return g.Waiters("k") == 1 })
			close(release)
			if v := <-got; !slices.Equal(v, []string{"K:new"}) {
				t.Fatalf("the waiter got %q; want the flight's K:new", v)
			}
			if err := <-led; err != nil {
				t.Fatal(err)
			}
			if waiterLoads != 1 {
				t.Fatalf("the waiter loaded %d times; want once, before it joined", waiterLoads)
			}
		})
	}
}

// When a creator panics, a key of the same flight that had found its value
// (stored meanwhile by someone else) keeps it: a caller waiting for that key
// alone gets the value, not the panic.
func TestPanicLeavesAKeyWithAValueItsValue(t *testing.T) {
	ctx := context.Background()
	var g lock.Group
	s := newKV(nil)
	loads := 0
	entered, release := make(chan struct{}), make(chan struct{})
	c := &creates{body: func(context.Context, []string) ([]string, error) {
		close(entered)
		<-release
		panic("boom")
	}}
	b := newBatch(&g, s, c, "a", "b")
	b.Load = func(ctx context.Context, keys []string) ([]string, []lock.State, error) {
		if loads++; loads == 2 { // the leader's look again before creating
			s.put("a", "A:someone else's")
		}
		return s.load(ctx, keys)
	}
	leaderPanic := make(chan any, 1)
	go func() {
		defer func() { leaderPanic <- recover() }()
		b.Get(ctx) //nolint:errcheck // it panics
	}()
	<-entered
	// A waiter for a alone, on a store of its own that still misses a, so
	// that it joins a's flight.
	waiter := newBatch(&g, newKV(nil), &creates{}, "a")
	got := make(chan []string, 1)
	errs := make(chan error, 1)
	go func() { v, err := waiter.Get(ctx); got <- v; errs <- err }()
	testutil.Eventually(t, "the waiter to join a's flight", func() bool { return g.Waiters("a") == 1 })
	close(release)
	if pe, ok := (<-leaderPanic).(*lock.PanicError); !ok || pe.Value != "boom" {
		t.Fatalf("the leader recovered %#v; want the creator's panic", pe)
	}
	if v, err := <-got, <-errs; err != nil || !slices.Equal(v, []string{"A:someone else's"}) {
		t.Fatalf("a's waiter got %q, %v; want the value a's flight found", v, err)
	}
}

// releaseRecorder is a Local mutex whose release records whether its
// context had ended, and fails (after releasing) with errRelease.
type releaseRecorder struct {
	lock.Mutex
	ctxEnded chan bool
}

var errRelease = errors.New("the release's answer was lost")

func (m releaseRecorder) Unlock(ctx context.Context) error {
	m.ctxEnded <- ctx.Err() != nil
	m.Mutex.Unlock(ctx) //nolint:errcheck // a Local mutex's release does not fail
	return errRelease
}

// A creation that ran out of time still releases its mutex, with a context
// that has not ended (a store call made with an ended one would fail, and
// the lock would stay until it expired); a release that fails is reported
// (MutexFailed), and the caller gets the creation's error.
func TestMutexReleasedAfterTheHardTimeout(t *testing.T) {
	var locks lock.Local
	m := releaseRecorder{Mutex: locks.Mutex("k"), ctxEnded: make(chan bool, 1)}
	var g lock.Group
	c := &creates{body: func(ctx context.Context, _ []string) ([]string, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	b := newBatch(&g, newKV(nil), c, "k")
	b.Mutex = func(string) lock.Mutex { return m }
	b.Timeout = 20 * time.Millisecond
	var events eventCounts
	b.Observe = events.observe
	if _, err := b.Get(context.Background()); !errors.Is(err, context.DeadlineExceeded) || len(c.got()) != 1 {
		t.Fatalf("Get = %v after %d creations; want the creation's deadline, after one", err, len(c.got()))
	}
	select { // the release comes before Get returns
	case ended := <-m.ctxEnded:
		if ended {
			t.Fatal("the mutex was released with an ended context")
		}
	default:
		t.Fatal("the mutex was not released")
	}
	if n := events.count(lock.MutexFailed); n != 1 {
		t.Fatalf("MutexFailed observed %d times for one failed release; want 1", n)
	}
}

// Running out of time while waiting for another process's lock is the
// deadline's error, not the store's: it is no MutexError.
func TestLockWaitTimeoutIsNoMutexError(t *testing.T) {
	var locks lock.Local
	other := heldElsewhere(t, &locks)
	defer other.Unlock(context.Background()) //nolint:errcheck
	var g lock.Group
	b := newBatch(&g, newKV(nil), &creates{}, "k")
	b.Mutex = locks.Mutex
	b.Timeout = time.Millisecond
	_, err := b.Get(context.Background())
	var me *lock.MutexError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &me) {
		t.Fatalf("Get = %v; want the deadline, not a MutexError", err)
	}
}

// A creation that loses its lease on both attempts fails with an error
// matching ErrLockLost, whatever error the creator itself returned.
func TestLeaseLostTwiceIsErrLockLost(t *testing.T) {
	var locks lock.Local
	m := &leaseMutex{Mutex: locks.Mutex("k"), ttl: 30 * time.Millisecond, renew: func(int32) error { return lock.ErrLockLost }}
	var g lock.Group
	c := &creates{body: func(ctx context.Context, _ []string) ([]string, error) {
		if !ended(ctx) {
			return nil, errors.New("the creation's context never ended")
		}
		return nil, errors.New("the creator gave up")
	}}
	b := newBatch(&g, newKV(nil), c, "k")
	b.Mutex = func(string) lock.Mutex { return m }
	if _, err := b.Get(context.Background()); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Get = %v; want an error matching ErrLockLost", err)
	}
	if n := len(c.got()); n != 2 {
		t.Fatalf("%d creations; want 2, the second after the first lost its lease", n)
	}
}
