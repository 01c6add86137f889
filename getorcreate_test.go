package dogpile_test

import (
	"context"
	"slices"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// An invalidation covers every value created up to its own instant: a
// value created at the very nanosecond of a hard invalidation is made
// again, by a memory hit as by every other read.
func TestInvalidationAtAValuesCreationTimeCoversIt(t *testing.T) {
	onEachRegion(t, 0, func(t *testing.T, r *dogpile.Region) {
		ctx := context.Background()
		mustSet(t, r, "k", "old")
		_, md, ok, err := dogpile.GetWithMetadata[string](ctx, r, "k")
		if err != nil || !ok {
			t.Fatalf("GetWithMetadata = %v, %v", ok, err)
		}
		dogpile.InvalidateHardAt(r, md.Created.UnixNano())
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "new", nil })
		if err != nil || v != "new" {
			t.Fatalf("GetOrCreate after an invalidation at the value's creation time = %q, %v; want the creator's value", v, err)
		}
	})
}

// A caller that must not be served a stale value (the call's NoStale, or
// the region's WithNoStale) and finds one while another caller regenerates
// it waits for that regeneration and gets its value, instead of the stale
// value the others are served, and without running its own creator: in
// GetOrCreate and in GetOrCreateMulti.
func TestNoStaleCallerWaitsForTheRegenerationInFlight(t *testing.T) {
	single := func(ctx context.Context, r *dogpile.Region, opts []dogpile.Option) <-chan result[string] {
		return goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "made twice", nil }, opts...)
	}
	multi := func(ctx context.Context, r *dogpile.Region, opts []dogpile.Option) <-chan result[string] {
		ch := make(chan result[string], 1)
		go func() {
			vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k"}, func(_ context.Context, keys []string) ([]string, error) {
				return slices.Repeat([]string{"made twice"}, len(keys)), nil
			}, opts...)
			var res result[string]
			if res.err = err; len(vs) == 1 {
				res.v = vs[0]
			}
			ch <- res
		}()
		return ch
	}
	for _, tc := range []struct {
		name  string
		ropts []dogpile.RegionOption
		opts  []dogpile.Option
		call  func(context.Context, *dogpile.Region, []dogpile.Option) <-chan result[string]
	}{
		{"GetOrCreate/NoStale", nil, []dogpile.Option{expiredNow, dogpile.NoStale()}, single},
		{"GetOrCreate/WithNoStale", []dogpile.RegionOption{dogpile.WithNoStale()}, []dogpile.Option{expiredNow}, single},
		{"GetOrCreateMulti/NoStale", nil, []dogpile.Option{expiredNow, dogpile.NoStale()}, multi},
		{"GetOrCreateMulti/WithNoStale", []dogpile.RegionOption{dogpile.WithNoStale()}, []dogpile.Option{expiredNow}, multi},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onEachPath(t, func(t *testing.T, backend string) {
				ctx := context.Background()
				r := regionWith(t, tc.ropts, backend)
				mustSet(t, r, "k", "old")
				started, release := make(chan struct{}), make(chan struct{})
				first := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
					close(started)
					<-release
					return "new", nil
				}, expiredNow)
				recv(t, started, "the regeneration to start")
				strict := tc.call(ctx, r, tc.opts)
				var early *result[string]
				testutil.Eventually(t, "the strict caller to wait for the regeneration", func() bool {
					select {
					case got := <-strict:
						early = &got
						return true
					default:
						return dogpile.FlightWaiters(r, "k") == 1
					}
				})
				if early != nil {
					t.Fatalf("the strict caller returned %q, %v during the regeneration; want it to wait for the new value", early.v, early.err)
				}
				close(release)
				if got := recv(t, first, "the regenerating caller"); got.err != nil || got.v != "new" {
					t.Fatalf("the regenerating caller got %q, %v", got.v, got.err)
				}
				if got := recv(t, strict, "the strict caller"); got.err != nil || got.v != "new" {
					t.Fatalf("the strict caller got %q, %v; want the regeneration's value", got.v, got.err)
				}
			})
		})
	}
}
