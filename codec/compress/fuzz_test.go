package compress_test

import (
	"encoding/binary"
	"testing"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/compress"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// FuzzUnmarshal decodes arbitrary bytes into the types users cache: it never
// panics, never decompresses past the limit (the fuzzer's memory would
// show it), and what decodes into []byte is what an entry of it holds.
func FuzzUnmarshal(f *testing.F) {
	seed := testutil.Record{ID: 7, Name: "ann", Tags: []string{"a", "b", "a", "b"}, Attrs: map[string]string{"k": "v"}}
	for _, alg := range []compress.Algorithm{compress.S2, compress.Zstd} {
		for _, min := range []int{1, 1 << 20} {
			c, err := compress.New(codec.JSON, compress.Options{Algorithm: alg, MinBytes: min})
			if err != nil {
				f.Fatal(err)
			}
			for _, v := range []any{seed, []testutil.Record{seed, seed, seed}, "text text text text text"} {
				b, err := c.Marshal(v)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	f.Add(binary.AppendUvarint([]byte{1}, 0xffffffff))                                       // S2 claiming 4 GB
	f.Add([]byte{2, 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0x00, 0x00}) // zstd claiming 1 TB
	f.Add([]byte{3})

	const limit = 1 << 20
	c, err := compress.New(codec.JSON, compress.Options{MaxDecodedBytes: limit})
	if err != nil {
		f.Fatal(err)
	}
	raw, err := compress.New(codec.Default, compress.Options{MaxDecodedBytes: limit})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		testutil.UnmarshalEach(c, b)
		var got []byte
		if err := raw.Unmarshal(b, &got); err != nil {
			return
		}
		if len(got) > limit {
			t.Fatalf("decoded %d bytes, the limit is %d", len(got), limit)
		}
		// A decoded value encodes to an entry that decodes to it again.
		again, err := raw.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back []byte
		if err := raw.Unmarshal(again, &back); err != nil || string(back) != string(got) {
			t.Fatalf("%q decoded to %q, which round-trips to %q, %v", b, got, back, err)
		}
	})
}
