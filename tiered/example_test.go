package tiered_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/tiered"
)

// Two tiers over one remote backend, as two processes have: a write through
// one drops the other's local copy, and its next read sees the new value.
// Across processes the remote is Redis and the Notifier redis.NewNotifier
// (see the package documentation); here both are in memory.
func Example() {
	ctx := context.Background()
	remote, err := dogpile.NewBackend("memory_serialized", nil) // stands in for Redis
	if err != nil {
		log.Fatal(err)
	}
	var bus tiered.LocalNotifier // stands in for redis.NewNotifier
	process := func() *dogpile.Region {
		tier, err := tiered.New(remote, tiered.Options{Notifier: &bus, TTL: 10 * time.Second})
		if err != nil {
			log.Fatal(err)
		}
		r, err := dogpile.NewRegion(dogpile.WithName("users")).ConfigureBackend(tier, dogpile.WithExpiration(time.Hour))
		if err != nil {
			log.Fatal(err)
		}
		return r
	}
	a, b := process(), process()
	defer a.Close()
	defer b.Close()

	name, err := dogpile.GetOrCreate(ctx, a, "user:42:name", func(context.Context) (string, error) {
		return "Ada", nil // the expensive lookup
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("a made:", name)
	name, _, _ = dogpile.Get[string](ctx, b, "user:42:name") // from the remote, then kept locally
	fmt.Println("b reads:", name)

	if err := a.Set(ctx, "user:42:name", "Ada Lovelace"); err != nil {
		log.Fatal(err)
	}
	name, _, _ = dogpile.Get[string](ctx, b, "user:42:name") // its copy was dropped
	fmt.Println("b reads:", name)
	// Output:
	// a made: Ada
	// b reads: Ada
	// b reads: Ada Lovelace
}
