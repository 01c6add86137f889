package file_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
)

// A region on a cache file configured by Python's argument names, as a
// configuration file gives them. Every process that opens the same file
// shares its values, and one creator runs per key across all of them.
func Example() {
	dir, err := os.MkdirTemp("", "dogpile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	region, err := dogpile.NewRegion().Configure("file",
		dogpile.WithExpiration(time.Hour),
		dogpile.WithArguments(dogpile.Args{
			"filename": filepath.Join(dir, "cache.db"),
			"max_size": "64MiB",
			"max_age":  "24h",
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()

	ctx := context.Background()
	for range 2 {
		v, err := dogpile.GetOrCreate(ctx, region, "answer", func(context.Context) (int, error) {
			fmt.Println("computing")
			return 42, nil
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v)
	}
	// Output:
	// computing
	// 42
	// 42
}

// The typed constructor, and the backend used directly as a byte store.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "dogpile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	b, err := file.New(file.Options{
		Filename:        filepath.Join(dir, "cache.db"),
		DistributedLock: true,
		MaxSize:         64 << 20,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	ctx := context.Background()
	if err := b.Set(ctx, "greeting", []byte("hello")); err != nil {
		log.Fatal(err)
	}
	v, ok, err := b.Get(ctx, "greeting")
	fmt.Println(string(v), ok, err)
	// Output: hello true <nil>
}

// The per-user cache file that needs no configuration.
func ExampleDefaultPath() {
	path, err := file.DefaultPath()
	if err != nil {
		log.Fatal(err)
	}
	b, err := file.New(file.Options{Filename: path, MaxSize: 256 << 20, DistributedLock: true})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	region, err := dogpile.NewRegion().ConfigureBackend(b)
	if err != nil {
		log.Fatal(err)
	}
	_ = region
}

// CompareAndSwap changes a value only if it is still the one read, across
// every process using the file: here a counter that no concurrent increment
// can lose.
func ExampleBackend_CompareAndSwap() {
	dir, err := os.MkdirTemp("", "dogpile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	b, err := file.New(file.Options{Filename: filepath.Join(dir, "cache.db"), DistributedLock: true})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	ctx := context.Background()
	increment := func() {
		for {
			old, found, err := b.Get(ctx, "visits")
			if err != nil {
				log.Fatal(err)
			}
			n := 0
			if found {
				n, _ = strconv.Atoi(string(old))
			} else {
				old = nil // nil: swap only if the key holds nothing
			}
			swapped, err := b.CompareAndSwap(ctx, "visits", old, []byte(strconv.Itoa(n+1)))
			if err != nil {
				log.Fatal(err)
			}
			if swapped {
				return
			}
		}
	}
	increment()
	increment()
	v, _, _ := b.Get(ctx, "visits")
	fmt.Println(string(v))
	// Output: 2
}
