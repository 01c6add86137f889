package tiered_test

import (
	"context"
	"fmt"
	"log"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/tiered"
)

// A region whose hits are served from process memory, kept coherent with
// every other process by Redis pub/sub. (Needs a Redis server; not run.)
func Example() {
	rb, err := redis.New(redis.Options{
		Client:          &goredis.Options{Addr: "localhost:6379"},
		TTL:             2 * time.Hour, // Redis's TTL: longer than the region's expiration
		DistributedLock: true,          // one creator per key across processes
	})
	if err != nil {
		log.Fatal(err)
	}
	// One channel per set of regions that share keys; every process uses the
	// same.
	n, err := redis.NewNotifier(rb.Client(), "dogpile:tier:users", redis.NotifierOptions{})
	if err != nil {
		log.Fatal(err)
	}
	tier, err := tiered.New(rb, tiered.Options{
		Notifier:   n,
		MaxEntries: 50_000,
		TTL:        10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	region, err := dogpile.NewRegion(dogpile.WithName("users")).ConfigureBackend(tier,
		dogpile.WithExpiration(time.Hour),
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close() // closes the tier, then the Redis backend

	ctx := context.Background()
	name, err := dogpile.GetOrCreate(ctx, region, "user:42:name", func(context.Context) (string, error) {
		return "Ada", nil // the expensive lookup
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(name)

	// Every process drops its local copy within milliseconds.
	if err := region.Delete(ctx, "user:42:name"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", tier.Stats())
}
