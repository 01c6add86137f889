package dogpile_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// BenchmarkCreate: the cost of the dogpile lock around a creation, a miss on
// a new key each time (memory backend, a creator that does nothing): one key
// through GetOrCreate, ten through GetOrCreateMulti.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	b.Run("keys=1", func(b *testing.B) {
		r := benchRegion(b)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n++
			if _, err := dogpileGetOrCreate(ctx, r, strconv.Itoa(n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keys=10", func(b *testing.B) {
		r := benchRegion(b)
		keys := make([]string, 10)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			for i := range keys {
				n++
				keys[i] = strconv.Itoa(n)
			}
			if _, err := dogpileGetOrCreateMulti(ctx, r, keys); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func dogpileGetOrCreate(ctx context.Context, r *dogpile.Region, key string) (string, error) {
	return dogpile.GetOrCreate(ctx, r, key, create)
}

func createValues(_ context.Context, keys []string) ([]string, error) {
	return make([]string, len(keys)), nil
}

func dogpileGetOrCreateMulti(ctx context.Context, r *dogpile.Region, keys []string) ([]string, error) {
	return dogpile.GetOrCreateMulti(ctx, r, keys, createValues)
}
