package compress_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/compress"
)

// The compressions registered for configuration files make the algorithm
// they are named by, with the threshold they are given.
func TestRegisteredCompressions(t *testing.T) {
	for _, a := range algorithms {
		t.Run(string(a.alg), func(t *testing.T) {
			comp, err := codec.LookupCompression(string(a.alg))
			if err != nil {
				t.Fatal(err)
			}
			c, err := comp(codec.Default, 100)
			if err != nil {
				t.Fatal(err)
			}
			if b := marshal(t, c, strings.Repeat("a", 100)); b[0] != a.mark {
				t.Errorf("100 bytes at a threshold of 100: marker %d, want %d", b[0], a.mark)
			}
			if b := marshal(t, c, strings.Repeat("a", 99)); b[0] != markRaw {
				t.Errorf("99 bytes at a threshold of 100: marker %d, want raw", b[0])
			}
			if _, err := comp(codec.Default, -1); !errors.Is(err, compress.ErrInvalidOption) {
				t.Errorf("a negative threshold: %v", err)
			}
		})
	}
}

// The zero Options decompress up to DefaultMaxDecodedBytes, and compress a
// value of several megabytes.
func TestDefaultMaxDecodedBytes(t *testing.T) {
	v := make([]byte, 4<<20)
	for _, a := range algorithms {
		c := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg})
		b := marshal(t, c, v)
		if b[0] != a.mark {
			t.Errorf("%s: 4 MiB of zeros with the zero Options: marker %d, want %d", a.alg, b[0], a.mark)
		}
		var got []byte
		if err := c.Unmarshal(b, &got); err != nil || len(got) != len(v) {
			t.Errorf("%s: Unmarshal of 4 MiB = %d bytes, %v", a.alg, len(got), err)
		}
	}
	over := binary.AppendUvarint([]byte{markS2}, compress.DefaultMaxDecodedBytes+1)
	var got []byte
	if err := mustNew(t, codec.Default, compress.Options{}).Unmarshal(append(over, 0, 0), &got); !errors.Is(err, compress.ErrTooLarge) {
		t.Errorf("an entry claiming DefaultMaxDecodedBytes+1: %v, want ErrTooLarge", err)
	}
}

// MaxDecodedBytes is the largest value read: an entry of that length
// decodes, one byte more is ErrTooLarge, whoever wrote it.
func TestMaxDecodedBytesIsInclusive(t *testing.T) {
	const limit = 1000
	for _, a := range algorithms {
		w := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MinBytes: 1, MaxDecodedBytes: 2 * limit})
		r := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MaxDecodedBytes: limit})
		var got string
		at := strings.Repeat("z", limit)
		if err := r.Unmarshal(marshal(t, w, at), &got); err != nil || got != at {
			t.Errorf("%s: an entry of %d bytes at a limit of %d: %v", a.alg, limit, limit, err)
		}
		if err := r.Unmarshal(marshal(t, w, at+"z"), &got); !errors.Is(err, compress.ErrTooLarge) {
			t.Errorf("%s: an entry of %d bytes at a limit of %d: %v, want ErrTooLarge", a.alg, limit+1, limit, err)
		}
	}
}

// zstdEntry returns the Zstandard entry of v with the content size its frame
// header states replaced by size.
func zstdEntry(t *testing.T, v []byte, size uint32) []byte {
	t.Helper()
	z := marshal(t, mustNew(t, codec.Default, compress.Options{Algorithm: compress.Zstd, MinBytes: 1}), v)
	// A single-segment frame (descriptor bit 5) with a 4-byte size (bits 6-7 = 2).
	if fhd := z[5]; fhd&0x20 == 0 || fhd>>6 != 2 {
		t.Fatalf("unexpected frame header descriptor %#x", fhd)
	}
	binary.LittleEndian.PutUint32(z[6:], size)
	return z
}

// A Zstandard entry whose content is longer than its header says is
// refused without decoding more than the header says, and one whose
// content is shorter is refused too.
func TestZstdContentSizeIsEnforced(t *testing.T) {
	c := mustNew(t, codec.Default, compress.Options{MinBytes: 1})
	var got []byte
	var err error
	under := zstdEntry(t, make([]byte, 16<<20), 1000)
	if n := allocated(func() { err = c.Unmarshal(under, &got) }); !errors.Is(err, compress.ErrCorrupt) || n > 1<<20 {
		t.Errorf("16 MiB claiming 1000 bytes: %v, %d bytes allocated; want ErrCorrupt, and no more than the claim decoded", err, n)
	}
	over := zstdEntry(t, make([]byte, 100<<10), 200<<10)
	if err := c.Unmarshal(over, &got); !errors.Is(err, compress.ErrCorrupt) {
		t.Errorf("100 KiB claiming 200 KiB: %v, want ErrCorrupt", err)
	}
}

// A Zstandard frame that does not state its content size is refused, even
// one that holds nothing: its size could not be checked before decoding.
func TestZstdFrameWithoutContentSizeRefused(t *testing.T) {
	// magic; descriptor 0 (no content size, a window descriptor); a window
	// descriptor; a last raw block of 0 bytes.
	entry := []byte{markZstd, 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00}
	var got []byte
	if err := mustNew(t, codec.Default, compress.Options{}).Unmarshal(entry, &got); !errors.Is(err, compress.ErrCorrupt) {
		t.Errorf("a frame without a content size: %v, %q; want ErrCorrupt", err, got)
	}
}
