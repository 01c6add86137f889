package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

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
// op=hit-interleaved runs one hit of each in every iteration, so that all
// three see the same machine load (separate benchmarks on a busy machine
// drift by more than the differences measured), and reports each one's
// time per hit (<codec>-ns/hit) and its ratio to the uncompressed hit
// (<codec>-x-none).
//
//	go test -run '^$' -bench Compress100KB -count 6 ./bench/ > compress.txt
//	benchstat -col /codec -filter '-/op:hit-interleaved' compress.txt
//	benchstat -filter '/op:hit-interleaved' compress.txt
func BenchmarkCompress100KB(b *testing.B) {
	srv := testserver.StartRedis(b)
	raw := NewRedisClient(srv.Addr())
	defer raw.Close()
	ctx := context.Background()
	doc := testutil.APIResponse(100 << 10)
	create := func(context.Context) ([]byte, error) { return nil, fmt.Errorf("the creator ran on a hit") }
	hit := func(b *testing.B, r *dogpile.Region, key string) {
		if v, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil || len(v) != len(doc) {
			b.Fatal(len(v), err)
		}
	}

	type stored struct {
		alg    compress.Algorithm
		region *dogpile.Region
		key    string
		bytes  int64
	}
	var all []stored
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
		s := stored{alg: alg, region: r, key: "bench-compress-" + string(alg)}
		if err := r.Set(ctx, s.key, doc); err != nil {
			b.Fatal(err)
		}
		if s.bytes, err = raw.StrLen(ctx, s.key).Result(); err != nil {
			b.Fatal(err)
		}
		all = append(all, s)
	}

	for _, s := range all {
		b.Run("op=hit/codec="+string(s.alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hit(b, s.region, s.key)
			}
			b.ReportMetric(float64(s.bytes), "stored-B")
		})
		b.Run("op=set/codec="+string(s.alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.region.Set(ctx, s.key, doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.bytes), "stored-B")
		})
	}
	b.Run("op=hit-interleaved", func(b *testing.B) {
		spent := make([]time.Duration, len(all))
		for b.Loop() {
			for i, s := range all {
				t0 := time.Now()
				hit(b, s.region, s.key)
				spent[i] += time.Since(t0)
			}
		}
		for i, s := range all {
			b.ReportMetric(float64(spent[i].Nanoseconds())/float64(b.N), string(s.alg)+"-ns/hit")
			if i > 0 {
				b.ReportMetric(float64(spent[i])/float64(spent[0]), string(s.alg)+"-x-none")
			}
		}
	})
}
