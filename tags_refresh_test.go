package dogpile_test

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/proxy"
)

// Under a refresh interval a tag's record is read again once the interval
// is over, at its very end: a read exactly one interval after the last
// one goes to the store, a read a nanosecond earlier does not. Both the
// tag another process has invalidated (its record known) and the tag
// never invalidated (no record) follow the same rule.
func TestTagsRefreshIntervalEndsExactlyOnTime(t *testing.T) {
	ctx := context.Background()
	const refresh = time.Second
	for name, invalidated := range map[string]bool{"record": true, "no_record": false} {
		t.Run(name, func(t *testing.T) {
			store, err := dogpile.NewBackend("memory_serialized", nil)
			if err != nil {
				t.Fatal(err)
			}
			trips := &roundTrips{Base: proxy.Base{Next: store}}
			clock := newTestClock()
			mk := func() *dogpile.Region {
				r, err := dogpile.NewRegion(dogpile.WithName("shared"), clock.option()).ConfigureBackend(trips,
					dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(refresh)))
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			a, b := mk(), mk()
			if invalidated {
				if err := a.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
					t.Fatal(err)
				}
				clock.advance(time.Millisecond) // the value is made after the invalidation
			}
			if _, err := dogpile.GetOrCreate(ctx, a, "k", create, dogpile.Tags("t")); err != nil {
				t.Fatal(err)
			}
			trips.reset()
			if _, ok := mustGet[string](t, b, "k"); !ok {
				t.Fatal("miss")
			}
			if n := trips.reads(tagKey("t")); n != 1 {
				t.Fatalf("b's first read read the tag's record %d times; want 1", n)
			}
			clock.advance(refresh - 1)
			mustGet[string](t, b, "k")
			if n := trips.reads(tagKey("t")); n != 1 {
				t.Fatalf("a read within the interval read the tag's record again (%d reads); want 1", n)
			}
			clock.advance(1)
			mustGet[string](t, b, "k")
			if n := trips.reads(tagKey("t")); n != 2 {
				t.Fatalf("a read exactly one interval later read the tag's record %d times in all; want 2", n)
			}
		})
	}
}
