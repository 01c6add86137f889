package msgpack

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// FuzzUnmarshal decodes arbitrary bytes into the types users cache: it never
// panics, and never allocates for lengths the data does not hold (the test
// process would die).
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{0x82, 0xa2, 'i', 'd', 0x07, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'x'})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})       // array32 claiming 4G elements
	f.Add([]byte{0xd6, 0xff, 0x00, 0x00, 0x00, 0x01}) // timestamp extension
	f.Add([]byte{0xc7, 0x03, 0x05, 0x01, 0x02, 0x03}) // unregistered extension
	f.Fuzz(func(t *testing.T, b []byte) {
		testutil.UnmarshalEach(Codec, b)
	})
}
