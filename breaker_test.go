package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// switchable is a byte store (memory_serialized beneath) that a test turns
// down — every call fails, as on a server that refuses connections — or
// hung — every call waits for its ctx or for unhang, as on a server paused
// with SIGSTOP — and that records the calls that reach it.
type switchable struct {
	next dogpile.Backend

	down   atomic.Bool
	mu     sync.Mutex
	hung   chan struct{}   // closed by unhang; nil: not hung
	log    callLog[string] // "op key", in call order
	before func(op, key string)
}

func newSwitchable(t *testing.T) *switchable {
	b, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &switchable{next: b}
}

var errRefused = errors.New("connection refused")

// enter records a call and makes it wait or fail as the store is set.
func (s *switchable) enter(ctx context.Context, op, key string) error {
	s.mu.Lock()
	s.log.add(op + " " + key) // under mu, with the reads below: a call is logged as it found the store
	hung, before := s.hung, s.before
	s.mu.Unlock()
	if before != nil {
		before(op, key)
	}
	if hung != nil {
		select {
		case <-hung:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.down.Load() {
		return errRefused
	}
	return nil
}

// setBefore makes f run at the start of every call (nil: nothing).
func (s *switchable) setBefore(f func(op, key string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = f
}

func (s *switchable) hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hung = make(chan struct{})
}

func (s *switchable) unhang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hung != nil {
		close(s.hung)
		s.hung = nil
	}
}

// calls returns the recorded calls and forgets them.
func (s *switchable) calls() []string { return s.log.take() }

func (s *switchable) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := s.enter(ctx, "get", key); err != nil {
		return nil, false, err
	}
	return s.next.Get(ctx, key)
}

func (s *switchable) Set(ctx context.Context, key string, value []byte) error {
	if err := s.enter(ctx, "set", key); err != nil {
		return err
	}
	return s.next.Set(ctx, key, value)
}

func (s *switchable) Delete(ctx context.Context, key string) error {
	if err := s.enter(ctx, "delete", key); err != nil {
		return err
	}
	return s.next.Delete(ctx, key)
}

func (s *switchable) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if err := s.enter(ctx, "swap", key); err != nil {
		return false, err
	}
	return s.next.(interface {
		CompareAndSwap(context.Context, string, []byte, []byte) (bool, error)
	}).CompareAndSwap(ctx, key, old, new)
}

// refusing is a byte store that refuses values over a size, as Memcached
// refuses items over its limit and Redis refuses writes when out of memory:
// the refusal wraps dogpile.ErrValueRefused.
type refusing struct {
	dogpile.Backend
	limit int
	sets  atomic.Int32
}

func (r *refusing) Set(ctx context.Context, key string, value []byte) error {
	r.sets.Add(1)
	if len(value) > r.limit {
		return fmt.Errorf("SERVER_ERROR object too large for cache: %w", dogpile.ErrValueRefused)
	}
	return r.Backend.Set(ctx, key, value)
}

// Issue 17, breaker: one value the store refuses neither trips the
// breaker nor runs its creator twice, and is no creator error; other keys
// are cached as before.
func TestBreakerRefusedValueLeavesOtherKeysCached(t *testing.T) {
	ctx := context.Background()
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &refusing{Backend: store, limit: 100}
	rec := testutil.NewLogRecorder()
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(time.Hour), dogpile.WithMetrics(), dogpile.WithLogger(rec.Logger())})
	var calls atomic.Int32
	big := strings.Repeat("x", 1000)
	v, err := dogpile.GetOrCreate(ctx, r, "big", func(context.Context) (string, error) { calls.Add(1); return big, nil })
	if err != nil || v != big || calls.Load() != 1 {
		t.Fatalf("GetOrCreate of a refused value = %d bytes, %v, %d creator calls; want the value, from one call", len(v), err, calls.Load())
	}
	if len(rec.Lines("WARN", "refused a value; returned uncached")) != 1 {
		t.Errorf("logged %q; want one warning that the value was returned uncached", rec.Lines())
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "small", func(context.Context) (string, error) { return "small", nil }); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet[string](t, r, "small"); !ok || v != "small" {
		t.Fatal("after a refused value, other keys are not cached: the breaker opened")
	}
	st := r.Stats()
	if st.ValuesRefused != 1 || st.BreakerTrips != 0 || st.CreatorErrors != 0 || st.BackendErrors != 1 || st.Regenerations != 2 {
		t.Fatalf("stats %+v; want 1 value refused (a backend error), no trip, no creator error, 2 regenerations", st)
	}

	// The multi-key call too.
	calls.Store(0)
	vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"big2", "small2"}, func(_ context.Context, keys []string) ([]string, error) {
		calls.Add(1)
		return []string{big, "small2"}, nil
	})
	if err != nil || len(vals) != 2 || calls.Load() != 1 || r.Stats().BreakerTrips != 0 {
		t.Fatalf("GetOrCreateMulti with a refused value: %v, %d creator calls, %d trips", err, calls.Load(), r.Stats().BreakerTrips)
	}

	// Without fail-open the refusal is the call's error, and still no
	// creator error.
	strictLog := testutil.NewLogRecorder()
	strict := regionFor(t, b, []dogpile.RegionOption{dogpile.WithMetrics(), dogpile.WithLogger(strictLog.Logger())})
	if _, err := dogpile.GetOrCreate(ctx, strict, "big", func(context.Context) (string, error) { return big, nil }); !errors.Is(err, dogpile.ErrValueRefused) || !errors.Is(err, dogpile.ErrBackend) {
		t.Fatalf("without fail-open: %v; want the refusal, a backend error", err)
	}
	if lines := strictLog.Lines("WARN", "refused a value"); len(lines) != 1 || strings.Contains(lines[0], "uncached") {
		t.Errorf("without fail-open, logged %q; want one warning that the refusal was returned", strictLog.Lines())
	}
	if st := strict.Stats(); st.CreatorErrors != 0 || st.ValuesRefused != 1 {
		t.Fatalf("without fail-open: %+v; want a refused value, no creator error", st)
	}

	// The region's own size limit is a refusal too.
	limited := regionFor(t, store, []dogpile.RegionOption{dogpile.WithFailOpen(time.Hour), dogpile.WithMaxValueSize(100), dogpile.WithMetrics()})
	calls.Store(0)
	if v, err := dogpile.GetOrCreate(ctx, limited, "big", func(context.Context) (string, error) { calls.Add(1); return big, nil }); err != nil || v != big || calls.Load() != 1 {
		t.Fatalf("over the region's size limit: %d bytes, %v, %d calls", len(v), err, calls.Load())
	}
	if st := limited.Stats(); st.BreakerTrips != 0 || st.ValuesRefused != 1 {
		t.Fatalf("over the region's size limit: %+v", st)
	}
}

// A value whose store fails because the backend went down is returned
// under fail-open, its creator run once.
func TestBreakerFailedStoreDoesNotRunTheCreatorTwice(t *testing.T) {
	b := newSwitchable(t)
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(time.Hour), dogpile.WithMetrics()})
	b.setBefore(func(op, _ string) {
		if op == "set" {
			b.down.Store(true) // the server dies while the creator runs
		}
	})
	var calls atomic.Int32
	v, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) { calls.Add(1); return "v", nil })
	if err != nil || v != "v" || calls.Load() != 1 {
		t.Fatalf("GetOrCreate = %q, %v, %d creator calls; want the value from one call", v, err, calls.Load())
	}
	if st := r.Stats(); st.BreakerTrips != 1 || st.CreatorErrors != 0 {
		t.Fatalf("stats %+v; want one trip, no creator error", st)
	}
}

// Issue 17, breaker: after the cooldown, however many callers come, one
// probe reaches a server that hangs; the others go on without it. When the
// probe succeeds the breaker closes.
func TestBreakerHalfOpenSendsOneProbe(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	const cooldown = 20 * time.Millisecond
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(cooldown), dogpile.WithMetrics()})
	create := func(context.Context) (string, error) { return "created", nil }

	b.down.Store(true)
	if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "created" {
		t.Fatalf("GetOrCreate with the backend down = %q, %v", v, err)
	}
	b.down.Store(false)
	b.hang()
	b.calls()
	// The probe runs in a goroutine of its own: the callers may all be done
	// before it reaches the backend.
	probed := make(chan struct{})
	var once sync.Once
	b.setBefore(func(_, key string) {
		if strings.HasSuffix(key, "probe") {
			once.Do(func() { close(probed) })
		}
	})
	time.Sleep(2 * cooldown) // past the cooldown: the next callers find the breaker half-open

	// Few enough calls to end well within the probe's timeout (a second) on
	// a loaded machine: a probe that timed out would fail, and the next
	// cooldown would send a second one.
	const n = 20
	var wg sync.WaitGroup
	cctx, cancel := context.WithTimeout(ctx, deadline) // a caller stuck on the hung backend fails
	defer cancel()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				if v, err := dogpile.GetOrCreate(cctx, r, fmt.Sprintf("k%d-%d", i, j), create); err != nil || v != "created" {
					t.Errorf("GetOrCreate while half-open = %q, %v", v, err)
				}
			}
		}()
	}
	wg.Wait() // every caller returned while the probe hangs
	select {
	case <-probed:
	case <-time.After(deadline):
		t.Fatal("no probe reached the backend after the cooldown")
	}
	if got := b.calls(); len(got) != 1 || got[0] != "get dogpile:probe" {
		t.Fatalf("while half-open the hung backend got %q; want one probe", got)
	}
	b.unhang()
	testutil.Eventually(t, "the breaker to close once the probe succeeds", func() bool {
		dogpile.GetOrCreate(ctx, r, "after", create) //nolint:errcheck
		_, ok := mustGet[string](t, r, "after")
		return ok
	})
	if st := r.Stats(); st.BreakerTrips != 1 {
		t.Fatalf("BreakerTrips = %d; want 1", st.BreakerTrips)
	}
}

// A probe that fails keeps the breaker open for another cooldown, and is
// counted as a backend error.
func TestBreakerFailedProbeReopens(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	// Long enough for the twenty calls below to fall within one cooldown
	// on a loaded machine: were they to span two, a second probe would
	// fail and reopen the breaker, and a third could follow.
	const cooldown = 200 * time.Millisecond
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(cooldown), dogpile.WithMetrics()})
	b.down.Store(true)
	dogpile.Get[string](ctx, r, "k") //nolint:errcheck // trips the breaker
	errs := r.Stats().BackendErrors
	time.Sleep(2 * cooldown)
	dogpile.Get[string](ctx, r, "k") //nolint:errcheck // starts the probe, which fails
	testutil.Eventually(t, "the failed probe to be counted", func() bool { return r.Stats().BackendErrors == errs+1 })
	b.calls()
	for range 20 {
		if _, ok, err := dogpile.Get[string](ctx, r, "k"); ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if got := b.calls(); len(got) > 1 {
		t.Fatalf("after a failed probe the backend got %q; want at most the next probe", got)
	}
}

// errorsOf is a backend whose every call fails with a *dogpile.BackendError
// of its own making, as a third-party backend's may.
type errorsOf struct{ dogpile.Backend }

func (e errorsOf) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, &dogpile.BackendError{Backend: "third-party", Op: "get", Err: errRefused}
}

// Every backend error is counted, whoever made the error: a backend that
// returns a *BackendError itself, the shared invalidation record's read.
func TestBackendErrorsCountedWhateverTheBackend(t *testing.T) {
	ctx := context.Background()
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := regionFor(t, errorsOf{store}, []dogpile.RegionOption{dogpile.WithMetrics()})
	for range 3 {
		if _, _, err := dogpile.Get[string](ctx, r, "k"); !errors.Is(err, errRefused) {
			t.Fatal(err)
		}
	}
	if n := r.Stats().BackendErrors; n != 3 {
		t.Fatalf("BackendErrors = %d for 3 failed calls of a backend returning its own *BackendError", n)
	}

	b := newSwitchable(t)
	shared := regionFor(t, b, []dogpile.RegionOption{dogpile.WithName("counted"), dogpile.WithMetrics()}, dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	b.down.Store(true)
	if _, _, err := dogpile.Get[string](ctx, shared, "k"); !errors.Is(err, dogpile.ErrBackend) {
		t.Fatal(err)
	}
	if err := shared.Invalidate(ctx, dogpile.Hard); !errors.Is(err, dogpile.ErrBackend) {
		t.Fatal(err)
	}
	if n := shared.Stats().BackendErrors; n != 2 {
		t.Fatalf("BackendErrors = %d after a failed record read and a failed Invalidate; want 2", n)
	}
}

// The breaker's probe reads a key of the library's own, under the
// region's prefix.
func TestBreakerProbeKeyIsReserved(t *testing.T) {
	b := newSwitchable(t)
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(time.Millisecond), dogpile.WithKeyPrefix("app:")})
	b.down.Store(true)
	dogpile.Get[string](context.Background(), r, "k") //nolint:errcheck
	b.down.Store(false)
	testutil.Eventually(t, "the probe", func() bool {
		dogpile.Get[string](context.Background(), r, "k") //nolint:errcheck
		return slices.Contains(b.calls(), "get app:dogpile:probe")
	})
}

func TestP3FailOpenServesCreatorValuesAndBreakerSkipsDeadBackend(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	const cooldown = 30 * time.Millisecond
	r, err := dogpile.NewRegion(dogpile.WithFailOpen(cooldown), dogpile.WithMetrics()).ConfigureBackend(b, dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var created atomic.Int32
	create := func(context.Context) (string, error) { created.Add(1); return "fresh", nil }

	b.down.Store(true)
	v, err := dogpile.GetOrCreate(ctx, r, "k", create)
	if err != nil || v != "fresh" {
		t.Fatalf("backend down, fail-open: got %q, %v; want the creator's value", v, err)
	}
	if _, ok, err := dogpile.Get[string](ctx, r, "k"); ok || err != nil {
		t.Fatalf("backend down, fail-open Get = %v, %v; want a miss without error", ok, err)
	}
	// The breaker is open: the dead backend is not called again.
	b.calls()
	for range 20 {
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "fresh" {
			t.Fatal(v, err)
		}
	}
	if calls := b.calls(); len(calls) != 0 {
		t.Fatalf("the backend was called while the breaker was open: %q", calls)
	}
	if r.Stats().BackendErrors == 0 {
		t.Fatal("backend errors were not counted")
	}
	// A stampede during the outage still runs the creator once.
	created.Store(0)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dogpile.GetOrCreate(ctx, r, "cold", func(context.Context) (string, error) { //nolint:errcheck
				created.Add(1)
				<-release
				return "x", nil
			})
		}()
	}
	testutil.Eventually(t, "the outage creator", func() bool { return created.Load() == 1 })
	close(release)
	wg.Wait()
	if n := created.Load(); n > 20 || n < 1 {
		t.Fatalf("creator ran %d times", n)
	}

	// The backend comes back: after the cooldown, values are cached again.
	b.down.Store(false)
	testutil.Eventually(t, "the breaker to close and cache again", func() bool {
		dogpile.GetOrCreate(ctx, r, "k", create) //nolint:errcheck
		_, ok, _ := dogpile.Get[string](ctx, r, "k")
		return ok
	})
}

func TestP3WithoutFailOpenTheErrorIsReturned(t *testing.T) {
	b := newSwitchable(t)
	b.down.Store(true)
	r, _ := dogpile.NewRegion().ConfigureBackend(b)
	_, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) { return "v", nil })
	var be *dogpile.BackendError
	if !errors.Is(err, errRefused) || !errors.Is(err, dogpile.ErrBackend) || !errors.As(err, &be) || be.Op != "get" {
		t.Fatalf("got %v; want a *BackendError for get wrapping the backend's error", err)
	}
}

// Under fail-open, a down backend fails no multi-key call: GetOrCreateMulti
// returns the creator's values and GetMulti no values, whether it is the
// call that finds the backend down (and opens the breaker) or one made while
// the breaker is open, which does not ask the backend.
func TestP3FailOpenMulti(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	b.down.Store(true)
	first, _ := dogpile.NewRegion(dogpile.WithFailOpen(time.Minute), dogpile.WithMetrics()).ConfigureBackend(b)
	if hits, err := dogpile.GetMulti[string](ctx, first, []string{"a"}); err != nil || len(hits) != 0 {
		t.Fatalf("fail-open GetMulti on a down backend = %v, %v; want no values, no error", hits, err)
	}
	if n := first.Stats().BreakerTrips; n != 1 {
		t.Fatalf("BreakerTrips = %d after GetMulti found the backend down; want 1", n)
	}

	r, _ := dogpile.NewRegion(dogpile.WithFailOpen(time.Minute)).ConfigureBackend(b)
	got, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(_ context.Context, ks []string) ([]string, error) {
		return []string{"A", "B"}, nil
	})
	if err != nil || len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Fatalf("fail-open GetOrCreateMulti = %q, %v", got, err)
	}
	b.calls()
	if hits, err := dogpile.GetMulti[string](ctx, r, []string{"a"}); err != nil || len(hits) != 0 {
		t.Fatalf("fail-open GetMulti = %v, %v", hits, err)
	}
	if calls := b.calls(); len(calls) != 0 {
		t.Fatalf("GetMulti under an open breaker called the backend: %v", calls)
	}
}

// refusingReads is a store that refuses to serve one key's value (as a
// proxy in front of a store may refuse a value over its limit): the
// refusal wraps dogpile.ErrValueRefused.
type refusingReads struct{ dogpile.Backend }

func (r refusingReads) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if strings.HasSuffix(key, "refused") {
		return nil, false, fmt.Errorf("value over the proxy's limit: %w", dogpile.ErrValueRefused)
	}
	return r.Backend.Get(ctx, key)
}

// A value refused on a read, like one refused on a write, is no failure of
// the backend: under fail-open the read returns the refusal and the breaker
// stays closed, so the next key is read from the store.
func TestBreakerRefusedReadIsNoBackendFailure(t *testing.T) {
	ctx := context.Background()
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := regionFor(t, refusingReads{store}, []dogpile.RegionOption{dogpile.WithFailOpen(time.Hour), dogpile.WithMetrics()})
	mustSet(t, r, "other", "stored")
	if _, _, err := dogpile.Get[string](ctx, r, "refused"); !errors.Is(err, dogpile.ErrValueRefused) {
		t.Fatalf("Get of a value the store refuses to serve = %v; want the refusal", err)
	}
	if v, ok := mustGet[string](t, r, "other"); !ok || v != "stored" {
		t.Fatalf("after a refused read, Get(other) = %q, %v; want the stored value: the breaker opened", v, ok)
	}
	if n := r.Stats().BreakerTrips; n != 0 {
		t.Fatalf("BreakerTrips = %d after a refused read; want 0", n)
	}
}

// A probe that fails keeps the breaker open for another whole cooldown:
// the calls after it go without the backend and send it no probe of their
// own until that cooldown has passed.
func TestBreakerFailedProbeStartsAnotherCooldown(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(time.Hour)})
	b.down.Store(true)
	dogpile.Get[string](ctx, r, "k") //nolint:errcheck // trips the breaker
	dogpile.EndBreakerCooldown(r)
	b.calls()
	get := func() {
		t.Helper()
		if _, ok, err := dogpile.Get[string](ctx, r, "k"); ok || err != nil {
			t.Fatalf("Get with the breaker open = %v, %v; want a miss", ok, err)
		}
		// A probe the call started has ended.
		testutil.Eventually(t, "the probe to end", func() bool { return !dogpile.BreakerProbing(r) })
	}
	get() // starts the probe, which fails
	if got := b.calls(); !slices.Equal(got, []string{"get dogpile:probe"}) {
		t.Fatalf("the backend got %q; want the one probe", got)
	}
	for range 3 {
		get()
	}
	if got := b.calls(); len(got) != 0 {
		t.Fatalf("after a failed probe, within the next cooldown, the backend got %q; want nothing", got)
	}
}
