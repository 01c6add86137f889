package memcached_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/memcached"
)

type User struct {
	ID   int
	Name string
}

func loadUser(ctx context.Context, id int) (User, error) { return User{ID: id, Name: "Ada"}, nil }

// A pylibmc configuration of Python dogpile.cache, carried over: three
// servers with consistent hashing and the cross-process dogpile lock. Keys
// that Memcached would refuse are stored as their SHA-1 (the backend's
// KeyMangler), so any key works.
func Example() {
	region, err := dogpile.NewRegion().Configure("dogpile.cache.pylibmc",
		dogpile.WithExpiration(time.Hour),
		dogpile.WithArguments(dogpile.Args{
			"url":                   "10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211",
			"behaviors":             map[string]any{"tcp_nodelay": true, "ketama": true},
			"distributed_lock":      true,
			"lock_timeout":          30,
			"memcached_expire_time": 2 * 3600, // longer than the region's hour: stale values stay servable
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()

	ctx := context.Background()
	user, err := dogpile.GetOrCreate(ctx, region, "user:42", func(ctx context.Context) (User, error) {
		return loadUser(ctx, 42) // runs once per hour, in one process of all
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.Name)
}

// The typed constructor.
func ExampleNew() {
	backend, err := memcached.New(memcached.Options{
		Servers:         []string{"10.0.0.1:11211", "10.0.0.2:11211"},
		Timeout:         500 * time.Millisecond,
		DeadRetry:       5 * time.Second,
		TTL:             24 * time.Hour,
		DistributedLock: true,
		LockTimeout:     time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	region, err := dogpile.NewRegion().ConfigureBackend(backend, dogpile.WithExpiration(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	_ = region
}

// A client configured elsewhere; its servers, timeouts and dialer apply.
func ExampleNewFromClient() {
	client := memcache.New("10.0.0.1:11211")
	client.Timeout = 200 * time.Millisecond
	backend, err := memcached.NewFromClient(client, memcached.Options{TTL: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	_ = backend
}

// A ServerSelector on its own: libmemcached's ketama ring for a plain
// gomemcache client, placing keys as pylibmc with {"ketama": True} does.
func ExampleNewServerSelector() {
	sel, err := memcached.NewServerSelector(memcached.Ketama, "10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sel.Server("user:42"))
	client := memcache.NewFromSelector(sel)
	_ = client
	// Output: 10.0.0.2:11211
}
