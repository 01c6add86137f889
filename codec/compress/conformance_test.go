package compress_test

import (
	"fmt"
	"testing"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/compress"
	"github.com/dogpile-go/dogpile/dogpiletest"
)

// TestConformance runs the codec suite on both algorithms, with the default
// threshold (the suite's small values are stored uncompressed) and with a
// threshold of one byte (every value that shrinks is compressed).
func TestConformance(t *testing.T) {
	for _, alg := range []compress.Algorithm{compress.S2, compress.Zstd} {
		for _, min := range []int{0, 1} {
			c := mustNew(t, codec.Default, compress.Options{Algorithm: alg, MinBytes: min})
			t.Run(fmt.Sprintf("%s/min=%d", alg, min), func(t *testing.T) { dogpiletest.TestCodec(t, c) })
		}
	}
}
