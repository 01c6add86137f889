package dogpile

import (
	"context"
	"errors"
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
