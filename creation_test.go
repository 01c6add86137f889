package dogpile_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// testClock is a region clock that moves only when told: expiry decided
// without sleeping.
type testClock struct{ *testutil.Clock }

func newTestClock() *testClock {
	return &testClock{testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
}

func (c *testClock) now() int64              { return c.Now().UnixNano() }
func (c *testClock) advance(d time.Duration) { c.Advance(d) }

// option makes a region read its time from c: the one place that knows the
// WithClock hook's signature.
func (c *testClock) option() dogpile.RegionOption {
	return dogpile.WithClock(c.Now)
}

// regionsOnOneStore returns two regions — two processes — sharing one store
// of the value path backend, each with its own region expiration, on clock.
func regionsOnOneStore(t *testing.T, backend string, clock *testClock, expA, expB time.Duration, ropts ...dogpile.RegionOption) (a, b *dogpile.Region) {
	t.Helper()
	store, err := dogpile.NewBackend(backend, nil)
	if err != nil {
		t.Fatal(err)
	}
	ropts = append([]dogpile.RegionOption{clock.option(), dogpile.WithMetrics()}, ropts...)
	a = regionFor(t, store, ropts, dogpile.WithExpiration(expA))
	b = regionFor(t, store, ropts, dogpile.WithExpiration(expB))
	return a, b
}

// Issue 17, adaptive expiration: the creator sets its value's expiration;
// it is stored with the entry, so another region on the store (another
// process) applies it too, whatever its own expiration and the call's.
func TestSetExpirationIsTheEntrysOwn(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		a, b := regionsOnOneStore(t, backend, clock, time.Hour, 24*time.Hour)
		var calls atomic.Int32
		create := func(ctx context.Context) (string, error) {
			calls.Add(1)
			dogpile.SetExpiration(ctx, 10*time.Second)
			return "token", nil
		}
		if v, err := dogpile.GetOrCreate(ctx, a, "k", create); err != nil || v != "token" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
		clock.advance(9 * time.Second)
		if v, ok := mustGet[string](t, b, "k", dogpile.ExpirationTime(time.Second)); !ok || v != "token" {
			t.Fatalf("before the entry's expiration, another region's Get = %q, %v; want the value", v, ok)
		}
		_, md, _, err := dogpile.GetWithMetadata[string](ctx, b, "k")
		if err != nil || md.Expiration != 10*time.Second {
			t.Fatalf("Metadata.Expiration = %v, %v; want 10s", md.Expiration, err)
		}
		clock.advance(2 * time.Second)
		if _, ok := mustGet[string](t, b, "k", dogpile.ExpirationTime(time.Hour)); ok {
			t.Fatal("after the entry's expiration, another region's Get still reads it")
		}
		if _, ok := mustGet[string](t, b, "k", dogpile.IgnoreExpiration()); !ok {
			t.Fatal("IgnoreExpiration does not read past the entry's expiration")
		}
		if _, err := dogpile.GetOrCreate(ctx, a, "k", create); err != nil || calls.Load() != 2 {
			t.Fatalf("GetOrCreate after the entry's expiration: %v, %d creator calls; want 2", err, calls.Load())
		}
	})
}

// NoExpiration from the creator outlives the region's expiration; a
// negative expiration (a token already expired) stores the value expired.
func TestSetExpirationNeverAndExpired(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, time.Second, time.Second)
		never := func(ctx context.Context) (string, error) {
			dogpile.SetExpiration(ctx, dogpile.NoExpiration)
			return "forever", nil
		}
		if _, err := dogpile.GetOrCreate(ctx, r, "never", never); err != nil {
			t.Fatal(err)
		}
		clock.advance(1000 * time.Hour)
		if v, ok := mustGet[string](t, r, "never"); !ok || v != "forever" {
			t.Fatalf("Get = %q, %v; want the value that never expires", v, ok)
		}
		past := func(ctx context.Context) (string, error) {
			dogpile.SetExpiration(ctx, time.Until(time.Now().Add(-time.Minute)))
			return "old token", nil
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "past", past); err != nil || v != "old token" {
			t.Fatalf("GetOrCreate = %q, %v; want the creator's value", v, err)
		}
		if _, ok := mustGet[string](t, r, "past"); ok {
			t.Fatal("a value stored with a negative expiration is fresh")
		}
		if v, ok := mustGet[string](t, r, "past", dogpile.IgnoreExpiration()); !ok || v != "old token" {
			t.Fatalf("Get with IgnoreExpiration = %q, %v; want the value, stored expired", v, ok)
		}
	})
}

// DontCache: the value is returned and not stored.
func TestDontCache(t *testing.T) {
	onEachRegion(t, 0, func(t *testing.T, r *dogpile.Region) {
		ctx := context.Background()
		var calls atomic.Int32
		create := func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				dogpile.DontCache(ctx) // a partial answer
				return "partial", nil
			}
			return "full", nil
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "partial" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
		if _, ok := mustGet[string](t, r, "k"); ok {
			t.Fatal("a value the creator said not to cache was stored")
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "full" {
			t.Fatalf("second GetOrCreate = %q, %v; want the creator called again", v, err)
		}
		if v, ok := mustGet[string](t, r, "k"); !ok || v != "full" {
			t.Fatalf("Get = %q, %v; want the cached value", v, ok)
		}
	})
}

// In a multi-key creation, SetExpirationAt and DontCacheAt apply to one
// value each, SetExpiration to the others.
func TestSetExpirationAtAndDontCacheAtMulti(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r, _ := regionsOnOneStore(t, backend, clock, time.Hour, time.Hour)
		vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b", "c"}, func(ctx context.Context, keys []string) ([]string, error) {
			dogpile.SetExpiration(ctx, time.Minute)
			dogpile.SetExpirationAt(ctx, 1, 10*time.Second)
			dogpile.DontCacheAt(ctx, 2)
			return []string{"A", "B", "C"}, nil
		})
		if err != nil || !slices.Equal(vals, []string{"A", "B", "C"}) {
			t.Fatalf("GetOrCreateMulti = %q, %v", vals, err)
		}
		clock.advance(30 * time.Second)
		hits, err := dogpile.GetMulti[string](ctx, r, []string{"a", "b", "c"})
		if err != nil || len(hits) != 1 || hits["a"] != "A" {
			t.Fatalf("GetMulti after 30s = %v, %v; want only a (b expired after 10s, c not stored)", hits, err)
		}
		clock.advance(time.Minute)
		if hits, _ := dogpile.GetMulti[string](ctx, r, []string{"a"}); len(hits) != 0 {
			t.Fatalf("a read after its minute: %v", hits)
		}
	})
}

// A cached function's creator sets its values' expiration too, in Call
// and in Refresh.
func TestSetExpirationInCachedFunctions(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	r, _ := regionsOnOneStore(t, "memory_serialized", clock, time.Hour, time.Hour)
	var calls atomic.Int32
	maxAge := dogpile.Cached(r, func(ctx context.Context, url string) (string, error) {
		calls.Add(1)
		dogpile.SetExpiration(ctx, 5*time.Second) // the answer's Cache-Control: max-age=5
		return "body of " + url, nil
	}, dogpile.FuncName("fetch"))
	if _, err := maxAge.Call(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	clock.advance(6 * time.Second)
	if _, ok, _ := maxAge.Get(ctx, "/a"); ok {
		t.Fatal("Call's value outlived the expiration its creator set")
	}
	if _, err := maxAge.Refresh(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := maxAge.Get(ctx, "/a"); !ok {
		t.Fatal("Refresh stored nothing")
	}
	clock.advance(6 * time.Second)
	if _, ok, _ := maxAge.Get(ctx, "/a"); ok {
		t.Fatal("Refresh's value outlived the expiration its creator set")
	}

	multi := dogpile.CachedMulti(r, func(ctx context.Context, ids []int) ([]string, error) {
		dogpile.SetExpirationAt(ctx, 0, time.Second)
		return []string{"one", "two"}, nil
	}, dogpile.FuncName("multi"))
	if _, err := multi.Call(ctx, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Second)
	if got, err := multi.Get(ctx, []int{1, 2}); err != nil || len(got) != 1 || got[2] != "two" {
		t.Fatalf("CachedMulti Get = %v, %v; want 2 only (1 expired after a second)", got, err)
	}
}

// Outside a creation the calls do nothing, and do not panic.
func TestSetExpirationOutsideACreationDoesNothing(t *testing.T) {
	ctx := context.Background()
	dogpile.SetExpiration(ctx, time.Second)
	dogpile.SetExpirationAt(ctx, 3, time.Second)
	dogpile.DontCache(ctx)
	dogpile.DontCacheAt(ctx, 0)
}

// DontCache applies to every value of a creation, one the creator gave an
// expiration of its own with SetExpirationAt included.
func TestDontCacheOutranksSetExpirationAt(t *testing.T) {
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		ctx := context.Background()
		vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(ctx context.Context, keys []string) ([]string, error) {
			dogpile.SetExpirationAt(ctx, 0, time.Minute)
			dogpile.DontCache(ctx)
			return []string{"A", "B"}, nil
		})
		if err != nil || !slices.Equal(vals, []string{"A", "B"}) {
			t.Fatalf("GetOrCreateMulti = %q, %v", vals, err)
		}
		if hits, err := dogpile.GetMulti[string](ctx, r, []string{"a", "b"}); err != nil || len(hits) != 0 {
			t.Fatalf("GetMulti = %v, %v; want nothing stored", hits, err)
		}
	})
}

// Expiration compares the writer's clock, carried in the value, with the
// reader's (a documented limit; shared invalidation does not): a value from
// a writer ten minutes ahead stays fresh for the reader past its
// expiration, and one from a writer ten minutes behind is expired at once.
func TestExpirationTrustsTheWritersClock(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	readerClock := newTestClock()
	reader := regionFor(t, store, []dogpile.RegionOption{readerClock.option()}, dogpile.WithExpiration(time.Minute))
	var runs atomic.Int32
	create := func(context.Context) (string, error) { runs.Add(1); return "made", nil }
	for _, tc := range []struct {
		skew time.Duration
		read time.Duration // after the write, on the reader's clock
		runs int32
	}{
		{10 * time.Minute, 5 * time.Minute, 0}, // expired by the reader's clock, fresh by the writer's
		{-10 * time.Minute, 0, 1},              // fresh by neither: expired when written
	} {
		writerClock := newTestClock()
		writerClock.advance(readerClock.Now().Sub(writerClock.Now()) + tc.skew)
		writer := regionFor(t, store, []dogpile.RegionOption{writerClock.option()}, dogpile.WithExpiration(time.Minute))
		key := fmt.Sprint("k", tc.skew)
		mustSet(t, writer, key, "written")
		readerClock.advance(tc.read)
		runs.Store(0)
		if _, err := dogpile.GetOrCreate(ctx, reader, key, create); err != nil {
			t.Fatal(err)
		}
		if got := runs.Load(); got != tc.runs {
			t.Errorf("writer %v off, read %v later: the creator ran %d times; want %d", tc.skew, tc.read, got, tc.runs)
		}
	}
}
