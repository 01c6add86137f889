package dogpile_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// countingMemory is the memory backend counting reads, so a test can tell
// when every caller has looked for its value.
type countingMemory struct {
	*dogpile.MemoryBackend
	reads atomic.Int32
}

func (c *countingMemory) GetValue(ctx context.Context, key string) (any, bool, error) {
	c.reads.Add(1)
	return c.MemoryBackend.GetValue(ctx, key)
}

func newCountingRegion(t *testing.T, ropts ...dogpile.RegionOption) (*dogpile.Region, *countingMemory) {
	t.Helper()
	m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := &countingMemory{MemoryBackend: m}
	r, err := dogpile.NewRegion(ropts...).ConfigureBackend(b, dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func TestL1MissingKeyOneCreatorAllGetValue(t *testing.T) {
	r, b := newCountingRegion(t)
	ctx := context.Background()
	const n = 100
	var calls atomic.Int32
	release := make(chan struct{})
	create := func(context.Context) (string, error) {
		calls.Add(1)
		<-release
		return "value", nil
	}
	results := make([]<-chan result[string], n)
	for i := range results {
		results[i] = goGetOrCreate(ctx, r, "k", create)
	}
	// Every caller has found the key missing before the creator may finish.
	testutil.Eventually(t, "every caller's lookup", func() bool { return b.reads.Load() >= n })
	close(release)
	for _, res := range results {
		if got := <-res; got.err != nil || got.v != "value" {
			t.Fatalf("a caller got %q, %v", got.v, got.err)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("creator ran %d times for %d callers; want 1", c, n)
	}
}

func TestL2ExpiredKeyOthersGetStaleWithoutWaiting(t *testing.T) {
	r, _ := newCountingRegion(t)
	ctx := context.Background()
	if err := r.Set(ctx, "k", "stale"); err != nil {
		t.Fatal(err)
	}
	expired := dogpile.ExpirationTime(time.Nanosecond)
	var calls atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	creator := func(context.Context) (string, error) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
		return "fresh", nil
	}
	leader := make(chan string)
	go func() {
		v, _ := dogpile.GetOrCreate(ctx, r, "k", creator, expired)
		leader <- v
	}()
	<-entered
	// The creator is blocked: every other caller must return at once.
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := dogpile.GetOrCreate(ctx, r, "k", creator, expired)
			if err != nil || v != "stale" {
				t.Errorf("got %q, %v; want the stale value", v, err)
			}
		}()
	}
	wg.Wait()
	close(release)
	if v := <-leader; v != "fresh" {
		t.Fatalf("the regenerating caller got %q", v)
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("creator ran %d times; want 1", c)
	}
}

// mutexBackend is a memory_serialized store with a mutex whose Lock (and
// TryLock) runs a hook first: the hook plays another process storing a value
// meanwhile.
type mutexBackend struct {
	dogpile.Backend
	locks  lock.Local
	onLock func(key string)
	onTry  func(key string)
	locked []string
	mu     sync.Mutex
}

type hookMutex struct {
	lock.Mutex
	b   *mutexBackend
	key string
}

func (m hookMutex) Lock(ctx context.Context) error {
	if m.b.onLock != nil {
		m.b.onLock(m.key)
	}
	return m.Mutex.Lock(ctx)
}

func (m hookMutex) TryLock(ctx context.Context) (bool, error) {
	if m.b.onTry != nil {
		m.b.onTry(m.key)
	}
	return m.Mutex.TryLock(ctx)
}

func (b *mutexBackend) Mutex(key string) lock.Mutex {
	b.mu.Lock()
	b.locked = append(b.locked, key)
	b.mu.Unlock()
	return hookMutex{Mutex: b.locks.Mutex(key), b: b, key: key}
}

func TestL3RecheckAfterWinningLock(t *testing.T) {
	ctx := context.Background()
	inner, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &mutexBackend{Backend: inner}
	r, err := dogpile.NewRegion().ConfigureBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	other, err := dogpile.NewRegion().ConfigureBackend(inner)
	if err != nil {
		t.Fatal(err)
	}
	b.onLock = func(key string) {
		// Another process stores the value while we wait for the lock.
		if err := other.Set(ctx, key, "from-other"); err != nil {
			t.Error(err)
		}
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
		t.Error("creator ran although the value was stored while the caller waited for the lock")
		return "mine", nil
	})
	if err != nil || v != "from-other" {
		t.Fatalf("got %q, %v; want the value the other process stored", v, err)
	}
}

func TestL4AsyncRunnerLeaderGetsStale(t *testing.T) {
	runs := make(chan func(), 4)
	r, _ := newCountingRegion(t, dogpile.WithAsyncRunner(func(regenerate func()) { runs <- regenerate }))
	ctx := context.Background()
	if err := r.Set(ctx, "k", "stale"); err != nil {
		t.Fatal(err)
	}
	expired := dogpile.ExpirationTime(time.Nanosecond)
	fail := errors.New("creator failed")
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "", fail }, expired)
	if err != nil || v != "stale" {
		t.Fatalf("leader got %q, %v; want the stale value at once", v, err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d regenerations handed to the runner, want 1", len(runs))
	}
	// While the failing regeneration is pending, no other one starts.
	dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "x", nil }, expired) //nolint:errcheck
	if len(runs) != 1 {
		t.Fatal("a second regeneration started while one was pending")
	}
	(<-runs)() // fails: must release the lock
	v, _ = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { panic("boom") }, expired)
	if v != "stale" || len(runs) != 1 {
		t.Fatalf("after a failed regeneration: got %q with %d runs pending; want stale and a new regeneration", v, len(runs))
	}
	(<-runs)() // panics: must release the lock too
	v, _ = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "fresh", nil }, expired)
	if v != "stale" || len(runs) != 1 {
		t.Fatalf("after a panicking regeneration: got %q with %d runs pending", v, len(runs))
	}
	(<-runs)()
	if v, _, _ := dogpile.Get[string](ctx, r, "k"); v != "fresh" {
		t.Fatalf("after the background regeneration Get = %q, want %q", v, "fresh")
	}
}

func TestL5PanicReraisedLockReleasedWaitersGetError(t *testing.T) {
	r, b := newCountingRegion(t)
	ctx := context.Background()
	release := make(chan struct{})
	var calls atomic.Int32
	creator := func(context.Context) (string, error) {
		calls.Add(1)
		<-release
		panic("boom")
	}
	recovered := make(chan any)
	go func() {
		defer func() { recovered <- recover() }()
		dogpile.GetOrCreate(ctx, r, "k", creator) //nolint:errcheck
	}()
	testutil.Eventually(t, "the creator", func() bool { return calls.Load() == 1 })
	reads := b.reads.Load()
	waiterErr := make(chan error, 1)
	go func() {
		_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "second", nil })
		waiterErr <- err
	}()
	testutil.Eventually(t, "the waiter's lookup", func() bool { return b.reads.Load() > reads })
	close(release)
	p := <-recovered
	if pe, ok := p.(*dogpile.PanicError); !ok || pe.Value != "boom" {
		t.Fatalf("the caller that ran the creator recovered %#v; want *PanicError{boom}", p)
	}
	// The waiter joined the flight and got an error, or (if it came after
	// the panic) created the value itself; it never hangs.
	if err := <-waiterErr; err != nil && !errors.Is(err, dogpile.ErrCreatorPanicked) {
		t.Fatalf("waiter got %v", err)
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k2", func(context.Context) (string, error) { return "ok", nil })
	if err != nil || v != "ok" {
		t.Fatal(v, err)
	}
	// The lock was released: a new call runs the creator.
	v, err = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "after", nil })
	if err != nil || (v != "after" && v != "second") {
		t.Fatalf("after the panic GetOrCreate = %q, %v", v, err)
	}
}

func TestL6LockOnOneKeyNeverBlocksAnother(t *testing.T) {
	r, _ := newCountingRegion(t)
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	go dogpile.GetOrCreate(ctx, r, "slow", func(context.Context) (string, error) { //nolint:errcheck
		close(entered)
		<-release
		return "slow", nil
	})
	<-entered
	defer close(release)
	v, err := dogpile.GetOrCreate(ctx, r, "other", func(context.Context) (string, error) { return "fast", nil })
	if err != nil || v != "fast" {
		t.Fatalf("got %q, %v while another key's creator was blocked", v, err)
	}
}

func TestL7NestedGetOrCreateOnOtherKey(t *testing.T) {
	r, _ := newCountingRegion(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := dogpile.GetOrCreate(ctx, r, "outer", func(ctx context.Context) (string, error) {
		inner, err := dogpile.GetOrCreate(ctx, r, "inner", func(context.Context) (string, error) { return "in", nil })
		return "out+" + inner, err
	})
	if err != nil || v != "out+in" {
		t.Fatalf("nested get-or-create = %q, %v", v, err)
	}
}

func TestL8LockWithoutRegion(t *testing.T) {
	// Two groups are two processes sharing a mutex and a store.
	var locks lock.Local
	var mu sync.Mutex
	stored, calls := "", 0
	get := func(g *lock.Group) (string, error) {
		l := lock.Lock[string]{
			Group: g, Key: "k", Mutex: locks.Mutex("k"),
			Load: func(context.Context) (string, lock.State, error) {
				mu.Lock()
				defer mu.Unlock()
				if stored == "" {
					return "", lock.Missing, nil
				}
				return stored, lock.Fresh, nil
			},
			Create: func(context.Context) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				calls++
				stored = "made"
				return stored, nil
			},
		}
		return l.Get(context.Background())
	}
	var g1, g2 lock.Group
	for _, g := range []*lock.Group{&g1, &g2, &g1} {
		if v, err := get(g); err != nil || v != "made" {
			t.Fatal(v, err)
		}
	}
	if calls != 1 {
		t.Fatalf("creator ran %d times, want 1", calls)
	}
}

func TestL9CallerGivesUpCreationGoesOn(t *testing.T) {
	r, b := newCountingRegion(t, dogpile.WithCreationTimeout(time.Minute))
	testutil.CallerGivesUp(t, func(ctx context.Context, create testutil.Creator) (string, error) {
		return dogpile.GetOrCreate(ctx, r, "k", create)
	}, func() func() bool {
		reads := b.reads.Load() // the first caller's, so far
		return func() bool { return b.reads.Load() > reads }
	})
	if v, ok, _ := dogpile.Get[string](context.Background(), r, "k"); !ok || v != "made" {
		t.Fatalf("the created value was not stored: %q, %v", v, ok)
	}
}
