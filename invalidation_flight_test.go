package dogpile_test

import (
	"context"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// I1: a call made after a hard invalidation returned never gets a value whose
// creation began before it — not even by joining, in its own process, a
// creation that was in progress when the invalidation was made.
func TestI1CallAfterHardInvalidationDoesNotTakeAnEarlierCreation(t *testing.T) {
	for name, copts := range map[string][]dogpile.ConfigOption{
		"in-process":          nil,
		"SharedInvalidation":  {dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0))},
		"SharedInvalidation1": {dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(1))},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := regionWith(t, []dogpile.RegionOption{dogpile.WithName("flight")}, "memory_serialized", copts...)
			before, release := make(chan struct{}), make(chan struct{})
			first := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				close(before)
				<-release // still creating when the invalidation is made
				return "made before the invalidation", nil
			})
			<-before
			if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			second := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				return "made after", nil
			})
			testutil.Eventually(t, "the second call to wait for the first's creation", func() bool { return dogpile.FlightWaiters(r, "k") == 1 })
			close(release)
			if got := recv(t, first, "the first call"); got.v != "made before the invalidation" || got.err != nil {
				t.Fatalf("the first call got %q, %v", got.v, got.err)
			}
			if got := recv(t, second, "the second call"); got.v != "made after" || got.err != nil {
				t.Fatalf("a call made after the hard invalidation got %q, %v; want a value created after it", got.v, got.err)
			}
			if v, ok := mustGet[string](t, r, "k"); !ok || v != "made after" {
				t.Fatalf("the store holds %q (%v); want the value created after the invalidation", v, ok)
			}
		})
	}
}
