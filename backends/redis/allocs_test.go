package redis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// A region's hit on Redis allocates once more than go-redis's own GET of the
// same key: the copy of the key that the slow path keeps. The decoded string
// points into go-redis's reply (the backend's values are immutable), decoded
// on the caller's stack rather than through the codec's interface. A
// GetOrCreateMulti of present keys allocates no more than a plain MGET and a
// few for the call (it hands go-redis its keys without boxing them).
func TestHitAllocationsOverTheClient(t *testing.T) {
	srv := testserver.StartRedis(t)
	r := regionOn(t, "redis", dogpile.Args{"url": "redis://" + srv.Addr()})
	raw := rawClient(t, srv.Addr())
	ctx := context.Background()
	key := []string{"allocs-hit"}[0] // not a constant, as in BenchmarkHit
	if err := r.Set(ctx, key, strings.Repeat("x", 100)); err != nil {
		t.Fatal(err)
	}
	hit := testutil.SteadyAllocs(50, func() {
		if _, err := dogpile.GetOrCreate(ctx, r, key, noCreate); err != nil {
			t.Fatal(err)
		}
	})
	get := testutil.SteadyAllocs(50, func() {
		if _, err := raw.Get(ctx, key).Result(); err != nil {
			t.Fatal(err)
		}
	})
	if hit > get+1 {
		t.Errorf("a region hit allocates %v times, go-redis's GET %v: want at most 1 more", hit, get)
	}

	r, raw, keys := hundredHits(t)
	multi := testutil.SteadyAllocs(20, func() {
		if _, err := dogpile.GetOrCreateMulti(ctx, r, keys, noCreateMulti); err != nil {
			t.Fatal(err)
		}
	})
	mget := testutil.SteadyAllocs(20, func() {
		if _, err := raw.MGet(ctx, keys...).Result(); err != nil {
			t.Fatal(err)
		}
	})
	if limit := mget + 8; multi > limit {
		t.Errorf("GetOrCreateMulti of %d present keys allocates %v times, a plain MGET %v: want at most %v", len(keys), multi, mget, limit)
	}
}
