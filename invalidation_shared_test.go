package dogpile_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/proxy"
)

// roundTrips counts the calls that reach a backend.
type roundTrips struct {
	proxy.Base
	n        atomic.Int32
	invReads atomic.Int32 // reads that asked for the invalidation times
}

const invKey = "dogpile:invalidated:shared"

func (c *roundTrips) Get(ctx context.Context, k string) ([]byte, bool, error) {
	c.n.Add(1)
	if k == invKey {
		c.invReads.Add(1)
	}
	return c.Base.Get(ctx, k)
}

func (c *roundTrips) GetMulti(ctx context.Context, ks []string) ([][]byte, error) {
	c.n.Add(1)
	for _, k := range ks {
		if k == invKey {
			c.invReads.Add(1)
		}
	}
	return c.Base.GetMulti(ctx, ks)
}

// twoProcesses returns two regions with the same name over one store, each
// with its own SharedInvalidation: two processes sharing a cache server.
func twoProcesses(t *testing.T, refresh time.Duration) (a, b *dogpile.Region, trips *roundTrips) {
	t.Helper()
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	trips = &roundTrips{Base: proxy.Base{Next: store}}
	mk := func() *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithName("shared")).ConfigureBackend(trips,
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(refresh)))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return mk(), mk(), trips
}

func TestI6SharedInvalidationReachesOtherProcessOnNextCall(t *testing.T) {
	ctx := context.Background()
	a, b, trips := twoProcesses(t, 0)
	if err := a.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := dogpile.Get[string](ctx, b, "k"); !ok || v != "v1" {
		t.Fatalf("b reads %q, %v before any invalidation", v, ok)
	}
	// One round trip per read: the invalidation times come with the value.
	before := trips.n.Load()
	dogpile.Get[string](ctx, b, "k") //nolint:errcheck
	if n := trips.n.Load() - before; n != 1 || trips.invReads.Load() == 0 {
		t.Fatalf("a read with shared invalidation took %d round trips, want 1 that also reads the times", n)
	}

	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	calls := 0
	v, err := dogpile.GetOrCreate(ctx, b, "k", func(context.Context) (string, error) { calls++; return "v2", nil })
	if err != nil || v != "v2" || calls != 1 {
		t.Fatalf("after a hard invalidation in a, b's next GetOrCreate = %q, %v with %d creator calls; want a regeneration", v, err, calls)
	}
	// Values created after it are served normally, in both processes.
	if v, ok, _ := dogpile.Get[string](ctx, a, "k"); !ok || v != "v2" {
		t.Fatalf("a reads %q, %v after b regenerated", v, ok)
	}

	// Soft: b serves the old value stale to others while one regenerates.
	if err := b.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := dogpile.Get[string](ctx, a, "k"); ok {
		t.Fatal("a still reads the value as fresh after a soft invalidation in b")
	}
	if v, ok, _ := dogpile.Get[string](ctx, a, "k", dogpile.IgnoreExpiration()); !ok || v != "v2" {
		t.Fatalf("a soft-invalidated value is gone: %q, %v", v, ok)
	}
}

func TestI6SharedInvalidationWithRefreshInterval(t *testing.T) {
	ctx := context.Background()
	a, b, trips := twoProcesses(t, 20*time.Millisecond)
	a.Set(ctx, "k", "v1")            //nolint:errcheck
	dogpile.Get[string](ctx, b, "k") //nolint:errcheck
	// Between refreshes, reads don't ask for the invalidation times.
	before := trips.invReads.Load()
	start := time.Now()
	for range 10 {
		dogpile.Get[string](ctx, b, "k") //nolint:errcheck
	}
	if n := trips.invReads.Load() - before; n > 1+int32(time.Since(start)/(20*time.Millisecond)) {
		t.Fatalf("10 reads read the invalidation times %d times; want at most once per interval", n)
	}
	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	// a sees its own invalidation at once; b within the refresh interval.
	if _, ok, _ := dogpile.Get[string](ctx, a, "k"); ok {
		t.Fatal("the invalidating process still reads the value")
	}
	waitUntil(t, "b to see a's invalidation", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, b, "k")
		return !ok
	})
}
