package redis_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/compress"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// BenchmarkCompress100KB stores a 100 KB JSON document (an API response:
// records whose field names repeat) in Redis without compression and with
// S2 and Zstandard, and measures a GetOrCreate hit and a Set. stored-B is
// what the entry takes on the server (STRLEN), which is also what a hit
// reads from the network. The document is cached as bytes, so the times are
// those of the store and the compression alone, not of a JSON decoder.
//
//	go test -run '^$' -bench Compress100KB -count 6 ./backends/redis/ | benchstat -col /codec -
func BenchmarkCompress100KB(b *testing.B) {
	srv := testserver.StartRedis(b)
	raw := rawClient(b, srv.Addr())
	ctx := context.Background()
	doc := testutil.APIResponse(100 << 10)
	create := func(context.Context) ([]byte, error) { return nil, fmt.Errorf("the creator ran on a hit") }

	for _, alg := range []compress.Algorithm{compress.None, compress.S2, compress.Zstd} {
		c, err := compress.New(codec.Default, compress.Options{Algorithm: alg})
		if err != nil {
			b.Fatal(err)
		}
		r, err := dogpile.NewRegion(dogpile.WithCodec(c)).Configure("redis", dogpile.WithArguments(dogpile.Args{"url": "redis://" + srv.Addr()}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		key := "bench-compress-" + string(alg)
		if err := r.Set(ctx, key, doc); err != nil {
			b.Fatal(err)
		}
		stored, err := raw.StrLen(ctx, key).Result()
		if err != nil {
			b.Fatal(err)
		}

		b.Run("op=hit/codec="+string(alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil || len(v) != len(doc) {
					b.Fatal(len(v), err)
				}
			}
			b.ReportMetric(float64(stored), "stored-B")
		})
		b.Run("op=set/codec="+string(alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Set(ctx, key, doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(stored), "stored-B")
		})
	}
}
