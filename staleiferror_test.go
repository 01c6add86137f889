package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

var errDatabaseDown = errors.New("database down")

func failing(context.Context) (string, error) { return "", errDatabaseDown }

func failingMulti(context.Context, []string) ([]string, error) { return nil, errDatabaseDown }

// staleForAMinute checks a region made WithStaleIfError(time.Minute),
// whose "k" became stale at the clock's now (since says why): a failing
// creation is served the stale value 30s later, and gets its error 90s later.
func staleForAMinute(t *testing.T, r *dogpile.Region, clock *testClock, since string) {
	t.Helper()
	ctx := context.Background()
	clock.advance(30 * time.Second)
	if v, err := dogpile.GetOrCreate(ctx, r, "k", failing); err != nil || v != "stale" {
		t.Fatalf("30s after %s: %q, %v; want the stale value", since, v, err)
	}
	clock.advance(time.Minute)
	if _, err := dogpile.GetOrCreate(ctx, r, "k", failing); !errors.Is(err, errDatabaseDown) {
		t.Fatalf("90s after %s: %v; want the creator's error", since, err)
	}
}

// Issue 17, stale-if-error: a soft-invalidated value is stale from the
// invalidation, not from its creation; an expired one from its expiry;
// whichever came first.
func TestP4StaleIfErrorMeasuredFromTheSoftInvalidation(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		ropts := []dogpile.RegionOption{dogpile.WithStaleIfError(time.Minute)}
		r, _ := regionsOnOneStore(t, backend, clock, 0, 0, ropts...)
		mustSet(t, r, "k", "stale")
		clock.advance(time.Hour) // a value older than the bound, without expiration
		if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		staleForAMinute(t, r, clock, "the soft invalidation")

		// Expired long before it was invalidated: stale since its expiry.
		exp, _ := regionsOnOneStore(t, backend, clock, 10*time.Minute, 0, ropts...)
		mustSet(t, exp, "k", "stale")
		clock.advance(time.Hour)
		if err := exp.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		if _, err := dogpile.GetOrCreate(ctx, exp, "k", failing); !errors.Is(err, errDatabaseDown) {
			t.Fatalf("expired 50 minutes before the invalidation: %v; want the creator's error", err)
		}
	})
}

// Under shared invalidation, whose generations carry no time, a soft
// invalidation is dated by when this process learned of it.
func TestP4StaleIfErrorSharedInvalidationFromWhenThisProcessLearnedOfIt(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	store := sharedStore(t)
	process := func() *dogpile.Region {
		return regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("sie"), clock.option(), dogpile.WithStaleIfError(time.Minute)},
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	}
	a, b := process(), process()
	mustSet(t, b, "k", "stale")
	clock.advance(time.Hour)
	if err := a.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet[string](t, b, "k"); ok { // b learns of it now
		t.Fatal("b reads a soft-invalidated value as fresh")
	}
	staleForAMinute(t, b, clock, "b learned of the invalidation")
}

// A soft invalidation that this process learns of while a creation fails
// (the check that dates the stale value reads the record again) dates the
// stale value from then: the latest soft invalidation, as in one process.
func TestStaleIfErrorSharedInvalidationLearnedDuringTheFailingCreation(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	store := sharedStore(t)
	process := func() *dogpile.Region {
		return regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("sie"), clock.option(), dogpile.WithStaleIfError(time.Minute)},
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(time.Second)))
	}
	a, b := process(), process()
	mustSet(t, b, "k", "stale")
	clock.advance(time.Hour)
	if err := a.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet[string](t, b, "k"); ok { // b learns of the first one now
		t.Fatal("b reads a soft-invalidated value as fresh")
	}
	clock.advance(90 * time.Second) // past the bound from the first invalidation
	v, err := dogpile.GetOrCreate(ctx, b, "k", func(ctx context.Context) (string, error) {
		if err := a.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Error(err)
		}
		clock.advance(2 * time.Second) // b's next read of the record is due
		return "", errDatabaseDown
	})
	if err != nil || v != "stale" {
		t.Fatalf("a failing creation during which b learned of a second soft invalidation: %q, %v; want the stale value, dated from the second", v, err)
	}
	clock.advance(time.Minute + time.Second)
	if _, err := dogpile.GetOrCreate(ctx, b, "k", failing); !errors.Is(err, errDatabaseDown) {
		t.Fatalf("61s after b learned of the second invalidation: %v; want the creator's error", err)
	}
}

// GetOrCreateMulti and CachedMulti serve the stale values when the
// creation fails and every key that needed one had one within the bound;
// a key without a value makes it the error.
func TestP4StaleIfErrorMulti(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, 10*time.Second, 0, dogpile.WithStaleIfError(time.Minute))
		if err := r.SetMulti(ctx, map[string]any{"a": "A", "b": "B", "fresh": "F"}); err != nil {
			t.Fatal(err)
		}
		clock.advance(15 * time.Second)
		mustSet(t, r, "fresh", "F")
		vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "fresh", "b"}, failingMulti)
		if err != nil || !slices.Equal(vals, []string{"A", "F", "B"}) {
			t.Fatalf("GetOrCreateMulti = %q, %v; want the stale values", vals, err)
		}
		if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "missing"}, failingMulti); !errors.Is(err, errDatabaseDown) {
			t.Fatalf("with a key without a value: %v; want the creator's error", err)
		}

		cached := dogpile.CachedMulti(r, func(context.Context, []int) ([]string, error) { return nil, errDatabaseDown }, dogpile.FuncName("sie"))
		if err := cached.Set(ctx, map[int]string{1: "one"}); err != nil {
			t.Fatal(err)
		}
		clock.advance(15 * time.Second)
		if got, err := cached.Call(ctx, []int{1}); err != nil || !slices.Equal(got, []string{"one"}) {
			t.Fatalf("CachedMulti.Call = %q, %v; want the stale value", got, err)
		}
		clock.advance(2 * time.Minute)
		if _, err := cached.Call(ctx, []int{1}); !errors.Is(err, errDatabaseDown) {
			t.Fatalf("past the bound: %v; want the error", err)
		}
	})
}

func TestP4StaleIfErrorWithinBound(t *testing.T) {
	ctx := context.Background()
	fail := errors.New("database down")
	failing := func(context.Context) (string, error) { return "", fail }
	expired := dogpile.ExpirationTime(time.Nanosecond)

	r, _ := dogpile.NewRegion(dogpile.WithStaleIfError(time.Hour)).Configure("memory")
	r.Set(ctx, "k", "stale") //nolint:errcheck
	if v, err := dogpile.GetOrCreate(ctx, r, "k", failing, expired); err != nil || v != "stale" {
		t.Fatalf("stale-if-error within bound: got %q, %v; want the stale value", v, err)
	}
	// Past the bound the error is returned.
	strict, _ := dogpile.NewRegion(dogpile.WithStaleIfError(time.Nanosecond)).Configure("memory")
	strict.Set(ctx, "k", "stale") //nolint:errcheck
	if _, err := dogpile.GetOrCreate(ctx, strict, "k", failing, expired); !errors.Is(err, fail) {
		t.Fatalf("stale-if-error past its bound: got %v; want the creator's error", err)
	}
	// Without the option the error is returned, and a missing value never
	// turns into one.
	plain, _ := dogpile.NewRegion().Configure("memory")
	plain.Set(ctx, "k", "stale") //nolint:errcheck
	if _, err := dogpile.GetOrCreate(ctx, plain, "k", failing, expired); !errors.Is(err, fail) {
		t.Fatalf("without stale-if-error: got %v", err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "missing", failing); !errors.Is(err, fail) {
		t.Fatalf("stale-if-error with no stale value: got %v", err)
	}
}

// A regeneration that ends because its caller gave up (its context was
// canceled or ran out of time) is no failure of the data source: the caller
// gets the context's error, not the stale value.
func TestStaleIfErrorNotForTheCallersOwnCancellation(t *testing.T) {
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		t.Run(cause.Error(), func(t *testing.T) {
			r := regionWith(t, []dogpile.RegionOption{dogpile.WithStaleIfError(time.Hour)}, "memory")
			mustSet(t, r, "k", "stale")
			v, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) {
				return "", fmt.Errorf("query: %w", cause)
			}, expiredNow)
			if !errors.Is(err, cause) {
				t.Fatalf("GetOrCreate = %q, %v; want the %v, not the stale value", v, err, cause)
			}
		})
	}
}

// A value stale exactly maxStale ago is still within the bound; a
// nanosecond later it is not.
func TestStaleIfErrorBoundIsInclusive(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, 10*time.Second, 0, dogpile.WithStaleIfError(time.Minute))
		mustSet(t, r, "k", "stale")
		clock.advance(10*time.Second + time.Minute) // expired a minute ago, to the nanosecond
		if v, err := dogpile.GetOrCreate(ctx, r, "k", failing); err != nil || v != "stale" {
			t.Fatalf("stale for exactly the bound: %q, %v; want the stale value", v, err)
		}
		clock.advance(time.Nanosecond)
		if _, err := dogpile.GetOrCreate(ctx, r, "k", failing); !errors.Is(err, errDatabaseDown) {
			t.Fatalf("stale for a nanosecond over the bound: %v; want the creator's error", err)
		}
	})
}

// A value whose creator set its own expiration became stale when that
// expiration ended, in a region whose values otherwise never expire.
func TestStaleIfErrorMeasuredFromTheEntrysOwnExpiration(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, 0, 0, dogpile.WithStaleIfError(time.Minute))
		for _, k := range []string{"recent", "old"} {
			if _, err := dogpile.GetOrCreate(ctx, r, k, func(ctx context.Context) (string, error) {
				dogpile.SetExpiration(ctx, 10*time.Second)
				return "stale", nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		clock.advance(40 * time.Second) // "recent" expired 30s ago
		if v, err := dogpile.GetOrCreate(ctx, r, "recent", failing); err != nil || v != "stale" {
			t.Fatalf("30s after its own expiration: %q, %v; want the stale value", v, err)
		}
		clock.advance(time.Minute) // "old" expired 90s ago
		if _, err := dogpile.GetOrCreate(ctx, r, "old", failing); !errors.Is(err, errDatabaseDown) {
			t.Fatalf("90s after its own expiration: %v; want the creator's error", err)
		}
	})
}

// A tag's soft invalidation carries no time a process can trust, so a
// value made stale by one is measured from its creation: an old value is
// past the bound at once, a recent one is served.
func TestStaleIfErrorAfterATagsSoftInvalidationMeasuredFromCreation(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, 0, 0, dogpile.WithStaleIfError(time.Minute))
		tags := dogpile.Tags("t")
		if err := r.Set(ctx, "old", "stale", tags); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Hour)
		if err := r.Set(ctx, "recent", "stale", tags); err != nil {
			t.Fatal(err)
		}
		clock.advance(30 * time.Second)
		if err := r.InvalidateTags(ctx, dogpile.Soft, "t"); err != nil {
			t.Fatal(err)
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "recent", failing, tags); err != nil || v != "stale" {
			t.Fatalf("created 30s before its tag's soft invalidation: %q, %v; want the stale value", v, err)
		}
		if _, err := dogpile.GetOrCreate(ctx, r, "old", failing, tags); !errors.Is(err, errDatabaseDown) {
			t.Fatalf("created an hour before its tag's soft invalidation: %v; want the creator's error", err)
		}
	})
}

// softBefore is a user's invalidation strategy: every value created before
// its last Invalidate is soft-invalidated, whatever how says.
type softBefore struct {
	clock *testClock
	at    atomic.Int64
}

func (s *softBefore) Invalidate(context.Context, dogpile.Invalidation) error {
	s.at.Store(s.clock.now())
	return nil
}

func (s *softBefore) Invalidated(_ context.Context, created time.Time) dogpile.Invalidation {
	if created.UnixNano() < s.at.Load() {
		return dogpile.Soft
	}
	return dogpile.NotInvalidated
}

// A custom strategy does not say when it invalidated a value, so its
// soft-invalidated values are measured from their creation.
func TestStaleIfErrorCustomStrategyMeasuredFromCreation(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	inv := &softBefore{clock: clock}
	r := regionWith(t, []dogpile.RegionOption{clock.option(), dogpile.WithStaleIfError(time.Minute)}, "memory",
		dogpile.WithInvalidationStrategy(inv))
	mustSet(t, r, "old", "stale")
	clock.advance(time.Hour)
	mustSet(t, r, "recent", "stale")
	clock.advance(30 * time.Second)
	if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Nanosecond)
	if v, err := dogpile.GetOrCreate(ctx, r, "recent", failing); err != nil || v != "stale" {
		t.Fatalf("created 30s before the strategy's soft invalidation: %q, %v; want the stale value", v, err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "old", failing); !errors.Is(err, errDatabaseDown) {
		t.Fatalf("created an hour before the strategy's soft invalidation: %v; want the creator's error", err)
	}
}
