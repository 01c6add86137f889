package tags_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/integration/internal/roundtrips"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/tiered"
)

// tierRegion is a process's region on a local tier in front of Redis,
// coherent through the channel, and its Redis client's round trips.
func tierRegion(t *testing.T, addr, channel, name string) (*dogpile.Region, *roundtrips.Hook) {
	t.Helper()
	rb, err := redis.New(redis.Options{Client: &goredis.Options{Addr: addr}})
	if err != nil {
		t.Fatal(err)
	}
	hook := &roundtrips.Hook{}
	rb.Client().AddHook(hook)
	n, err := redis.NewNotifier(rb.Client(), channel, redis.NotifierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tier, err := tiered.New(rb, tiered.Options{Notifier: n, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r, err := dogpile.NewRegion(dogpile.WithName(name), dogpile.WithKeyPrefix(name+":")).ConfigureBackend(tier,
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, hook
}

// Through local tiers, tag records are keys like any other: a hit on a
// tagged value reads its tags' records from the tier (no round trip), and a
// tag's invalidation in one process evicts the other's copy of the record,
// so that its next calls after the message regenerate.
func TestTagsThroughTiers(t *testing.T) {
	ctx := context.Background()
	addr := testserver.SharedRedis(t).Addr()
	name := regionName(t)
	a, _ := tierRegion(t, addr, name, name)
	b, bTrips := tierRegion(t, addr, name, name)
	user := dogpile.Tags("user:42")
	var made int
	create := func(context.Context) (string, error) { made++; return "v", nil }
	if err := a.InvalidateTags(ctx, dogpile.Soft, "user:42"); err != nil { // a record to hold
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreate(ctx, a, "k", create, user); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "b to hold the value and its tag's record", func() bool {
		before := bTrips.Count()
		v, err := dogpile.GetOrCreate(ctx, b, "k", create, user)
		return err == nil && v == "v" && bTrips.Count() == before
	})
	if made != 1 {
		t.Fatalf("the creator ran %d times; want once, in a", made)
	}
	if err := a.InvalidateTags(ctx, dogpile.Hard, "user:42"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "b to see a's tag invalidation", func() bool {
		_, ok, err := dogpile.Get[string](ctx, b, "k", user)
		return err == nil && !ok
	})
	if _, err := dogpile.GetOrCreate(ctx, b, "k", create, user); err != nil || made != 2 {
		t.Fatalf("b's GetOrCreate after the invalidation: %v, creator runs %d; want 2", err, made)
	}
}
