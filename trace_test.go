package dogpile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// recordingTracer keeps the spans a region starts, with their parents (the
// span in the context each was started from).
type recordingTracer struct {
	mu    sync.Mutex
	spans []*recordedSpan
}

type recordedSpan struct {
	t       *recordingTracer
	name    string
	info    SpanInfo
	parent  *recordedSpan
	ended   bool
	outcome string
	err     error
}

type spanKey struct{}

func (t *recordingTracer) Start(ctx context.Context, name string, info SpanInfo) (context.Context, Span) {
	parent, _ := ctx.Value(spanKey{}).(*recordedSpan)
	sp := &recordedSpan{t: t, name: name, info: info, parent: parent}
	t.mu.Lock()
	t.spans = append(t.spans, sp)
	t.mu.Unlock()
	return context.WithValue(ctx, spanKey{}, sp), sp
}

func (s *recordedSpan) End(outcome string, err error) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.ended {
		panic("span " + s.name + " ended twice")
	}
	s.ended, s.outcome, s.err = true, outcome, err
}

// take returns the spans recorded so far, as "name outcome" (and the
// parent's name after "<"), and forgets them.
func (t *recordingTracer) take(tb testing.TB) []string {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, s := range t.spans {
		if !s.ended {
			tb.Fatalf("span %s not ended", s.name)
		}
		line := s.name + " " + s.outcome
		if s.parent != nil {
			line += " < " + s.parent.name
		}
		out = append(out, line)
	}
	t.spans = nil
	slices.Sort(out)
	return out
}

func (t *recordingTracer) find(name string) []*recordedSpan {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*recordedSpan
	for _, s := range t.spans {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

func tracedRegion(t *testing.T, backend string, opts ...RegionOption) (*Region, *recordingTracer) {
	t.Helper()
	tr := &recordingTracer{}
	r, err := NewRegion(append([]RegionOption{WithName("traced"), WithTracer(tr)}, opts...)...).Configure(backend, WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r, tr
}

// A miss, then a hit, on a byte backend: the get-or-create span with its
// outcome, the backend calls and the creation as its children, region and
// backend on every span.
func TestTracerSpansGetOrCreate(t *testing.T) {
	ctx := context.Background()
	r, tr := tracedRegion(t, "memory_serialized")
	var inCreator *recordedSpan
	create := func(ctx context.Context) (string, error) {
		inCreator, _ = ctx.Value(spanKey{}).(*recordedSpan)
		return "v", nil
	}
	if _, err := GetOrCreate(ctx, r, "user:42", create); err != nil {
		t.Fatal(err)
	}
	if inCreator == nil || inCreator.name != SpanCreate {
		t.Fatalf("the creator's context carries %v, want its %s span", inCreator, SpanCreate)
	}
	for _, s := range tr.spans {
		if s.info.Region != "traced" || s.info.Backend != "memory_serialized" {
			t.Fatalf("span %s has region %q, backend %q", s.name, s.info.Region, s.info.Backend)
		}
	}
	want := []string{
		"dogpile.backend.get miss < dogpile.get_or_create",
		"dogpile.backend.get miss < dogpile.get_or_create", // the re-check under the lock
		"dogpile.backend.set ok < dogpile.get_or_create",
		"dogpile.create ok < dogpile.get_or_create",
		"dogpile.get_or_create miss",
	}
	if got := tr.take(t); !slices.Equal(got, want) {
		t.Fatalf("miss: spans\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := GetOrCreate(ctx, r, "user:42", create); err != nil {
		t.Fatal(err)
	}
	want = []string{"dogpile.backend.get hit < dogpile.get_or_create", "dogpile.get_or_create hit"}
	if got := tr.take(t); !slices.Equal(got, want) {
		t.Fatalf("hit: spans %q, want %q", got, want)
	}
}

// Outcomes: a creator's error, a cached "not found", a stale value.
func TestTracerSpanOutcomes(t *testing.T) {
	ctx := context.Background()
	r, tr := tracedRegion(t, "memory_serialized")
	boom := errors.New("boom")
	if _, err := GetOrCreate(ctx, r, "bad", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	for _, name := range []string{SpanGetOrCreate, SpanCreate} {
		if s := tr.find(name); len(s) != 1 || s[0].outcome != OutcomeError || name == SpanGetOrCreate && !errors.Is(s[0].err, boom) {
			t.Fatalf("%s after a creator error: %+v", name, s)
		}
	}
	tr.take(t)
	for range 2 {
		GetOrCreate(ctx, r, "missing", func(context.Context) (int, error) { return 0, ErrNotFound }) //nolint:errcheck
	}
	if s := tr.find(SpanGetOrCreate); len(s) != 2 || s[0].outcome != OutcomeNotFound || s[1].outcome != OutcomeNotFound {
		t.Fatalf("not found: %+v", s)
	}
	if s := tr.find(SpanCreate); len(s) != 1 || s[0].outcome != OutcomeNotFound {
		t.Fatalf("not found, created once: %+v", s)
	}
	tr.take(t)
	if err := r.Set(ctx, "old", 1); err != nil {
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, Soft); err != nil {
		t.Fatal(err)
	}
	tr.take(t)
	if v, err := GetOrCreate(ctx, r, "old", func(context.Context) (int, error) { return 2, nil }); err != nil || v != 2 {
		t.Fatalf("got %d, %v", v, err)
	}
	if s := tr.find(SpanGetOrCreate); len(s) != 1 || s[0].outcome != OutcomeStale {
		t.Fatalf("stale: %+v", s)
	}
}

// A panicking creator's span ends, with the error outcome.
func TestTracerSpanCreatorPanic(t *testing.T) {
	r, tr := tracedRegion(t, "memory")
	func() {
		defer func() { recover() }()                                                                    //nolint:errcheck
		GetOrCreate(context.Background(), r, "k", func(context.Context) (int, error) { panic("boom") }) //nolint:errcheck
	}()
	if s := tr.find(SpanCreate); len(s) != 1 || !s[0].ended || s[0].outcome != OutcomeError {
		t.Fatalf("create span after a panic: %+v", s)
	}
}

// Hits on the in-process memory backend start no span; misses do, and no
// backend span (its calls take nanoseconds).
func TestTracerMemoryHitsUntraced(t *testing.T) {
	ctx := context.Background()
	r, tr := tracedRegion(t, "memory")
	for range 3 {
		if _, err := GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"dogpile.create ok < dogpile.get_or_create", "dogpile.get_or_create miss"}
	if got := tr.take(t); !slices.Equal(got, want) {
		t.Fatalf("spans %q, want %q", got, want)
	}
}

// oneLockWait makes one caller of key k on r wait for another's creation,
// and returns when both are done; began is a time before the wait began.
func oneLockWait(t *testing.T, r *Region) (began time.Time) {
	t.Helper()
	ctx := context.Background()
	release := make(chan struct{})
	creator := func(context.Context) (int, error) { <-release; return 1, nil }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); GetOrCreate(ctx, r, "k", creator) }() //nolint:errcheck
	testutil.Eventually(t, "the creation", func() bool { return r.flights.InFlight("k") })
	began = time.Now()
	go func() { defer wg.Done(); GetOrCreate(ctx, r, "k", creator) }() //nolint:errcheck
	testutil.Eventually(t, "the waiter", func() bool { return r.flights.Waiters("k") == 1 })
	close(release)
	wg.Wait()
	return began
}

// A caller that waits for another's creation reports its wait as a span,
// child of its get-or-create span, begun when the wait began.
func TestTracerSpanLockWait(t *testing.T) {
	r, tr := tracedRegion(t, "memory")
	began := oneLockWait(t, r)
	waits := tr.find(SpanLockWait)
	if len(waits) != 1 {
		t.Fatalf("%d lock wait spans, want 1", len(waits))
	}
	w := waits[0]
	if w.info.Lock != LockLocal || w.outcome != OutcomeOK || w.parent == nil || w.parent.name != SpanGetOrCreate || w.info.Key != "k" {
		t.Fatalf("lock wait span %+v", w)
	}
	if w.info.Start.Before(began) || w.info.Start.After(time.Now()) {
		t.Fatalf("lock wait began at %v, not within the wait (from %v)", w.info.Start, began)
	}
}

// chanMutex is a cross-process mutex stand-in: one holder at a time.
type chanMutex chan struct{}

func (m chanMutex) TryLock(context.Context) (bool, error) {
	select {
	case m <- struct{}{}:
		return true, nil
	default:
		return false, nil
	}
}

func (m chanMutex) Lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m chanMutex) Unlock(context.Context) error { <-m; return nil }

// lockingBackend gives a backend one cross-process mutex for every key.
type lockingBackend struct {
	Backend
	m chanMutex
}

func (b lockingBackend) Mutex(string) lock.Mutex { return b.m }

// Taking the backend's cross-process lock is a lock wait span of its own,
// of the distributed kind, in the creating call's span.
func TestTracerSpanDistributedLockWait(t *testing.T) {
	tr := &recordingTracer{}
	mem, err := NewSerializedMemoryBackend(MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRegion(WithTracer(tr)).ConfigureBackend(lockingBackend{mem, make(chanMutex, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GetOrCreate(context.Background(), r, "k", func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	waits := tr.find(SpanLockWait)
	if len(waits) != 1 || waits[0].info.Lock != LockDistributed || waits[0].parent == nil || waits[0].parent.name != SpanGetOrCreate {
		t.Fatalf("lock wait spans %+v", waits)
	}
}

// Multi-key calls: one span for the call, one backend call for its reads,
// and the traced backend keeps the multi-key calls of the backend beneath.
func TestTracerSpansMulti(t *testing.T) {
	ctx := context.Background()
	r, tr := tracedMultiRegion(t)
	if _, err := GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(_ context.Context, ks []string) ([]string, error) { return ks, nil }); err != nil {
		t.Fatal(err)
	}
	got := tr.take(t)
	for _, want := range []string{"dogpile.get_or_create_multi ok", "dogpile.backend.get_multi ok < dogpile.get_or_create_multi", "dogpile.backend.set_multi ok < dogpile.get_or_create_multi"} {
		if !slices.Contains(got, want) {
			t.Fatalf("spans %q lack %q", got, want)
		}
	}
	if slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "dogpile.backend.get ") }) {
		t.Fatalf("a single-key read among %q: the traced backend hid the multi-key calls", got)
	}
}

// multiBackend gives a backend multi-key calls, one call of its per key.
type multiBackend struct{ Backend }

func (m multiBackend) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, ok, err := m.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = v
		}
	}
	return out, nil
}

func (m multiBackend) SetMulti(ctx context.Context, items map[string][]byte) error {
	for k, v := range items {
		if err := m.Set(ctx, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (m multiBackend) DeleteMulti(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if err := m.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Backend errors end their spans with the error.
func TestTracerSpanBackendError(t *testing.T) {
	tr := &recordingTracer{}
	r, err := NewRegion(WithTracer(tr)).ConfigureBackend(erringBackend{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Get[int](context.Background(), r, "k"); !errors.Is(err, errDown) {
		t.Fatalf("err %v", err)
	}
	if s := tr.find(SpanBackendPrefix + "get"); len(s) != 1 || s[0].outcome != OutcomeError || !errors.Is(s[0].err, errDown) {
		t.Fatalf("backend span %+v", s)
	}
}

// Latency histograms: creations and lock waits are timed at every call,
// hits on the in-process memory backends one in hitSample, hits on other
// backends at every call.
func TestMetricsLatencies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		backend string
		hits    uint64 // timed of 4*hitSample hits
	}{{"memory", 4}, {"memory_serialized", 4}, {"user's", 4 * hitSample}} {
		t.Run(tc.backend, func(t *testing.T) {
			var r *Region
			var err error
			if tc.backend == "user's" {
				mem, _ := NewSerializedMemoryBackend(MemoryOptions{})
				r, err = NewRegion(WithMetrics()).ConfigureBackend(multiBackend{mem}, WithExpiration(time.Hour))
			} else {
				r, err = NewRegion(WithMetrics()).Configure(tc.backend, WithExpiration(time.Hour))
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { time.Sleep(2 * time.Millisecond); return 1, nil }); err != nil {
				t.Fatal(err)
			}
			for range 4 * hitSample {
				if _, err := GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 1, nil }); err != nil {
					t.Fatal(err)
				}
			}
			l := r.Latencies()
			if l.Hit.Count != tc.hits || l.Hit.Sum <= 0 {
				t.Fatalf("hit histogram %+v, want %d timed", l.Hit, tc.hits)
			}
			if l.Creation.Count != 1 || l.Creation.Sum < 2*time.Millisecond {
				t.Fatalf("creation histogram %+v, want one of at least 2ms", l.Creation)
			}
			if i := bucketOf(l.Creation); latencyBounds[i] < 2*time.Millisecond || i > 0 && latencyBounds[i-1] >= l.Creation.Sum {
				t.Fatalf("a creation of %v counted in bucket %d (≤ %v)", l.Creation.Sum, i, latencyBounds[i])
			}
		})
	}
}

// bucketOf is the bucket of h's only latency.
func bucketOf(h Histogram) int {
	for i, c := range h.Counts {
		if c != 0 {
			return i
		}
	}
	panic(fmt.Sprintf("empty histogram %+v", h))
}

func TestMetricsLockWaitLatency(t *testing.T) {
	r, err := NewRegion(WithMetrics()).Configure("memory")
	if err != nil {
		t.Fatal(err)
	}
	oneLockWait(t, r)
	if l := r.Latencies().LockWait; l.Count != 1 || l.Sum <= 0 {
		t.Fatalf("lock wait histogram %+v, want one wait", l)
	}
	if l := (&Region{}).Latencies(); l.Hit.Count != 0 || len(l.Hit.Counts) != len(latencyBounds)+1 {
		t.Fatalf("a region without metrics: %+v", l)
	}
}

// An observer given after WithMetrics replaces its counters: hits are not
// timed by counters that no longer count.
func TestMetricsReplacedByObserver(t *testing.T) {
	var c countingObserver
	r, err := NewRegion(WithMetrics(), WithObserver(&c)).Configure("memory")
	if err != nil {
		t.Fatal(err)
	}
	for range 4 * hitSample {
		GetOrCreate(context.Background(), r, "k", func(context.Context) (int, error) { return 1, nil }) //nolint:errcheck
	}
	if c.timed != 0 || c.hits != 4*hitSample-1 || r.Stats() != (Stats{}) {
		t.Fatalf("%d hits, %d timed; stats %+v", c.hits, c.timed, r.Stats())
	}
}

type countingObserver struct {
	mu          sync.Mutex
	hits, timed int
}

func (c *countingObserver) Observe(e Event, d time.Duration) {
	if e != EventHit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hits++
	if d > 0 {
		c.timed++
	}
}

// Multi-key spans say how many keys they are about: the call's, and each of
// the backend's multi-key calls; single-key spans are about one.
func TestTracerSpanKeyCounts(t *testing.T) {
	ctx := context.Background()
	r, tr := tracedMultiRegion(t)
	keys := []string{"a", "b", "c"}
	if _, err := GetOrCreateMulti(ctx, r, keys, func(_ context.Context, ks []string) ([]string, error) { return ks, nil }); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteMulti(ctx, keys); err != nil {
		t.Fatal(err)
	}
	if _, err := GetOrCreate(ctx, r, "d", func(context.Context) (string, error) { return "d", nil }); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{
		SpanGetOrCreateMulti:               3,
		SpanBackendPrefix + "get_multi":    3,
		SpanBackendPrefix + "set_multi":    3,
		SpanBackendPrefix + "delete_multi": 3,
		SpanGetOrCreate:                    1,
		SpanBackendPrefix + "set":          1,
	} {
		spans := tr.find(name)
		if len(spans) == 0 {
			t.Fatalf("no %s span", name)
		}
		for _, s := range spans {
			if s.info.Keys != want {
				t.Errorf("%s span about %d keys, want %d", name, s.info.Keys, want)
			}
		}
	}
}

// A backend's failed write or delete ends its span with the error, like a
// failed read.
func TestTracerSpanBackendWriteErrors(t *testing.T) {
	ctx := context.Background()
	tr := &recordingTracer{}
	r, err := NewRegion(WithTracer(tr)).ConfigureBackend(erringBackend{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "k", 1); !errors.Is(err, errDown) {
		t.Fatalf("Set = %v", err)
	}
	if err := r.Delete(ctx, "k"); !errors.Is(err, errDown) {
		t.Fatalf("Delete = %v", err)
	}
	for _, op := range []string{"set", "delete"} {
		if s := tr.find(SpanBackendPrefix + op); len(s) != 1 || s[0].outcome != OutcomeError || !errors.Is(s[0].err, errDown) {
			t.Fatalf("backend %s span %+v", op, s)
		}
	}
}

// Tracing does not take the waits from the metrics: a region with both
// counts and times its lock waits as one without a tracer does.
func TestTracerKeepsLockWaitMetrics(t *testing.T) {
	r, tr := tracedRegion(t, "memory", WithMetrics())
	oneLockWait(t, r)
	if len(tr.find(SpanLockWait)) != 1 {
		t.Fatal("no lock wait span")
	}
	if s, l := r.Stats(), r.Latencies().LockWait; s.LockWaits != 1 || s.LockWaitTime <= 0 || l.Count != 1 {
		t.Fatalf("stats %+v, lock wait histogram %+v; want the wait counted and timed", s, l)
	}
}

// tracedMultiRegion is a region traced by the returned tracer, on a byte
// store with multi-key calls.
func tracedMultiRegion(t *testing.T) (*Region, *recordingTracer) {
	t.Helper()
	tr := &recordingTracer{}
	mem, err := NewSerializedMemoryBackend(MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRegion(WithTracer(tr)).ConfigureBackend(multiBackend{mem}, WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r, tr
}
