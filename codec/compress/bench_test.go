package compress_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/compress"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// BenchmarkCodec measures what each algorithm costs on a 100 KB JSON
// document (an API response), without a store: Marshal and Unmarshal time
// and throughput, and the bytes an entry takes (entry-B).
//
//	go test -run '^$' -bench Codec -count 6 ./codec/compress/ | benchstat -col /alg -
func BenchmarkCodec(b *testing.B) {
	doc := testutil.APIResponse(100 << 10)
	for _, alg := range []compress.Algorithm{compress.None, compress.S2, compress.Zstd} {
		c, err := compress.New(codec.Default, compress.Options{Algorithm: alg})
		if err != nil {
			b.Fatal(err)
		}
		entry, err := c.Marshal(doc)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("op=Marshal/alg="+string(alg), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Marshal(doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(entry)), "entry-B")
		})
		b.Run("op=Unmarshal/alg="+string(alg), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			var got []byte
			for b.Loop() {
				if err := c.Unmarshal(entry, &got); err != nil || len(got) != len(doc) {
					b.Fatal(err)
				}
			}
		})
	}
}
