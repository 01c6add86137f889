package memcached

import (
	"strconv"
	"sync"
	"testing"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// testSwapper checks a backend.Swapper: CompareAndSwap stores only over
// what the caller read (or over nothing, for nil), and concurrent
// read-modify-write loops lose no update.
func testSwapper(t *testing.T, s backend.Swapper) {
	ctx := testutil.Context(t)
	key := testutil.Unique("cas")
	swap := func(old, value []byte, want bool) {
		t.Helper()
		if got, err := s.CompareAndSwap(ctx, key, old, value); err != nil || got != want {
			t.Fatalf("CompareAndSwap(%q → %q) = %v, %v; want %v", old, value, got, err, want)
		}
	}
	holds := func(want string) {
		t.Helper()
		if v, ok, err := s.Get(ctx, key); err != nil || !ok || string(v) != want {
			t.Fatalf("Get = %q, %v, %v; want %q", v, ok, err, want)
		}
	}
	swap([]byte("a"), []byte("b"), false) // absent, but old given
	if _, ok, _ := s.Get(ctx, key); ok {
		t.Fatal("a failed swap stored a value")
	}
	swap(nil, []byte("a"), true) // absent, and nil: stored
	holds("a")
	swap(nil, []byte("b"), false) // present: nil does not match
	swap([]byte("x"), []byte("b"), false)
	holds("a")
	swap([]byte("a"), []byte("b"), true)
	holds("b")
	swap([]byte("b"), []byte{}, true) // an empty value is a value
	swap([]byte{}, []byte("c"), true)
	holds("c")
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	swap([]byte("c"), []byte("d"), false)

	// 8 × 25 increments by read-modify-write: none lost.
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					v, ok, err := s.Get(ctx, key)
					if err != nil {
						t.Error(err)
						return
					}
					var old []byte
					n := 0
					if ok {
						old = v
						n, _ = strconv.Atoi(string(v))
					}
					swapped, err := s.CompareAndSwap(ctx, key, old, []byte(strconv.Itoa(n+1)))
					if err != nil {
						t.Error(err)
						return
					}
					if swapped {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	holds(strconv.Itoa(workers * each))
}
