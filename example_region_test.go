package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile"
)

// Get reads a value without creating it: on a miss, ok is false and err is
// nil. Use it where a missing value is not worth making now, as in a page
// that shows a cached count only when one is at hand.
func ExampleGet() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))

	_, ok, err := dogpile.Get[int](ctx, region, "visitors")
	fmt.Println(ok, err)

	_ = region.Set(ctx, "visitors", 1024)
	n, ok, _ := dogpile.Get[int](ctx, region, "visitors")
	fmt.Println(n, ok)
	// Output:
	// false <nil>
	// 1024 true
}

// After an update, Set stores the new value at once (write-through), so the
// next read is a hit on it rather than a query.
func ExampleRegion_Set() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	load := func(ctx context.Context) (User, error) {
		fmt.Println("querying user 42")
		return loadUser(ctx, 42)
	}
	u, _ := dogpile.GetOrCreate(ctx, region, "user:42", load)

	u.Name = "Ada" // saved to the database, then:
	if err := region.Set(ctx, "user:42", u); err != nil {
		panic(err)
	}
	u, _ = dogpile.GetOrCreate(ctx, region, "user:42", load)
	fmt.Println(u.Name)
	// Output:
	// querying user 42
	// Ada
}

// After a delete in the database, Delete drops the cached value: the next
// GetOrCreate asks the creator again.
func ExampleRegion_Delete() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	_ = region.Set(ctx, "user:42", User{ID: 42, Name: "Ada"})

	if err := region.Delete(ctx, "user:42"); err != nil {
		panic(err)
	}
	_, ok, _ := dogpile.Get[User](ctx, region, "user:42")
	fmt.Println("cached:", ok)
	// Output: cached: false
}

// Two regions over one store stand for two processes sharing a Redis: an
// Invalidate in one is seen by the other's next call. Each region gets a
// strategy of its own, and both the same name.
func ExampleSharedInvalidation() {
	ctx := context.Background()
	store, _ := dogpile.NewBackend("memory_serialized", nil) // stands for one Redis database
	open := func() *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithName("reports")).ConfigureBackend(store,
			dogpile.WithExpiration(time.Hour),
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
		if err != nil {
			panic(err)
		}
		return r
	}
	web, worker := open(), open()

	report := func(version string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return "report " + version, nil }
	}
	v, _ := dogpile.GetOrCreate(ctx, web, "daily", report("v1"))
	fmt.Println("web:", v)

	// The worker has new data, and invalidates the region everywhere.
	_ = worker.Invalidate(ctx, dogpile.Hard)
	v, _ = dogpile.GetOrCreate(ctx, web, "daily", report("v2"))
	fmt.Println("web:", v)
	// Output:
	// web: report v1
	// web: report v2
}

// WithMetrics counts a region's hits, misses, creations and errors; Stats
// reads the counts, for a status page or a metrics exporter.
func ExampleWithMetrics() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion(dogpile.WithMetrics()).Configure("memory", dogpile.WithExpiration(time.Hour))

	for range 3 {
		_, _ = dogpile.GetOrCreate(ctx, region, "user:42", func(ctx context.Context) (User, error) {
			return loadUser(ctx, 42)
		})
	}
	s := region.Stats()
	fmt.Printf("hits %d, misses %d, regenerations %d\n", s.Hits, s.Misses, s.Regenerations)
	// Output: hits 2, misses 1, regenerations 1
}

// When the creator fails to refresh an expired value — the upstream API is
// down — WithStaleIfError serves the last value instead of the error, for
// as long as it has been expired for no more than maxStale.
func ExampleWithStaleIfError() {
	ctx := context.Background()
	var now atomic.Int64 // a clock the example moves on
	now.Store(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	region, _ := dogpile.NewRegion(
		dogpile.WithStaleIfError(time.Hour),
		dogpile.WithClock(func() time.Time { return time.Unix(0, now.Load()) }),
	).Configure("memory", dogpile.WithExpiration(10*time.Minute))

	_ = region.Set(ctx, "rates", "1 EUR = 1.04 USD")
	now.Add(int64(15 * time.Minute)) // expired 5 minutes ago

	down := func(context.Context) (string, error) { return "", errors.New("rates API unavailable") }
	rates, err := dogpile.GetOrCreate(ctx, region, "rates", down)
	fmt.Println(rates, err)

	now.Add(int64(2 * time.Hour)) // too stale now
	_, err = dogpile.GetOrCreate(ctx, region, "rates", down)
	fmt.Println(err)
	// Output:
	// 1 EUR = 1.04 USD <nil>
	// rates API unavailable
}

// With WithFailOpen a cache that is down costs hit rate, not errors: the
// creator's value is served, uncached, and Get reports a miss. (Without it,
// as in Python's dogpile.cache, calls return the backend's error.)
func ExampleWithFailOpen() {
	ctx := context.Background()
	store, _ := dogpile.NewBackend("memory_serialized", nil)
	flaky := &downable{Backend: store} // a server that refuses connections
	flaky.down.Store(true)
	region, _ := dogpile.NewRegion(dogpile.WithFailOpen(time.Minute)).ConfigureBackend(flaky)
	defer region.Close()

	u, err := dogpile.GetOrCreate(ctx, region, "user:42", func(ctx context.Context) (User, error) {
		return loadUser(ctx, 42)
	})
	fmt.Println(u.Name, err)
	_, ok, err := dogpile.Get[User](ctx, region, "user:42")
	fmt.Println(ok, err)
	// Output:
	// user-42 <nil>
	// false <nil>
}

// A cache shared with other programs can be written by them. With
// WithSigning each entry carries an HMAC, and an entry written without the
// key reads as a miss and is replaced by the creator's value.
func ExampleWithSigning() {
	ctx := context.Background()
	store, _ := dogpile.NewBackend("memory_serialized", nil) // stands for a shared Redis

	// In production: 32 random bytes from your secret store.
	key := []byte("0123456789abcdef0123456789abcdef")
	region, err := dogpile.NewRegion(dogpile.WithSigning(key)).ConfigureBackend(store)
	if err != nil {
		panic(err)
	}

	// Someone with write access to the store, but no key, plants an entry.
	intruder, _ := dogpile.NewRegion().ConfigureBackend(store)
	_ = intruder.Set(ctx, "role:42", "admin")

	_, ok, _ := dogpile.Get[string](ctx, region, "role:42")
	fmt.Println("planted entry read:", ok)
	role, _ := dogpile.GetOrCreate(ctx, region, "role:42", func(context.Context) (string, error) {
		return "reader", nil // from the database
	})
	fmt.Println(role)
	// Output:
	// planted entry read: false
	// reader
}
