package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
)

// The memory backends list their keys and report their entries through the
// capabilities the dogpile command uses, bounded or not.
func TestMemoryBackendInspection(t *testing.T) {
	ctx := context.Background()
	for _, name := range valuePaths {
		for _, max := range []int{0, 100} {
			t.Run(fmt.Sprintf("%s max_entries=%d", name, max), func(t *testing.T) {
				r, err := dogpile.NewRegion().Configure(name, dogpile.WithArguments(dogpile.Args{"max_entries": max}))
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				for _, k := range []string{"user:1", "user:2", "user:3", "page:1"} {
					if err := r.Set(ctx, k, "v"); err != nil {
						t.Fatal(err)
					}
				}
				l, ok := r.Backend().(backend.Lister)
				if !ok {
					t.Fatalf("%T is not a backend.Lister", r.Backend())
				}
				var keys []string
				for k, err := range l.ListKeys(ctx, backend.ListOptions{Prefix: "user:"}) {
					if err != nil {
						t.Fatal(err)
					}
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if !slices.Equal(keys, []string{"user:1", "user:2", "user:3"}) {
					t.Errorf("keys with prefix user: = %v", keys)
				}
				n := 0
				for range l.ListKeys(ctx, backend.ListOptions{Limit: 2}) {
					n++
				}
				if n != 2 {
					t.Errorf("limit 2: %d keys", n)
				}

				st, err := r.Backend().(backend.StatsReporter).StoreStats(ctx)
				if err != nil || len(st) != 1 {
					t.Fatal(st, err)
				}
				if st[0].Entries != 4 {
					t.Errorf("entries %d, want 4", st[0].Entries)
				}
				if serialized := name == "memory_serialized"; serialized != (st[0].Bytes > 0) || !serialized && st[0].Bytes != backend.Unknown {
					t.Errorf("bytes %d", st[0].Bytes)
				}
				if max > 0 && (len(st[0].Extra) != 1 || st[0].Extra[0] != (backend.Stat{Name: "max_entries", Value: int64(max)})) {
					t.Errorf("extra %v", st[0].Extra)
				}
			})
		}
	}
}

// A serialized memory backend reports as its stored bytes the length of each
// key plus the length of its stored value, summed over its entries.
func TestSerializedMemoryStatsCountKeysAndValues(t *testing.T) {
	ctx := context.Background()
	b, err := dogpile.NewSerializedMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.(io.Closer).Close()
	for k, v := range map[string]string{"ab": "xyz", "c": "de"} {
		if err := b.Set(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.(backend.StatsReporter).StoreStats(ctx)
	if err != nil || len(st) != 1 {
		t.Fatal(st, err)
	}
	if st[0].Entries != 2 || st[0].Bytes != 2+3+1+2 {
		t.Errorf("entries %d, bytes %d; want 2 entries of 8 bytes", st[0].Entries, st[0].Bytes)
	}
}

// Listing a memory backend's keys with a cancelled context yields the
// context's error and stops, and its statistics come back with that error.
func TestMemoryInspectionHonoursCancellation(t *testing.T) {
	for _, name := range valuePaths {
		t.Run(name, func(t *testing.T) {
			r := regionOn(t, name)
			if err := r.Set(context.Background(), "k", "v"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var errs []error
			n := 0
			for k, err := range r.Backend().(backend.Lister).ListKeys(ctx, backend.ListOptions{}) {
				if err != nil {
					errs = append(errs, err)
				} else {
					t.Errorf("key %q listed under a cancelled context", k)
				}
				n++
			}
			if n != 1 || len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
				t.Errorf("listing under a cancelled context: %d results, errors %v; want one context.Canceled", n, errs)
			}
			if _, err := r.Backend().(backend.StatsReporter).StoreStats(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("StoreStats under a cancelled context: err = %v; want context.Canceled", err)
			}
		})
	}
}
