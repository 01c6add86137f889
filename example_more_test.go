package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile"
)

// SetMulti and GetMulti write and read many keys in one round trip where the
// backend can (Redis MSET/MGET, Memcached's multi-get). Keys without a value
// are absent from the map.
func ExampleGetMulti() {
	ctx := context.Background()
	region, err := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	if err != nil {
		panic(err)
	}
	if err := region.SetMulti(ctx, map[string]any{"price:apple": 3, "price:pear": 5}); err != nil {
		panic(err)
	}

	prices, err := dogpile.GetMulti[int](ctx, region, []string{"price:apple", "price:plum", "price:pear"})
	if err != nil {
		panic(err)
	}
	fmt.Println(prices)
	// Output:
	// map[price:apple:3 price:pear:5]
}

// A creator that falls back to a default when its source fails returns the
// default to its caller, but DontCache keeps it out of the cache, so that
// the next call asks the source again.
func ExampleDontCache() {
	ctx := context.Background()
	region, err := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	if err != nil {
		panic(err)
	}
	errUnavailable := errors.New("recommendations service unavailable")
	sourceUp := false
	recommend := func(ctx context.Context) ([]string, error) {
		if !sourceUp {
			fmt.Println("source:", errUnavailable)
			dogpile.DontCache(ctx)
			return []string{"bestsellers"}, nil
		}
		fmt.Println("source: answered")
		return []string{"for you"}, nil
	}

	for _, up := range []bool{false, true, true} {
		sourceUp = up
		v, err := dogpile.GetOrCreate(ctx, region, "recommendations:7", recommend)
		if err != nil {
			panic(err)
		}
		fmt.Println(v)
	}
	// Output:
	// source: recommendations service unavailable
	// [bestsellers]
	// source: answered
	// [for you]
	// [for you]
}

// missCounter is an Observer that counts misses: a region calls Observe on
// every hit too, so it does no more than an atomic add.
type missCounter struct{ misses atomic.Int64 }

func (c *missCounter) Observe(e dogpile.Event, _ time.Duration) {
	if e == dogpile.EventMiss {
		c.misses.Add(1)
	}
}

// An Observer is the hook for metrics of one's own; WithMetrics gives
// built-in counters, and the metrics/prometheus and metrics/otel modules
// export them.
func ExampleWithObserver() {
	ctx := context.Background()
	counter := &missCounter{}
	region, err := dogpile.NewRegion(dogpile.WithObserver(counter)).Configure("memory")
	if err != nil {
		panic(err)
	}
	for _, id := range []int{1, 2, 1, 1} {
		if _, err := dogpile.GetOrCreateArg(ctx, region, fmt.Sprint("user:", id), id, loadUser); err != nil {
			panic(err)
		}
	}
	fmt.Println("misses:", counter.misses.Load())
	// Output:
	// misses: 2
}

// SHA1Mangler stores every key as its SHA-1, so that keys of any length or
// character fit a store with limits on keys; StorageKey shows the key the
// backend sees, for tools that read the store beneath the region.
func ExampleWithKeyMangler() {
	region, err := dogpile.NewRegion(
		dogpile.WithKeyPrefix("app:"),
		dogpile.WithKeyMangler(dogpile.SHA1Mangler),
	).Configure("memory")
	if err != nil {
		panic(err)
	}
	key, err := region.StorageKey("report: all customers, 2026")
	if err != nil {
		panic(err)
	}
	fmt.Println(key)
	// Output:
	// app:acf7494345c22c7fe033d78314f7fc3c4cb51ed2
}
