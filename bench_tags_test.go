package dogpile_test

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/proxy"
)

// BenchmarkTaggedHit measures what tags add to a hit, in one run: the same
// GetOrCreate hit on an untagged value, on an untagged value with a call
// option (the cost of passing any option), and on a value carrying two tags
// whose call names them. The tagged calls pass their Tags option made once,
// as a call site that tags with constants would.
//
//   - memory: in-process tag invalidation, the hit path of most regions;
//   - memory_serialized: the value decoded at every hit;
//   - shared: SharedInvalidation(0) over a store that reads many keys at
//     once (memory_serialized behind proxy.Base), where the tags' records
//     are read, and compared with what the process holds, at every hit.
func BenchmarkTaggedHit(b *testing.B) {
	ctx := context.Background()
	tags := dogpile.Tags("user:42", "org:7")
	backends := map[string]func(b *testing.B) *dogpile.Region{
		"memory":            func(b *testing.B) *dogpile.Region { return benchRegionOn(b, "memory", nil) },
		"memory_serialized": func(b *testing.B) *dogpile.Region { return benchRegionOn(b, "memory_serialized", nil) },
		"shared": func(b *testing.B) *dogpile.Region {
			return benchRegionOn(b, "memory_serialized", func(next dogpile.Backend) dogpile.Backend { return proxy.Base{Next: next} },
				dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
		},
	}
	for _, backend := range []string{"memory", "memory_serialized", "shared"} {
		for _, tc := range []struct {
			name string
			opts []dogpile.Option
		}{
			{"plain", nil},
			{"plain+option", []dogpile.Option{dogpile.NoStale()}},
			{"tagged", []dogpile.Option{tags}},
		} {
			b.Run("backend="+backend+"/value="+tc.name, func(b *testing.B) {
				r := backends[backend](b)
				if _, err := dogpile.GetOrCreate(ctx, r, "key", create, tc.opts...); err != nil {
					b.Fatal(err)
				}
				if err := r.InvalidateTags(ctx, dogpile.Soft, "user:42", "org:7"); err != nil { // records to read
					b.Fatal(err)
				}
				if _, err := dogpile.GetOrCreate(ctx, r, "key", create, append(tc.opts, dogpile.NoStale())...); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := dogpile.GetOrCreate(ctx, r, "key", create, tc.opts...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	// A cached function: its tags, from a TagsFunc, are not computed on a
	// hit with in-process invalidation.
	for _, tc := range []struct {
		name string
		opts []dogpile.CachedOption
	}{
		{"plain", nil},
		{"tagged", []dogpile.CachedOption{dogpile.TagsFunc(func(id int) []string { return []string{"user:42"} })}},
	} {
		b.Run("backend=memory/cached="+tc.name, func(b *testing.B) {
			r := benchRegionOn(b, "memory", nil)
			f := dogpile.Cached(r, func(_ context.Context, id int) (string, error) { return "value", nil }, append(tc.opts, dogpile.FuncName("f"))...)
			if _, err := f.Call(ctx, 42); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Call(ctx, 42); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchRegionOn(b *testing.B, backend string, wrap dogpile.Proxy, opts ...dogpile.ConfigOption) *dogpile.Region {
	b.Helper()
	opts = append(opts, dogpile.WithExpiration(time.Hour))
	if wrap != nil {
		opts = append(opts, dogpile.WithWrap(wrap))
	}
	r, err := dogpile.NewRegion().Configure(backend, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return r
}
