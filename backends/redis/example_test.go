package redis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
)

// A region on Redis configured by Python dogpile.cache's argument names, as a
// configuration file would give them. (Examples that need a server are
// compiled but not run.)
func Example() {
	region, err := dogpile.NewRegion().Configure("redis",
		dogpile.WithExpiration(10*time.Minute),
		dogpile.WithArguments(dogpile.Args{
			"url":                   "redis://localhost:6379/0",
			"redis_expiration_time": 3600, // Redis drops values after an hour
			"distributed_lock":      true, // one creator per key across processes
			"lock_timeout":          30,
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()

	user, err := dogpile.GetOrCreate(context.Background(), region, "user:42", func(ctx context.Context) (string, error) {
		return "Ada", nil // the expensive load
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user)
}

// The typed constructor, with the distributed lock.
func ExampleNew() {
	b, err := redis.New(redis.Options{
		Client:          &goredis.Options{Addr: "localhost:6379", Password: "secret"},
		TTL:             time.Hour,
		DistributedLock: true,
		LockTimeout:     30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	region, err := dogpile.NewRegion().ConfigureBackend(b, dogpile.WithExpiration(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close() // closes the client New made
}

// A client the application already has: the backend uses it and leaves it
// open.
func ExampleNewFromClient() {
	client := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379"}})
	defer client.Close()

	b, err := redis.NewFromClient(client, redis.Options{TTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	region, err := dogpile.NewRegion().ConfigureBackend(b)
	if err != nil {
		log.Fatal(err)
	}
	_ = region
}

// Redis behind Sentinel: the region follows a failover.
func Example_sentinel() {
	region, err := dogpile.NewRegion().Configure("redis_sentinel", dogpile.WithArguments(dogpile.Args{
		"sentinels":    [][]any{{"10.0.0.1", 26379}, {"10.0.0.2", 26379}, {"10.0.0.3", 26379}},
		"service_name": "mymaster",
		"password":     "secret",
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()
}

// Redis Cluster: multi-key calls are grouped by hash slot, one round trip per
// node.
func Example_cluster() {
	region, err := dogpile.NewRegion().Configure("redis_cluster", dogpile.WithArguments(dogpile.Args{
		"startup_nodes":         []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		"redis_expiration_time": 3600,
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()

	names, err := dogpile.GetOrCreateMulti(context.Background(), region, []string{"user:1", "user:2", "user:3"},
		func(ctx context.Context, keys []string) ([]string, error) {
			out := make([]string, len(keys))
			for i, k := range keys {
				out[i] = "name of " + k
			}
			return out, nil
		})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(names)
}

// The distributed lock on its own, without a region.
func ExampleBackend_NewMutex() {
	b, err := redis.New(redis.Options{Client: &goredis.Options{Addr: "localhost:6379"}, LockTimeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := b.NewMutex("nightly-report")
	if err := m.Lock(ctx); err != nil {
		log.Fatal(err) // another process held it for more than 5s
	}
	defer m.Unlock(context.Background()) //nolint:errcheck // it expires anyway
	// … work that one process at a time may do: without a region nobody
	// renews the lock, so work longer than LockTimeout calls m.Renew(ctx)
	// every third of it, and stops when Renew's error matches
	// lock.ErrLockLost …
}

// The lock of a key lives in the key's Cluster slot: the tag in braces is
// the key's own hash tag, or the key itself.
func ExampleLockKey() {
	fmt.Printf("%q\n", redis.LockKey("user:42"))
	fmt.Printf("%q\n", redis.LockKey("user:{42}:name"))
	// Output:
	// "\xffdogpile:lock:{user:42}user:42"
	// "\xffdogpile:lock:{42}user:{42}:name"
}

// Slot tells which Cluster hash slot a key, and its lock, live on.
func ExampleSlot() {
	fmt.Println(redis.Slot("user:{42}:name") == redis.Slot("user:{42}:email"))
	fmt.Println(redis.Slot(redis.LockKey("user:{42}:name")) == redis.Slot("user:{42}:name"))
	// Output:
	// true
	// true
}
