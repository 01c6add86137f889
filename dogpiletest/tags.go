package dogpiletest

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// testRegionTags checks invalidation by tag through the backend, for two
// regions over it that share their invalidations (SharedInvalidation), as
// two processes would: the tags' records, stored under the library's
// reserved keys with ":" and escaped characters in them, reach the other
// region, and a tag's hard and soft invalidations apply there at its next
// call.
func testRegionTags(t *testing.T, b dogpile.Backend, key func(string) string) {
	ctx := ctxT(t)
	mk := func() *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithName(key("tags")), dogpile.WithKeyPrefix(key(""))).ConfigureBackend(b,
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, other := mk(), mk()
	var calls int
	create := func(context.Context) (string, error) {
		calls++
		return time.Now().String(), nil
	}
	const odd = "odd tag %# \t:" // escaped in its record's key
	for k, tags := range map[string]dogpile.Option{"hard": dogpile.Tags("user:42", "org:7"), "soft": dogpile.Tags(odd, "org:7")} {
		if _, err := dogpile.GetOrCreate(ctx, a, k, create, tags); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Set(ctx, "untagged", "v"); err != nil {
		t.Fatal(err)
	}
	if err := other.InvalidateTags(ctx, dogpile.Hard, "user:42"); err != nil {
		t.Fatalf("InvalidateTags: %v", err)
	}
	calls = 0
	if _, err := dogpile.GetOrCreate(ctx, a, "hard", create, dogpile.Tags("user:42")); err != nil || calls != 1 {
		t.Fatalf("after its tag's hard invalidation in another region, GetOrCreate ran the creator %d times (%v); want 1", calls, err)
	}
	if err := other.InvalidateTags(ctx, dogpile.Soft, odd); err != nil {
		t.Fatalf("InvalidateTags: %v", err)
	}
	if _, ok, err := dogpile.Get[string](ctx, a, "soft"); ok || err != nil {
		t.Fatalf("after its tag's soft invalidation in another region, Get = %v, %v; want a miss", ok, err)
	}
	if _, ok, err := dogpile.Get[string](ctx, a, "soft", dogpile.IgnoreExpiration()); !ok || err != nil {
		t.Fatalf("a soft-invalidated value read with IgnoreExpiration = %v, %v; want it", ok, err)
	}
	if _, ok, err := dogpile.Get[string](ctx, a, "untagged"); !ok || err != nil {
		t.Fatalf("an untagged value after tag invalidations = %v, %v; want it", ok, err)
	}
}
