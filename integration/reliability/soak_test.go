package reliability_test

// RL2: the soak test. Many goroutines run a random mix of GetOrCreate, Get,
// Set, Delete and invalidations over 10,000 keys (a hot hundred among
// them, for contention on the dogpile lock) of a memory, a file and a Redis
// region at once, and Redis is killed and restarted twice meanwhile. The
// invariants, checked on every call:
//
//   - no panic but the creators' own (1 in 1000 creators panics on purpose:
//     the panic must reach the caller that ran it, and *PanicError its
//     waiters), no deadlock: a watchdog fails the test with every
//     goroutine's stack if a call or the run does not end in time;
//   - no goroutine leak: TestMain runs goleak after the tests;
//   - a value is never returned for another key: every value names its key;
//   - a value is never older than the last hard invalidation: every value
//     carries the invalidation generation it was made in, and a call that
//     starts after hard invalidation k must not return a value of a
//     generation below k;
//   - one creator per key at a time in the process (the dogpile lock);
//   - every creator call is accounted for: each creator call has a number,
//     put in its value, its error or its panic, and by the end every number
//     must have reached a caller.
//
// Errors are allowed only where they are expected: the creators' own errors
// (1 in 100 fails on purpose), their panics, and for Redis backend errors
// while it restarts; after the last restart a sweep of calls must succeed.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

const (
	soakKeys    = 10_000
	soakHotKeys = 100
	soakWorkers = 16
	// soakDefault is the run's length without DOGPILE_SOAK: short enough
	// for CI, long enough for a few hundred thousand calls per backend.
	soakDefault = 20 * time.Second
	// soakCallLimit is the longest one call may take before the watchdog
	// calls it a deadlock.
	soakCallLimit = 20 * time.Second
)

// soakDuration is DOGPILE_SOAK (a Go duration, such as 5m) or soakDefault.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("DOGPILE_SOAK")
	if s == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("DOGPILE_SOAK=%q: want a positive Go duration such as 5m", s)
	}
	return d
}

// errCreatorFailed is what failing creators return, with their number.
type errCreatorFailed struct{ n int64 }

func (e *errCreatorFailed) Error() string { return fmt.Sprintf("creator %d failed on purpose", e.n) }

// creatorPanic is what panicking creators panic with.
type creatorPanic struct{ n int64 }

// soak is one backend's run: the region and the shared bookkeeping of the
// invariants.
type soak struct {
	name string
	r    *dogpile.Region
	// backendErrorsUntil: backend errors are expected until then (unix
	// nanoseconds; a server restarting).
	backendErrorsUntil atomic.Int64

	// Hard invalidation k: under genMu.Lock, gen becomes k, the region is
	// invalidated, and then done becomes k. Writers of values (Set, and a
	// creator until its GetOrCreate returns, which is after the value is
	// stored) hold genMu.RLock, so a value written before invalidation k
	// was also created before it, and a value of generation < k written
	// after it is impossible.
	genMu sync.RWMutex
	gen   atomic.Int64
	done  atomic.Int64

	nonce    atomic.Int64    // numbers of creator calls and of Set values
	created  []atomic.Uint64 // bitset: n is a creator call's number
	reached  []atomic.Uint64 // bitset: n reached a caller
	creators atomic.Int64    // creator calls
	inflight []atomic.Int32  // creators running, per key

	calls, creatorErrs, creatorPanics, backendErrs atomic.Int64
	lastProgress                                   atomic.Int64 // unix nanos of the last finished call

	failOnce sync.Once
	failure  atomic.Pointer[string]
}

// fail records the first broken invariant; the workers stop on it.
func (s *soak) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.failOnce.Do(func() { s.failure.Store(&msg) })
}

func (s *soak) failed() bool { return s.failure.Load() != nil }

func soakKey(i int) string { return fmt.Sprintf("soak-%05d", i) }

// value is what creators and Set store: key, generation, number.
func soakValue(key string, gen, n int64) string { return fmt.Sprintf("%s|%d|%d", key, gen, n) }

func (s *soak) markReached(n int64) { mark(s.reached, n) }

// mark sets bit n of set; numbers beyond the set are not tracked.
func mark(set []atomic.Uint64, n int64) {
	if i := n / 64; i < int64(len(set)) {
		set[i].Or(1 << (n % 64))
	}
}

// check verifies a value returned for key by a call that started after hard
// invalidation minGen.
func (s *soak) check(op, key, v string, minGen int64) {
	parts := strings.Split(v, "|")
	if len(parts) != 3 {
		s.fail("%s %q returned %q: not a value of this test", op, key, v)
		return
	}
	if parts[0] != key {
		s.fail("%s %q returned the value of %q: %q", op, key, parts[0], v)
		return
	}
	gen, err1 := strconv.ParseInt(parts[1], 10, 64)
	n, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || n > s.nonce.Load() {
		s.fail("%s %q returned %q: a value nobody made", op, key, v)
		return
	}
	if gen < minGen {
		s.fail("%s %q returned %q, of generation %d, after hard invalidation %d", op, key, v, gen, minGen)
	}
}

// errorOK reports whether err is one a call may return: a creator's, or a
// backend's while that is expected.
func (s *soak) errorOK(err error) bool {
	var ce *errCreatorFailed
	var pe *dogpile.PanicError
	switch {
	case errors.As(err, &ce):
		s.markReached(ce.n)
		return true
	case errors.As(err, &pe):
		if cp, ok := pe.Value.(creatorPanic); ok {
			s.markReached(cp.n)
			return true
		}
		return false
	case errors.Is(err, dogpile.ErrBackend):
		s.backendErrs.Add(1)
		return time.Now().UnixNano() < s.backendErrorsUntil.Load()
	}
	return false
}

// getOrCreate is one GetOrCreate with the bookkeeping; it recovers the
// creator's panic, which the caller that ran the creator sees raised again.
func (s *soak) getOrCreate(ctx context.Context, rng *rand.Rand, i int) {
	key := soakKey(i)
	minGen := s.done.Load()
	held := false   // the creator holds genMu.RLock until the call returns
	var ran []int64 // the numbers of this call's creator runs
	defer func() {
		if held {
			s.genMu.RUnlock()
		}
		if r := recover(); r != nil {
			pe, ok := r.(*dogpile.PanicError)
			cp, ok2 := creatorPanic{}, false
			if ok {
				cp, ok2 = pe.Value.(creatorPanic)
			}
			if !ok2 {
				panic(r) // not ours: a real panic
			}
			s.markReached(cp.n)
		}
	}()
	fail, panics, slow := rng.IntN(100) == 0, rng.IntN(1000) == 0, rng.IntN(20) == 0
	v, err := dogpile.GetOrCreate(ctx, s.r, key, func(context.Context) (string, error) {
		if !held { // a caller's creator can run again if its first flight brought nothing
			s.genMu.RLock()
			held = true
		}
		n := s.nonce.Add(1)
		s.creators.Add(1)
		mark(s.created, n)
		ran = append(ran, n)
		if c := s.inflight[i].Add(1); c != 1 {
			s.fail("%d creators of %q at once", c, key)
		}
		defer s.inflight[i].Add(-1)
		if slow {
			time.Sleep(time.Millisecond) // a slower creator: more callers pile up on the lock
		}
		switch {
		case panics:
			s.creatorPanics.Add(1)
			panic(creatorPanic{n})
		case fail:
			s.creatorErrs.Add(1)
			return "", &errCreatorFailed{n}
		}
		return soakValue(key, s.gen.Load(), n), nil
	})
	if err != nil {
		if !s.errorOK(err) {
			s.fail("GetOrCreate %q: %v", key, err)
		}
		if errors.Is(err, dogpile.ErrBackend) {
			// The creator's value could not be stored, and the caller was
			// told so: that accounts for it.
			for _, n := range ran {
				s.markReached(n)
			}
		}
		return
	}
	if parts := strings.Split(v, "|"); len(parts) == 3 {
		if n, err := strconv.ParseInt(parts[2], 10, 64); err == nil {
			s.markReached(n)
		}
	}
	s.check("GetOrCreate", key, v, minGen)
}

func (s *soak) op(ctx context.Context, rng *rand.Rand) {
	i := rng.IntN(soakKeys)
	if rng.IntN(2) == 0 {
		i = rng.IntN(soakHotKeys)
	}
	key := soakKey(i)
	switch x := rng.IntN(100); {
	case x < 60:
		s.getOrCreate(ctx, rng, i)
	case x < 75:
		minGen := s.done.Load()
		v, ok, err := dogpile.Get[string](ctx, s.r, key)
		switch {
		case err != nil:
			if !s.errorOK(err) {
				s.fail("Get %q: %v", key, err)
			}
		case ok:
			s.check("Get", key, v, minGen)
		}
	case x < 88:
		s.genMu.RLock()
		err := s.r.Set(ctx, key, soakValue(key, s.gen.Load(), s.nonce.Add(1)))
		s.genMu.RUnlock()
		if err != nil && !s.errorOK(err) {
			s.fail("Set %q: %v", key, err)
		}
	default:
		if err := s.r.Delete(ctx, key); err != nil && !s.errorOK(err) {
			s.fail("Delete %q: %v", key, err)
		}
	}
	s.calls.Add(1)
	s.lastProgress.Store(time.Now().UnixNano())
}

// invalidate alternates soft and hard invalidations.
func (s *soak) invalidate(ctx context.Context, hard bool) {
	if !hard {
		if err := s.r.Invalidate(ctx, dogpile.Soft); err != nil && !s.errorOK(err) {
			s.fail("soft Invalidate: %v", err)
		}
		return
	}
	s.genMu.Lock()
	defer s.genMu.Unlock()
	k := s.gen.Add(1)
	if err := s.r.Invalidate(ctx, dogpile.Hard); err != nil {
		s.fail("hard Invalidate: %v", err)
	}
	s.done.Store(k)
}

// run runs the workers and the invalidator until stop is closed, then
// waits for them. It is also the watchdog: if no call finishes for
// soakCallLimit, or the workers do not end after stop, it returns an error
// with every goroutine's stack at once, without waiting for them.
func (s *soak) run(stop <-chan struct{}) error {
	var wg sync.WaitGroup
	s.lastProgress.Store(time.Now().UnixNano())
	for w := range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for !s.failed() {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), soakCallLimit)
				s.op(ctx, rng)
				cancel()
			}
		}()
	}
	wg.Add(1)
	go func() { // invalidations, a few per second
		defer wg.Done()
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), soakCallLimit)
				s.invalidate(ctx, i%3 == 0)
				cancel()
			}
		}
	}()

	// The watchdog: the workers must end once stopped, and no call may
	// stall meanwhile.
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	stopSeen := stop // set to nil once seen, so the select stops picking it
	stopped := false
	var stoppedAt time.Time
	for {
		select {
		case <-finished:
			return nil
		case <-stopSeen:
			stopped, stoppedAt = true, time.Now()
			stopSeen = nil
		case <-check.C:
		}
		stalled := time.Since(time.Unix(0, s.lastProgress.Load())) > soakCallLimit
		if stalled || stopped && time.Since(stoppedAt) > soakCallLimit+5*time.Second {
			var stacks strings.Builder
			pprof.Lookup("goroutine").WriteTo(&stacks, 2) //nolint:errcheck // a strings.Builder
			return fmt.Errorf("%s: deadlock: no call finished for %v (stopped: %v); goroutines:\n%s",
				s.name, soakCallLimit, stopped, stacks.String())
		}
	}
}

// verify checks the end state: invariants held, every creator call reached
// a caller.
func (s *soak) verify(t *testing.T) {
	if msg := s.failure.Load(); msg != nil {
		t.Fatalf("%s: %s", s.name, *msg)
	}
	if n := s.nonce.Load(); n/64 >= int64(len(s.reached)) {
		t.Logf("%s: %d numbers issued, more than the %d tracked: creator accounting checks the first ones", s.name, n, len(s.reached)*64)
	}
	// Every creator call's number reached a caller.
	var tracked, lost int64
	var firstLost int64 = -1
	for i := range s.created {
		c, r := s.created[i].Load(), s.reached[i].Load()
		tracked += int64(popcount(c))
		if m := c &^ r; m != 0 {
			lost += int64(popcount(m))
			if firstLost < 0 {
				for b := range 64 {
					if m&(1<<b) != 0 {
						firstLost = int64(i*64 + b)
						break
					}
				}
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%s: %d of %d creator calls never reached a caller (the first: number %d)", s.name, lost, tracked, firstLost)
	}
	if tracked != s.creators.Load() && s.nonce.Load()/64 < int64(len(s.created)) {
		t.Fatalf("%s: %d creator calls counted, %d numbered", s.name, s.creators.Load(), tracked)
	}
	t.Logf("%s: %d calls, %d creator calls (%d failed, %d panicked on purpose), %d hard invalidations, %d backend errors",
		s.name, s.calls.Load(), s.creators.Load(), s.creatorErrs.Load(), s.creatorPanics.Load(), s.done.Load(), s.backendErrs.Load())
	if s.calls.Load() < 1000 {
		t.Fatalf("%s: only %d calls: the soak did not run", s.name, s.calls.Load())
	}
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func newSoak(name string, r *dogpile.Region) *soak {
	return &soak{
		name: name, r: r,
		created:  make([]atomic.Uint64, 1<<18), // 16M numbers
		reached:  make([]atomic.Uint64, 1<<18),
		inflight: make([]atomic.Int32, soakKeys),
	}
}

// TestRL2Soak runs the soak on memory, file and Redis at once (in one
// test rather than parallel subtests, which -parallel would queue on a
// two-core machine), restarting Redis twice; the subtests then check each
// backend's invariants.
func TestRL2Soak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak test runs for DOGPILE_SOAK (20s by default); skipped with -short")
	}
	d := soakDuration(t)
	configure := func(name, backend string, args dogpile.Args) *soak {
		t.Helper()
		// Values expire after a second, so that stale values are served
		// and regenerated throughout.
		r, err := dogpile.NewRegion(dogpile.WithName("soak-"+name)).Configure(backend,
			dogpile.WithExpiration(time.Second), dogpile.WithArguments(args))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return newSoak(name, r)
	}
	srv := testserver.StartRedis(t)
	soaks := []*soak{
		// Bounded, so that evictions add to the churn.
		configure("memory", "memory", dogpile.Args{"max_entries": 5000}),
		configure("file", "file", dogpile.Args{"filename": filepath.Join(t.TempDir(), "soak.db")}),
		configure("redis", "redis", dogpile.Args{
			"url": "redis://" + srv.Addr(), "socket_timeout": "500ms", "socket_connect_timeout": "500ms",
			"redis_expiration_time": "1m",
		}),
	}
	red := soaks[2]

	stop := make(chan struct{})
	errs := make([]error, len(soaks))
	var wg sync.WaitGroup
	for i, s := range soaks {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.run(stop) }()
	}
	ran := make(chan struct{})
	go func() { wg.Wait(); close(ran) }()

	// Two restarts of Redis, at a third and two thirds of the run. Backend
	// errors are expected from the kill until shortly after the server is
	// back (go-redis retries a call for about a second first, and the pool
	// drops its dead connections as it meets them).
	for range 2 {
		select {
		case <-time.After(d / 3):
		case <-ran:
			t.Fatalf("the soak ended early: %v", errors.Join(errs...))
		}
		red.backendErrorsUntil.Store(math.MaxInt64)
		srv.Kill()
		time.Sleep(time.Second) // down for longer than go-redis retries, as a crashed server is
		srv.Restart(t)
		red.backendErrorsUntil.Store(time.Now().Add(2 * time.Second).UnixNano())
	}
	select {
	case <-time.After(d - 2*(d/3)):
	case <-ran:
	}
	close(stop)
	<-ran
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	// After the restarts every call succeeds again.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	red.backendErrorsUntil.Store(0)
	for i := range 200 {
		red.getOrCreate(ctx, rand.New(rand.NewPCG(1, uint64(i))), i)
	}
	for _, s := range soaks {
		t.Run(s.name, s.verify)
	}
}
