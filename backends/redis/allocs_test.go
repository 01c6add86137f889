package redis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// A region's hit on Redis allocates at most two times more than go-redis's
// own GET of the same key: the copy of the key that the slow path keeps and
// the decoded string, decoded on the caller's stack rather than through the
// codec's interface.
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
	if hit > get+2 {
		t.Errorf("a region hit allocates %v times, go-redis's GET %v: want at most 2 more", hit, get)
	}
}
