package dogpile_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dogpile-go/dogpile"
)

type User struct {
	ID   int
	Name string
}

// loadUser stands for a slow database query.
func loadUser(_ context.Context, id int) (User, error) {
	return User{ID: id, Name: fmt.Sprintf("user-%d", id)}, nil
}

func ExampleGetOrCreate() {
	ctx := context.Background()
	region, err := dogpile.NewRegion(dogpile.WithName("users")).
		Configure("memory", dogpile.WithExpiration(10*time.Minute))
	if err != nil {
		panic(err)
	}

	calls := 0
	for range 3 {
		u, err := dogpile.GetOrCreate(ctx, region, "user:42", func(ctx context.Context) (User, error) {
			calls++
			return loadUser(ctx, 42)
		})
		if err != nil {
			panic(err)
		}
		fmt.Println(u.Name)
	}
	fmt.Println("database queries:", calls)
	// Output:
	// user-42
	// user-42
	// user-42
	// database queries: 1
}

// GetOrCreateArg gives the creator its argument, so that the loader itself
// is the creator: no closure, and a hit allocates nothing.
func ExampleGetOrCreateArg() {
	ctx := context.Background()
	region, err := dogpile.NewRegion(dogpile.WithName("users")).
		Configure("memory", dogpile.WithExpiration(10*time.Minute))
	if err != nil {
		panic(err)
	}

	for _, id := range []int{42, 7, 42} {
		u, err := dogpile.GetOrCreateArg(ctx, region, "user:"+strconv.Itoa(id), id, loadUser)
		if err != nil {
			panic(err)
		}
		fmt.Println(u.Name)
	}
	// Output:
	// user-42
	// user-7
	// user-42
}

func ExampleGetOrCreateMulti() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	_ = region.Set(ctx, "greeting:en", "hello")

	// The creator is called once, with only the keys that have no value.
	values, err := dogpile.GetOrCreateMulti(ctx, region, []string{"greeting:fr", "greeting:en", "greeting:de"},
		func(_ context.Context, keys []string) ([]string, error) {
			fmt.Println("creating", keys)
			words := map[string]string{"greeting:fr": "bonjour", "greeting:de": "hallo"}
			out := make([]string, len(keys))
			for i, k := range keys {
				out[i] = words[k]
			}
			return out, nil
		})
	if err != nil {
		panic(err)
	}
	fmt.Println(values)
	// Output:
	// creating [greeting:fr greeting:de]
	// [bonjour hello hallo]
}

func ExampleRegion_ConfigureFromMap() {
	// A configuration as a file or the environment gives it, with Python
	// dogpile.cache's key names; the dotted Python backend names are
	// accepted.
	config := map[string]any{
		"cache.local.backend":               "dogpile.cache.memory",
		"cache.local.expiration_time":       "90s",
		"cache.local.arguments.max_entries": 10000,
	}
	region, err := dogpile.NewRegion(dogpile.WithName("local")).ConfigureFromMap(config, "cache.local.")
	if err != nil {
		panic(err)
	}
	fmt.Println(region.IsConfigured(), region.Expiration())
	// Output: true 1m30s
}

// dictBackend is a complete backend: get, set and delete over a map. The
// region supplies everything else (expiry, locking, multi-key calls).
type dictBackend struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (d *dictBackend) Get(_ context.Context, key string) ([]byte, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.m[key]
	return v, ok, nil
}

func (d *dictBackend) Set(_ context.Context, key string, value []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[key] = value
	return nil
}

func (d *dictBackend) Delete(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, key)
	return nil
}

func ExampleRegisterBackend() {
	// A backend package does this in its init function.
	err := dogpile.RegisterBackend("example_dict", func(args dogpile.Args) (dogpile.Backend, error) {
		if err := args.Known(); err != nil { // no arguments: reject misspelt ones
			return nil, err
		}
		return &dictBackend{m: map[string][]byte{}}, nil
	})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	region, err := dogpile.NewRegion().Configure("example_dict", dogpile.WithExpiration(time.Minute))
	if err != nil {
		panic(err)
	}
	v, _ := dogpile.GetOrCreate(ctx, region, "answer", func(context.Context) (int, error) { return 42, nil })
	fmt.Println(v)

	_, err = dogpile.NewRegion().Configure("no_such_backend")
	fmt.Println(strings.SplitN(err.Error(), " (", 2)[0])
	// Output:
	// 42
	// dogpile: unknown backend "no_such_backend"
}

func ExampleRegion_Invalidate() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory") // no expiration time
	_ = region.Set(ctx, "report", "old")

	// Soft: older values are expired — still served to concurrent callers
	// while one regenerates, but regenerated on the next GetOrCreate.
	_ = region.Invalidate(ctx, dogpile.Soft)
	v, _ := dogpile.GetOrCreate(ctx, region, "report", func(context.Context) (string, error) { return "new", nil })
	fmt.Println(v)

	// Hard: older values are gone.
	_ = region.Invalidate(ctx, dogpile.Hard)
	_, ok, _ := dogpile.Get[string](ctx, region, "report")
	fmt.Println(ok)
	// Output:
	// new
	// false
}

// Two regions share one store under their own key prefixes: the same key
// in each is a value of its own, stored under prefix + key.
func ExampleWithKeyPrefix() {
	ctx := context.Background()
	store, _ := dogpile.NewBackend("memory_serialized", nil) // stands for one Redis database
	users, _ := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithKeyPrefix("users:")).ConfigureBackend(store)
	orders, _ := dogpile.NewRegion(dogpile.WithName("orders"), dogpile.WithKeyPrefix("orders:")).ConfigureBackend(store)

	_ = users.Set(ctx, "42", "Ada")
	_ = orders.Set(ctx, "42", "a book")

	user, _, _ := dogpile.Get[string](ctx, users, "42")
	order, _, _ := dogpile.Get[string](ctx, orders, "42")
	fmt.Println(user, "ordered", order)
	for _, key := range []string{"users:42", "orders:42", "42"} {
		_, found, _ := store.Get(ctx, key)
		fmt.Printf("%s stored: %v\n", key, found)
	}
	// Output:
	// Ada ordered a book
	// users:42 stored: true
	// orders:42 stored: true
	// 42 stored: false
}
