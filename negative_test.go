package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

type user struct {
	ID   int
	Name string
}

// wantNotFound fails the test unless err is a *NotFoundError for keys.
func wantNotFound(t *testing.T, err error, keys ...string) {
	t.Helper()
	var nf *dogpile.NotFoundError
	if !errors.Is(err, dogpile.ErrNotFound) || !errors.As(err, &nf) || !slices.Equal(nf.Keys, keys) {
		t.Fatalf("got %v; want a *NotFoundError for %q", err, keys)
	}
}

// Issue 17, negative caching: 1,000 calls for a missing key within its
// expiration run the creator once, and every caller is told not found.
func TestNegativeCachingRunsTheCreatorOnce(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		r := regionWith(t, []dogpile.RegionOption{dogpile.WithNegativeExpiration(time.Hour), dogpile.WithMetrics()}, backend)
		var calls atomic.Int32
		load := func(context.Context) (*user, error) {
			calls.Add(1)
			return nil, fmt.Errorf("user 42: %w", dogpile.ErrNotFound)
		}
		for range 1000 {
			u, err := dogpile.GetOrCreate(ctx, r, "user:42", load)
			if u != nil {
				t.Fatalf("got %v for a missing user", u)
			}
			wantNotFound(t, err, "user:42")
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("the creator ran %d times for 1000 calls; want 1", n)
		}
		if st := r.Stats(); st.NegativeHits != 999 || st.Regenerations != 1 || st.CreatorErrors != 0 {
			t.Fatalf("NegativeHits = %d, Regenerations = %d, CreatorErrors = %d; want 999, 1, 0", st.NegativeHits, st.Regenerations, st.CreatorErrors)
		}
		// Get tells "known not to exist" from "not cached"; GetMulti leaves
		// the key out.
		_, ok, err := dogpile.Get[*user](ctx, r, "user:42")
		if ok {
			t.Fatal("Get of a negative entry is ok")
		}
		wantNotFound(t, err, "user:42")
		if _, ok, err := dogpile.Get[*user](ctx, r, "user:43"); ok || err != nil {
			t.Fatalf("Get of a key never set = %v, %v; want a plain miss", ok, err)
		}
		if hits, err := dogpile.GetMulti[*user](ctx, r, []string{"user:42"}); err != nil || len(hits) != 0 {
			t.Fatalf("GetMulti = %v, %v; want no hits", hits, err)
		}
	})
}

// Concurrent callers waiting for a creation that finds nothing are all
// told not found.
func TestNegativeCachingWaitersAreToldNotFound(t *testing.T) {
	r := regionOn(t, "memory")
	release := make(chan struct{})
	var calls atomic.Int32
	load := func(context.Context) (string, error) { calls.Add(1); <-release; return "", dogpile.ErrNotFound }
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := dogpile.GetOrCreate(context.Background(), r, "k", load)
			errs <- err
		}()
	}
	testutil.Eventually(t, "the callers to join the creation", func() bool { return dogpile.FlightWaiters(r, "k") == n-1 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		wantNotFound(t, err, "k")
	}
	if calls.Load() != 1 {
		t.Fatalf("the creator ran %d times", calls.Load())
	}
}

// A negative entry expires after the negative expiration — the call's, else
// the region's, else as a value would — unless its creator set its own.
func TestNegativeExpiration(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, time.Hour, time.Hour, dogpile.WithNegativeExpiration(10*time.Second))
		var calls atomic.Int32
		missing := func(context.Context) (string, error) { calls.Add(1); return "", dogpile.ErrNotFound }
		ask := func(key string, opts ...dogpile.Option) {
			t.Helper()
			if _, err := dogpile.GetOrCreate(ctx, r, key, missing, opts...); !errors.Is(err, dogpile.ErrNotFound) {
				t.Fatalf("GetOrCreate(%q) = %v; want not found", key, err)
			}
		}
		ask("region")
		ask("call", dogpile.NegativeExpiration(2*time.Second))
		ask("creator", dogpile.NegativeExpiration(2*time.Second))
		clock.advance(3 * time.Second)
		calls.Store(0)
		ask("region")
		ask("call", dogpile.NegativeExpiration(2*time.Second))
		if n := calls.Load(); n != 1 {
			t.Fatalf("after 3s the creator ran %d times; want once, for the call's 2s", n)
		}
		clock.advance(8 * time.Second)
		ask("region")
		if n := calls.Load(); n != 2 {
			t.Fatalf("after 11s the creator ran %d times; want twice (the region's 10s too)", n)
		}

		setsOwn := func(ctx context.Context) (string, error) {
			calls.Add(1)
			dogpile.SetExpiration(ctx, time.Minute)
			return "", dogpile.ErrNotFound
		}
		calls.Store(0)
		for range 2 {
			if _, err := dogpile.GetOrCreate(ctx, r, "own", setsOwn, dogpile.NegativeExpiration(time.Second)); !errors.Is(err, dogpile.ErrNotFound) {
				t.Fatal(err)
			}
			clock.advance(30 * time.Second)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("a negative entry whose creator set a minute ran the creator %d times in 30s; want 1", n)
		}
	})
}

// DontCache keeps a "not found" from being cached; invalidation and Delete
// apply to negative entries as to any other.
func TestNegativeEntriesDontCacheInvalidateDelete(t *testing.T) {
	onEachRegion(t, 0, func(t *testing.T, r *dogpile.Region) {
		ctx := context.Background()
		var calls atomic.Int32
		transient := func(ctx context.Context) (string, error) {
			calls.Add(1)
			dogpile.DontCache(ctx)
			return "", dogpile.ErrNotFound
		}
		missing := func(context.Context) (string, error) { calls.Add(1); return "", dogpile.ErrNotFound }
		for range 2 {
			dogpile.GetOrCreate(ctx, r, "t", transient) //nolint:errcheck // not found
		}
		if calls.Load() != 2 {
			t.Fatalf("DontCache on a not found: the creator ran %d times in 2 calls; want 2", calls.Load())
		}
		calls.Store(0)
		dogpile.GetOrCreate(ctx, r, "k", missing) //nolint:errcheck
		if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
		dogpile.GetOrCreate(ctx, r, "k", missing) //nolint:errcheck
		if err := r.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { calls.Add(1); return "found", nil })
		if err != nil || v != "found" || calls.Load() != 3 {
			t.Fatalf("after invalidation and delete: %q, %v, %d creator calls; want found from the third", v, err, calls.Load())
		}
	})
}

// A negative entry in a byte store is an envelope with its flag and no
// payload.
func TestNegativeEntryInAByteStore(t *testing.T) {
	store := newStore()
	r := regionFor(t, store, nil)
	if _, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (user, error) { return user{}, dogpile.ErrNotFound }); !errors.Is(err, dogpile.ErrNotFound) {
		t.Fatal(err)
	}
	b, ok := store.raw("k")
	if !ok {
		t.Fatal("nothing stored")
	}
	md, err := dogpile.InspectEntry(b)
	if err != nil || !md.NotFound {
		t.Fatalf("InspectEntry = %+v, %v; want a NotFound entry", md, err)
	}
}

// Multi-key creators say which keys were not found with NotFoundAt, or all
// with ErrNotFound; the call returns the other values with a
// *NotFoundError, from the creation and from the cache.
func TestNegativeCachingMulti(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		r := regionWith(t, []dogpile.RegionOption{dogpile.WithMetrics()}, backend)
		var calls [][]string
		var mu sync.Mutex
		load := func(_ context.Context, keys []string) ([]string, error) {
			mu.Lock()
			calls = append(calls, keys)
			mu.Unlock()
			out := make([]string, len(keys))
			var missing []int
			for i, k := range keys {
				if k == "b" || k == "d" {
					missing = append(missing, i)
					continue
				}
				out[i] = k + "!"
			}
			return out, dogpile.NotFoundAt(missing...)
		}
		for range 2 {
			vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b", "c"}, load)
			if !slices.Equal(vals, []string{"a!", "", "c!"}) {
				t.Fatalf("values = %q; want a! and c!, b empty", vals)
			}
			wantNotFound(t, err, "b")
		}
		vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"d", "a", "b"}, load)
		if !slices.Equal(vals, []string{"", "a!", ""}) {
			t.Fatalf("values = %q", vals)
		}
		wantNotFound(t, err, "d", "b")
		if len(calls) != 2 || !slices.Equal(calls[1], []string{"d"}) {
			t.Fatalf("creator calls = %q; want [a b c] then [d]", calls)
		}
		if st := r.Stats(); st.NegativeHits != 2 {
			t.Fatalf("NegativeHits = %d; want 2 (b twice)", st.NegativeHits)
		}
		// ErrNotFound itself: none of the keys exists.
		_, err = dogpile.GetOrCreateMulti(ctx, r, []string{"x", "y"}, func(context.Context, []string) ([]string, error) { return nil, dogpile.ErrNotFound })
		wantNotFound(t, err, "x", "y")
		if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"x"}, func(context.Context, []string) ([]string, error) {
			t.Fatal("the creator ran for a cached not found")
			return nil, nil
		}); !errors.Is(err, dogpile.ErrNotFound) {
			t.Fatal(err)
		}
		// A position out of range is the creator's mistake.
		if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"z"}, func(context.Context, []string) ([]string, error) {
			return []string{""}, dogpile.NotFoundAt(1)
		}); err == nil || errors.Is(err, dogpile.ErrNotFound) {
			t.Fatalf("NotFoundAt(1) for one key = %v; want an error", err)
		}
	})
}

// Cached and CachedMulti cache "not found" too; CallMap leaves those
// arguments out.
func TestNegativeCachingCachedFunctions(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory_serialized")
	var calls atomic.Int32
	lookup := dogpile.Cached(r, func(_ context.Context, id int) (user, error) {
		calls.Add(1)
		if id == 0 {
			return user{}, dogpile.ErrNotFound
		}
		return user{ID: id}, nil
	}, dogpile.FuncName("users"))
	for range 3 {
		if _, err := lookup.Call(ctx, 0); !errors.Is(err, dogpile.ErrNotFound) {
			t.Fatalf("Call = %v; want not found", err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("the function ran %d times; want 1", calls.Load())
	}
	if _, err := lookup.Refresh(ctx, 0); !errors.Is(err, dogpile.ErrNotFound) {
		t.Fatalf("Refresh = %v; want not found", err)
	}

	batch := dogpile.CachedMulti(r, func(_ context.Context, ids []int) ([]user, error) {
		calls.Add(1)
		out := make([]user, len(ids))
		var missing []int
		for i, id := range ids {
			if id < 0 {
				missing = append(missing, i)
			}
			out[i] = user{ID: id}
		}
		return out, dogpile.NotFoundAt(missing...)
	}, dogpile.FuncName("batch"))
	calls.Store(0)
	for range 2 {
		m, err := batch.CallMap(ctx, []int{1, -1, 2})
		if err != nil || len(m) != 2 || m[1].ID != 1 || m[2].ID != 2 {
			t.Fatalf("CallMap = %v, %v; want 1 and 2, -1 left out", m, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("the batch function ran %d times; want 1", calls.Load())
	}
	_, err := batch.Call(ctx, []int{-1})
	wantNotFound(t, err, batch.Key(-1))
}

// The error names the keys not found, quoted, one or many.
func TestNotFoundErrorNamesItsKeys(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{[]string{"user:42"}, `dogpile: not found: key "user:42"`},
		{[]string{"a", "b c"}, `dogpile: not found: keys "a", "b c"`},
	} {
		if got := (&dogpile.NotFoundError{Keys: tc.keys}).Error(); got != tc.want {
			t.Errorf("NotFoundError{%q}.Error() = %q; want %q", tc.keys, got, tc.want)
		}
	}
}

// A *NotFoundError matches ErrNotFound and nothing else: a caller testing
// for another error (the data source's, a context's) is not misled.
func TestNotFoundErrorMatchesOnlyErrNotFound(t *testing.T) {
	_, err := dogpile.GetOrCreate(context.Background(), regionOn(t, "memory"), "k", func(context.Context) (string, error) {
		return "", dogpile.ErrNotFound
	})
	wantNotFound(t, err, "k")
	for _, other := range []error{errDatabaseDown, context.Canceled, dogpile.ErrBackend} {
		if errors.Is(err, other) {
			t.Errorf("errors.Is(%v, %v) = true; want a not-found to match only ErrNotFound", err, other)
		}
	}
}

// A negative expiration is for "not found" answers only: a value created
// by a call with NegativeExpiration, or in a region WithNegativeExpiration,
// expires as values do.
func TestNegativeExpirationLeavesValuesAlone(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, time.Hour, time.Hour, dogpile.WithNegativeExpiration(time.Second))
		found := func(context.Context) (string, error) { return "value", nil }
		if _, err := dogpile.GetOrCreate(ctx, r, "region", found); err != nil {
			t.Fatal(err)
		}
		if _, err := dogpile.GetOrCreate(ctx, r, "call", found, dogpile.NegativeExpiration(time.Second)); err != nil {
			t.Fatal(err)
		}
		clock.advance(2 * time.Second)
		for _, key := range []string{"region", "call"} {
			if v, ok := mustGet[string](t, r, key); !ok || v != "value" {
				t.Fatalf("Get(%q) 2s after its creation = %q, %v; want the value, which expires after the region's hour", key, v, ok)
			}
		}
	})
}

// ShouldCache is not asked about "not found" answers, which are cached
// whatever it says: in GetOrCreate and GetOrCreateMulti.
func TestShouldCacheNotAskedAboutNotFound(t *testing.T) {
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		ctx := context.Background()
		var asked callLog[string]
		none := dogpile.ShouldCache(func(v string) bool { asked.add(v); return false })
		if _, err := dogpile.GetOrCreate(ctx, r, "gone", func(context.Context) (string, error) {
			return "ignored", dogpile.ErrNotFound
		}, none); !errors.Is(err, dogpile.ErrNotFound) {
			t.Fatalf("GetOrCreate = %v; want not found", err)
		}
		vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"found", "missing"}, func(_ context.Context, keys []string) ([]string, error) {
			return []string{"value", "ignored"}, dogpile.NotFoundAt(1)
		}, none)
		wantNotFound(t, err, "missing")
		if vals[0] != "value" {
			t.Fatalf("GetOrCreateMulti = %q; want the found key's value", vals)
		}
		if got := asked.take(); !slices.Equal(got, []string{"value"}) {
			t.Fatalf("ShouldCache was asked about %q; want only the found value", got)
		}
		for _, key := range []string{"gone", "missing"} {
			if _, _, err := dogpile.Get[string](ctx, r, key); !errors.Is(err, dogpile.ErrNotFound) {
				t.Fatalf("Get(%q) = %v; want the cached not found", key, err)
			}
		}
		if _, ok := mustGet[string](t, r, "found"); ok {
			t.Fatal("the value ShouldCache rejected was stored")
		}
	})
}

// A cached "not found" gone stale (soft invalidated) is served as stale
// values are while another caller looks the key up again: as "not found",
// at once, to the callers that come meanwhile — not as a zero value with no
// error.
func TestStaleNotFoundServedAsNotFoundDuringItsRegeneration(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		r := regionOn(t, backend)
		missing := func(context.Context) (string, error) { return "", dogpile.ErrNotFound }
		_, err := dogpile.GetOrCreate(ctx, r, "k", missing)
		wantNotFound(t, err, "k")
		if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}

		started, release := make(chan struct{}), make(chan struct{})
		regenerating := func(context.Context) (string, error) { close(started); <-release; return "", dogpile.ErrNotFound }
		done := make(chan error, 1)
		go func() { _, err := dogpile.GetOrCreate(ctx, r, "k", regenerating); done <- err }()
		recv(t, started, "the regeneration to start")

		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
			t.Error("a second creator ran during the regeneration")
			return "created", nil
		})
		close(release)
		if v != "" {
			t.Errorf("value %q; want none", v)
		}
		wantNotFound(t, err, "k")
		wantNotFound(t, recv(t, done, "the regeneration"), "k")
	})
}
