package dogpile

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// erringBackend fails every call.
type erringBackend struct{}

var errDown = errors.New("server down")

func (erringBackend) Get(context.Context, string) ([]byte, bool, error) { return nil, false, errDown }
func (erringBackend) Set(context.Context, string, []byte) error         { return errDown }
func (erringBackend) Delete(context.Context, string) error              { return errDown }

func TestP2MetricsCountUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	r, err := NewRegion(WithMetrics()).Configure("memory_serialized", WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	release := make(chan struct{})
	creator := func(context.Context) (string, error) { <-release; return "v", nil }

	// Cold key: n misses, one regeneration, n-1 lock waits.
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); GetOrCreate(ctx, r, "k", creator) }() //nolint:errcheck
	}
	testutil.Eventually(t, "n-1 waiters in the flight", func() bool { return r.flights.Waiters("k") == n-1 })
	close(release)
	wg.Wait()
	s := r.Stats()
	if s.Misses != n || s.Regenerations != 1 || s.LockWaits != n-1 || s.Hits != 0 {
		t.Fatalf("cold stampede: %+v; want %d misses, 1 regeneration, %d lock waits", s, n, n-1)
	}
	if s.LockWaitTime <= 0 || s.RegenerationTime <= 0 {
		t.Fatalf("durations not recorded: %+v", s)
	}

	// Hits.
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); GetOrCreate(ctx, r, "k", creator) }() //nolint:errcheck
	}
	wg.Wait()
	if s := r.Stats(); s.Hits != n {
		t.Fatalf("hits = %d, want %d", s.Hits, n)
	}

	// Expired: one regenerates, the others are served stale.
	entered, unblock := make(chan struct{}), make(chan struct{})
	expired := ExpirationTime(time.Nanosecond)
	go GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { close(entered); <-unblock; return "v2", nil }, expired) //nolint:errcheck
	<-entered
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); GetOrCreate(ctx, r, "k", creator, expired) }() //nolint:errcheck
	}
	wg.Wait()
	close(unblock)
	testutil.Eventually(t, "the regeneration", func() bool { return r.Stats().Regenerations == 2 })
	if s := r.Stats(); s.StaleServed != n {
		t.Fatalf("stale served = %d, want %d", s.StaleServed, n)
	}

	// Creator errors and decode failures.
	GetOrCreate(ctx, r, "bad", func(context.Context) (string, error) { return "", errors.New("boom") }) //nolint:errcheck
	if err := r.Backend().Set(ctx, "junk", []byte("not an entry")); err != nil {
		t.Fatal(err)
	}
	Get[string](ctx, r, "junk") //nolint:errcheck
	if s := r.Stats(); s.CreatorErrors != 1 || s.DecodeFailures != 1 {
		t.Fatalf("creator errors %d, decode failures %d; want 1 and 1", s.CreatorErrors, s.DecodeFailures)
	}

	// Backend errors.
	down, err := NewRegion(WithMetrics()).ConfigureBackend(erringBackend{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Get[string](ctx, down, "k"); !errors.Is(err, errDown) || !errors.Is(err, ErrBackend) {
		t.Fatalf("Get on a failing backend: %v", err)
	}
	if err := down.Set(ctx, "k", "v"); !errors.Is(err, errDown) {
		t.Fatalf("Set on a failing backend: %v", err)
	}
	if s := down.Stats(); s.BackendErrors != 2 {
		t.Fatalf("backend errors = %d, want 2", s.BackendErrors)
	}
}

func TestStatsZeroWithoutMetrics(t *testing.T) {
	r, _ := NewRegion().Configure("memory")
	GetOrCreate(context.Background(), r, "k", func(context.Context) (int, error) { return 1, nil }) //nolint:errcheck
	if s := r.Stats(); s != (Stats{}) {
		t.Fatalf("a region without WithMetrics counted %+v", s)
	}
}

// Each event has its name (the one the exporters and logs use); a value
// beyond the last event is "unknown".
func TestEventNames(t *testing.T) {
	want := []string{"hit", "miss", "stale_served", "regenerated", "lock_wait", "creator_error", "backend_error", "decode_failure", "rejected", "lock_lost",
		"negative_hit", "soft_timeout", "value_refused", "breaker_open", "recovery_queued", "recovery_replayed", "recovery_overflow"}
	if len(want) != int(numEvents) {
		t.Fatalf("%d events, %d names", numEvents, len(want))
	}
	for i, name := range want {
		if got := Event(i).String(); got != name {
			t.Errorf("Event(%d).String() = %q, want %q", i, got, name)
		}
	}
	for _, e := range []Event{numEvents, 255} {
		if got := e.String(); got != "unknown" {
			t.Errorf("Event(%d).String() = %q, want unknown", e, got)
		}
	}
}

// Metrics counts each event with its duration; an event it does not know is
// ignored, a zero duration is counted but adds no latency sample, and only
// hits, successful creations and lock waits have histograms (a creator's
// error is not a creation's latency).
func TestMetricsObserve(t *testing.T) {
	var m Metrics
	m.Observe(numEvents, time.Second)
	m.Observe(EventRegenerated, 0)
	m.Observe(EventCreatorError, time.Millisecond)
	m.Observe(EventBackendError, time.Millisecond)
	m.Observe(EventLockWait, time.Nanosecond)
	s, l := m.Snapshot(), m.Latencies()
	if s != (Stats{Regenerations: 1, CreatorErrors: 1, BackendErrors: 1, LockWaits: 1, LockWaitTime: time.Nanosecond}) {
		t.Fatalf("stats %+v", s)
	}
	if l.Creation.Count != 0 || l.Hit.Count != 0 {
		t.Fatalf("a creation of no duration or a creator's error is in the histograms: %+v", l)
	}
	if l.LockWait.Count != 1 || l.LockWait.Counts[0] != 1 || l.LockWait.Sum != time.Nanosecond {
		t.Fatalf("a lock wait of 1ns: histogram %+v", l.LockWait)
	}
}

// A latency equal to a bucket's bound is counted in that bucket (the
// buckets are "at most" their bound), one just above it in the next.
func TestMetricsLatencyOnABound(t *testing.T) {
	for i, b := range latencyBounds {
		var m Metrics
		m.Observe(EventLockWait, b)
		m.Observe(EventRegenerated, b+1)
		l := m.Latencies()
		if l.LockWait.Counts[i] != 1 {
			t.Fatalf("a latency of %v: counts %v, want it in bucket %d", b, l.LockWait.Counts, i)
		}
		if l.Creation.Counts[i+1] != 1 {
			t.Fatalf("a latency of %v: counts %v, want it in bucket %d", b+1, l.Creation.Counts, i+1)
		}
	}
}

// LatencyBounds are 100 ns to 10 s in steps of 1, 2.5 and 5 per decade, and
// the slice is the caller's own: changing it changes no histogram.
func TestLatencyBounds(t *testing.T) {
	var want []time.Duration
	for d := 100 * time.Nanosecond; d <= time.Second; d *= 10 {
		want = append(want, d, d*5/2, d*5)
	}
	want = append(want, 10*time.Second)
	got := LatencyBounds()
	if !slices.Equal(got, want) {
		t.Fatalf("LatencyBounds() = %v\nwant %v", got, want)
	}
	clear(got)
	if LatencyBounds()[0] != 100*time.Nanosecond {
		t.Fatal("changing the slice LatencyBounds returned changed the bounds")
	}
}
