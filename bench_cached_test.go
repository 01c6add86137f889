package dogpile_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// The cost of Cached.Call over a hand-written GetOrCreate on a hit: the
// benchmarks below run the same lookup (memory backend, one key) both ways.
// Compare BenchmarkCachedCallHit/arg=int with BenchmarkGetOrCreateHitHandKey.

func cfBenchLoad(_ context.Context, id int) (string, error) { return "user-" + strconv.Itoa(id), nil }

func BenchmarkGetOrCreateHitHandKey(b *testing.B) {
	ctx := context.Background()
	r := cfRegion(b)
	id := 123456
	benchGets(b, func() (string, error) {
		// What one writes without Cached: a key of a prefix and the ID, and a
		// creator that closes over the ID.
		return dogpile.GetOrCreate(ctx, r, "user:"+strconv.Itoa(id), func(ctx context.Context) (string, error) {
			return cfBenchLoad(ctx, id)
		})
	})
}

func BenchmarkGetOrCreateArgHit(b *testing.B) {
	ctx := context.Background()
	r := cfRegion(b)
	id := 123456
	benchGets(b, func() (string, error) {
		// The same key, and a creator that needs no closure.
		return dogpile.GetOrCreateArg(ctx, r, "user:"+strconv.Itoa(id), id, cfBenchLoad)
	})
}

// benchGets runs get once (a miss), then in b's loop (hits).
func benchGets[V any](b *testing.B, get func() (V, error)) {
	if _, err := get(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCachedCallHit(b *testing.B) {
	ctx := context.Background()
	b.Run("arg=int", func(b *testing.B) {
		f := dogpile.Cached(cfRegion(b), cfBenchLoad)
		cfBenchHits(b, ctx, f, 123456)
	})
	b.Run("arg=string", func(b *testing.B) {
		f := dogpile.Cached(cfRegion(b), func(_ context.Context, s string) (string, error) { return s, nil }, dogpile.FuncName("echo"))
		cfBenchHits(b, ctx, f, "user-123456")
	})
	b.Run("arg=struct", func(b *testing.B) {
		f := dogpile.Cached(cfRegion(b), cfGreet)
		cfBenchHits(b, ctx, f, cfUser{ID: 123456, Name: "ann"})
	})
	b.Run("arg=int/keyfunc", func(b *testing.B) {
		f := dogpile.Cached(cfRegion(b), cfBenchLoad, dogpile.KeyFunc(strconv.Itoa))
		cfBenchHits(b, ctx, f, 123456)
	})
	b.Run("arg=int/generator", func(b *testing.B) {
		f := dogpile.Cached(cfRegion(b, dogpile.WithFunctionKeyGenerator(dogpile.FunctionKeyGenerator)), cfBenchLoad)
		cfBenchHits(b, ctx, f, 123456)
	})
}

func cfBenchHits[A, V any](b *testing.B, ctx context.Context, f *dogpile.CachedFunc[A, V], a A) {
	benchGets(b, func() (V, error) { return f.Call(ctx, a) })
}

func BenchmarkCachedMultiCallHit(b *testing.B) {
	ctx := context.Background()
	f := dogpile.CachedMulti(cfRegion(b), func(_ context.Context, ids []int) ([]string, error) {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = strconv.Itoa(id)
		}
		return out, nil
	}, dogpile.FuncName("batch"))
	ids := make([]int, 100)
	for i := range ids {
		ids[i] = i
	}
	if _, err := f.Call(ctx, ids); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Call(ctx, ids); err != nil {
			b.Fatal(err)
		}
	}
}
