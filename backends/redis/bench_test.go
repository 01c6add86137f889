package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	goredis "github.com/redis/go-redis/v9"
)

// BenchmarkHit compares a GetOrCreate hit on the redis backend with a raw
// go-redis GET of the same bytes on the same server: what the region adds to
// one round trip (goal: at most 2 allocations more; the time ratio is
// BenchmarkRatios'). The raw GET reads the string go-redis returns (Result),
// with a key that, like the region's, is not a constant, so that both pay
// go-redis's boxing of the key.
//
//	go test -run '^$' -bench 'BenchmarkHit' -benchmem ./backends/redis/
func BenchmarkHit(b *testing.B) {
	srv := testserver.StartRedis(b)
	r := regionOn(b, "redis", dogpile.Args{"url": "redis://" + srv.Addr()})
	raw := rawClient(b, srv.Addr())
	ctx := context.Background()
	key := []string{"bench-hit"}[0]
	value := strings.Repeat("x", 100)
	if err := r.Set(ctx, key, value); err != nil {
		b.Fatal(err)
	}

	b.Run("GetOrCreate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, err := dogpile.GetOrCreate(ctx, r, key, noCreate); err != nil || len(v) != len(value) {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("RawGET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, err := raw.Get(ctx, key).Result(); err != nil || len(v) == 0 {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("GetOrCreate/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := dogpile.GetOrCreate(ctx, r, key, noCreate); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("RawGET/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := raw.Get(ctx, key).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkMulti100 compares GetOrCreateMulti of 100 stored keys (one MGET)
// with a plain go-redis MGET of the same keys (goal: at most 1.3 times its
// allocations; the time ratio is BenchmarkRatios') and with 100 GetOrCreate
// calls (100 GETs). Each reports the time for all 100 keys.
//
//	go test -run '^$' -bench 'BenchmarkMulti100' -benchmem ./backends/redis/
func BenchmarkMulti100(b *testing.B) {
	ctx := context.Background()
	r, raw, keys := hundredHits(b)

	b.Run("GetOrCreateMulti", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, noCreateMulti); err != nil || len(vs) != len(keys) {
				b.Fatal(err)
			}
		}
	})
	b.Run("RawMGET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if vs, err := raw.MGet(ctx, keys...).Result(); err != nil || len(vs) != len(keys) {
				b.Fatal(err)
			}
		}
	})
	b.Run("100xGetOrCreate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, k := range keys {
				if _, err := dogpile.GetOrCreate(ctx, r, k, noCreate); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// hundredHits is a region on a server of its own holding 100 keys of 100
// bytes, a plain client of that server, and the keys.
func hundredHits(b testing.TB) (*dogpile.Region, *goredis.Client, []string) {
	srv := testserver.StartRedis(b)
	r := regionOn(b, "redis", dogpile.Args{"url": "redis://" + srv.Addr()})
	keys := make([]string, 100)
	items := map[string]any{}
	for i := range keys {
		keys[i] = fmt.Sprintf("bench-%d", i)
		items[keys[i]] = strings.Repeat("v", 100)
	}
	if err := r.SetMulti(context.Background(), items); err != nil {
		b.Fatal(err)
	}
	return r, rawClient(b, srv.Addr()), keys
}

// noCreate and noCreateMulti are the creators of reads that must hit.
func noCreate(context.Context) (string, error) { return "", fmt.Errorf("the creator ran on a hit") }

func noCreateMulti(context.Context, []string) ([]string, error) {
	return nil, fmt.Errorf("the creator ran on hits")
}

// BenchmarkRatios measures the time goals with the compared calls
// interleaved in one loop, so that both see the same machine load (on a busy
// machine separate benchmarks drift by more than the difference they
// measure); which of the two goes first alternates, so that neither always
// follows the other's wake-up. Its metrics: x-raw, a GetOrCreate hit's time
// over a raw GET's (goal ≤ 1.05); x-mget, a GetOrCreateMulti of 100 present
// keys over a plain MGET of the same keys (goal ≤ 1.15); x-faster, 100
// GetOrCreate calls over one GetOrCreateMulti of the same 100 keys (goal ≥
// 20).
//
//	go test -run '^$' -bench 'BenchmarkRatios' -count 6 ./backends/redis/ | benchstat -
func BenchmarkRatios(b *testing.B) {
	ctx := context.Background()
	r, raw, keys := hundredHits(b)

	b.Run("hit-vs-raw", func(b *testing.B) {
		region := func() {
			if _, err := dogpile.GetOrCreate(ctx, r, keys[0], noCreate); err != nil {
				b.Fatal(err)
			}
		}
		direct := func() {
			if _, err := raw.Get(ctx, keys[0]).Result(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(testutil.Paired(b, region, direct), "x-raw")
	})
	b.Run("multi-vs-mget", func(b *testing.B) {
		region := func() {
			if vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, noCreateMulti); err != nil || len(vs) != len(keys) {
				b.Fatal(err)
			}
		}
		direct := func() {
			if vs, err := raw.MGet(ctx, keys...).Result(); err != nil || len(vs) != len(keys) {
				b.Fatal(err)
			}
		}
		b.ReportMetric(testutil.Paired(b, region, direct), "x-mget")
	})
	b.Run("multi-speedup", func(b *testing.B) {
		multi := func() {
			if _, err := dogpile.GetOrCreateMulti(ctx, r, keys, noCreateMulti); err != nil {
				b.Fatal(err)
			}
		}
		singles := func() {
			for _, k := range keys {
				if _, err := dogpile.GetOrCreate(ctx, r, k, noCreate); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(testutil.Paired(b, singles, multi), "x-faster")
	})
}
