package lock_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dogpile-go/dogpile/lock"
)

// The lock on its own: a value in a map, one creator however many callers.
func ExampleLock() {
	var (
		group lock.Group // shared by every lock of this cache
		mu    sync.Mutex
		cache = map[string]string{}
		calls atomic.Int32
	)
	get := func(ctx context.Context, key string) (string, error) {
		l := lock.Lock[string]{
			Group: &group,
			Key:   key,
			Load: func(context.Context) (string, lock.State, error) {
				mu.Lock()
				defer mu.Unlock()
				if v, ok := cache[key]; ok {
					return v, lock.Fresh, nil
				}
				return "", lock.Missing, nil
			},
			Create: func(context.Context) (string, error) {
				calls.Add(1)
				mu.Lock()
				defer mu.Unlock()
				cache[key] = "value of " + key
				return cache[key], nil
			},
		}
		return l.Get(ctx)
	}

	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() { defer wg.Done(); get(context.Background(), "k") }() //nolint:errcheck
	}
	wg.Wait()
	v, _ := get(context.Background(), "k")
	fmt.Println(v, "— created", calls.Load(), "time")
	// Output: value of k — created 1 time
}

// Many keys at once: one creator call for the keys without a value.
func ExampleBatch() {
	var (
		group lock.Group
		mu    sync.Mutex
		cache = map[string]string{"a": "cached a"}
	)
	b := lock.Batch[string]{
		Group: &group,
		Keys:  []string{"a", "b", "c"},
		Load: func(_ context.Context, keys []string) ([]string, []lock.State, error) {
			mu.Lock()
			defer mu.Unlock()
			vals, states := make([]string, len(keys)), make([]lock.State, len(keys))
			for i, k := range keys {
				if v, ok := cache[k]; ok {
					vals[i], states[i] = v, lock.Fresh
				}
			}
			return vals, states, nil
		},
		Create: func(_ context.Context, keys []string) ([]string, error) {
			fmt.Println("creating", keys)
			mu.Lock()
			defer mu.Unlock()
			vals := make([]string, len(keys))
			for i, k := range keys {
				vals[i] = "made " + k
				cache[k] = vals[i]
			}
			return vals, nil
		},
	}
	vals, err := b.Get(context.Background())
	fmt.Println(vals, err)
	// Output:
	// creating [b c]
	// [cached a made b made c] <nil>
}
