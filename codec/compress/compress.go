// Package compress is a codec for dogpile regions that compresses what
// another codec encodes when it is large, with S2 or Zstandard (the
// implementations of github.com/klauspost/compress), so that large values
// take less memory in the store and less time on the network.
//
//	c, err := compress.New(codec.JSON, compress.Options{Algorithm: compress.S2, MinBytes: 1024})
//	if err != nil {
//		return err
//	}
//	region := dogpile.NewRegion(dogpile.WithCodec(c))
//
// Values whose encoding is shorter than MinBytes are stored as the inner
// codec wrote them, behind a one-byte marker; so are values that would not
// get smaller (already compressed data). Larger ones are compressed. The
// marker says which form an entry has, so a codec reads entries of both
// forms and of either algorithm: a change of algorithm or threshold leaves
// the cached entries readable, also while processes configured the old way
// and the new way run side by side.
//
// # Choosing an algorithm
//
// S2 (the default, and what go-redis/cache uses) is the fastest: in the
// benchmarks, a 100 KB JSON API response shrinks to a quarter, and a Redis
// hit on it takes no longer than uncompressed even over loopback (the
// smaller transfer saves about what decompression costs; across a network
// it saves more: 77 KB less is 0.6 ms at 1 Gbit/s). Zstandard makes the document a third smaller again
// (15 KB instead of 23), for about three times S2's time to compress and a
// slower hit: it pays where store memory or bandwidth is scarcer than CPU.
//
// # Limits
//
// A cache entry is input from the network: decompressing one never allocates
// more than Options.MaxDecodedBytes, whatever size the entry claims, and an
// entry that would is refused (ErrTooLarge) before anything is allocated.
// A value longer than the limit is stored uncompressed, so the codec reads
// everything it writes.
//
// # Names
//
// The codec's name, which every entry carries, is "compress+" followed by
// the inner codec's name ("compress+json"); the algorithm and threshold are
// not part of it. An entry written without compression has another name and
// reads as a miss in a region that compresses, and the other way round:
// turning compression on or off makes the cached values misses once, until
// they are created again.
//
// # Configuration
//
// Importing the package registers S2 and Zstd with package codec
// (codec.RegisterCompression), so that a region's configuration can ask for
// them (package config, and Region.ConfigureFromMap):
//
//	compress             "s2", "zstd" or "none"
//	compress_min_bytes   the threshold in bytes (MinBytes); min_compress_len,
//	                     the argument of Python's dogpile.cache memcached
//	                     backends, is another name for it, also among the
//	                     backend's arguments
//
// ByName makes the codec from such names.
package compress

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Algorithm names a compression algorithm.
type Algorithm string

// The algorithms.
const (
	// S2 is github.com/klauspost/compress/s2, an extension of Snappy: the
	// fastest, and the default.
	S2 Algorithm = "s2"
	// Zstd is Zstandard (github.com/klauspost/compress/zstd) at its default
	// level: smaller output, more CPU.
	Zstd Algorithm = "zstd"
	// None compresses nothing: New and ByName return the inner codec.
	None Algorithm = "none"
)

// Defaults for the zero Options.
const (
	// DefaultMinBytes is the threshold below which values are stored
	// uncompressed: below about a kilobyte, compression saves a few hundred
	// bytes an entry at most (a JSON record of 450 bytes shrinks by 6% with
	// S2), and every write and every hit would pay for it.
	DefaultMinBytes = 1024
	// DefaultMaxDecodedBytes is the largest value a codec decompresses.
	DefaultMaxDecodedBytes = 64 << 20
)

// Options configure a codec. The zero value is S2 above DefaultMinBytes.
type Options struct {
	// Algorithm compresses large values; S2 if empty.
	Algorithm Algorithm
	// MinBytes is the length of the inner codec's encoding from which a value
	// is compressed; DefaultMinBytes if 0. Use 1 to compress every value
	// that gets smaller.
	MinBytes int
	// MaxDecodedBytes is the largest value the codec decompresses, and the
	// largest it compresses (a longer one is stored as it is);
	// DefaultMaxDecodedBytes if 0.
	MaxDecodedBytes int
}

// Errors, wrapped with detail; test for them with errors.Is.
var (
	// ErrUnknownAlgorithm: New or ByName was given an algorithm other than
	// s2, zstd or none. It matches dogpile.ErrInvalidArgument too.
	ErrUnknownAlgorithm = fmt.Errorf("%w: unknown compression algorithm", dogpile.ErrInvalidArgument)
	// ErrInvalidOption: an Options field is out of range, or the inner codec
	// is missing. It matches dogpile.ErrInvalidArgument too.
	ErrInvalidOption = fmt.Errorf("%w: compress option", dogpile.ErrInvalidArgument)
	// ErrCorrupt: Unmarshal was given bytes this package did not write, or
	// that were damaged (a region reads the entry as a miss).
	ErrCorrupt = errors.New("compress: corrupt entry")
	// ErrTooLarge: the entry decompresses to more than MaxDecodedBytes; it
	// was refused before anything was allocated (a region reads it as a
	// miss).
	ErrTooLarge = errors.New("compress: entry decompresses to more than the limit")
)

// The first byte of every entry: the form of the rest.
const (
	markRaw  byte = 0 // the inner codec's bytes as they are
	markS2   byte = 1 // an S2 block
	markZstd byte = 2 // one Zstandard frame that records its content size
)

// namePrefix starts the codec's name; the inner codec's name follows.
const namePrefix = "compress+"

// maxNameLen is the longest name an entry can carry.
const maxNameLen = 255

// New returns a codec that encodes with inner and compresses the result as
// opts say. With Algorithm None it returns inner.
func New(inner codec.Codec, opts Options) (codec.Codec, error) {
	if inner == nil {
		return nil, fmt.Errorf("%w: the inner codec is nil", ErrInvalidOption)
	}
	c := &compressCodec{inner: inner, min: opts.MinBytes, max: opts.MaxDecodedBytes}
	switch {
	case c.min < 0:
		return nil, fmt.Errorf("%w: MinBytes %d is negative", ErrInvalidOption, c.min)
	case c.min == 0:
		c.min = DefaultMinBytes
	}
	switch {
	case c.max < 0:
		return nil, fmt.Errorf("%w: MaxDecodedBytes %d is negative", ErrInvalidOption, c.max)
	case c.max == 0:
		c.max = DefaultMaxDecodedBytes
	}
	// S2 encodes blocks of up to 4 GB; what is longer is stored raw.
	c.max = min(c.max, s2.MaxBlockSize)
	switch opts.Algorithm {
	case S2, "":
		c.mark = markS2
	case Zstd:
		c.mark = markZstd
	case None:
		return inner, nil
	default:
		return nil, unknown(string(opts.Algorithm))
	}
	c.name = namePrefix + inner.Name()
	if len(c.name) > maxNameLen {
		return nil, fmt.Errorf("%w: the inner codec's name is %d bytes, and %q plus it must fit in %d", ErrInvalidOption, len(inner.Name()), namePrefix, maxNameLen)
	}
	return c, nil
}

// ByName returns the codec a configuration names: algorithm is "s2", "zstd"
// or "none" (any case; empty means the default, S2), minBytes the threshold
// (0: DefaultMinBytes). An unknown name is an error wrapping
// ErrUnknownAlgorithm that lists the known ones.
func ByName(algorithm string, minBytes int, inner codec.Codec) (codec.Codec, error) {
	return New(inner, Options{Algorithm: Algorithm(strings.ToLower(strings.TrimSpace(algorithm))), MinBytes: minBytes})
}

// init registers S2 and Zstd, so that a configuration file's compress
// setting can name them.
func init() {
	for _, a := range []Algorithm{S2, Zstd} {
		c := func(inner codec.Codec, minBytes int) (codec.Codec, error) {
			return New(inner, Options{Algorithm: a, MinBytes: minBytes})
		}
		if err := codec.RegisterCompression(string(a), c); err != nil {
			panic(err)
		}
	}
}

func unknown(name string) error {
	return fmt.Errorf("%w %q: want %q, %q or %q", ErrUnknownAlgorithm, name, S2, Zstd, None)
}

type compressCodec struct {
	inner codec.Codec
	name  string
	mark  byte // how large values are compressed
	min   int
	max   int
}

func (c *compressCodec) Name() string { return c.name }

func (c *compressCodec) Marshal(v any) ([]byte, error) {
	b, err := c.inner.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) >= c.min && len(b) <= c.max {
		var out []byte
		switch c.mark {
		case markS2:
			// Encode writes in place, after the marker, when given the room
			// its worst case needs.
			buf := make([]byte, 1+s2.MaxEncodedLen(len(b)))
			out = buf[:1+len(s2.Encode(buf[1:], b))]
		case markZstd:
			// Room for the output of the usual value, as EncodeAll gives
			// itself when it is given none.
			out = zstdEncoder().EncodeAll(b, make([]byte, 1, 1+min(len(b), 1<<20)))
		}
		if len(out) < 1+len(b) {
			out[0] = c.mark
			return out, nil
		}
	}
	out := make([]byte, 1+len(b))
	out[0] = markRaw
	copy(out[1:], b)
	return out, nil
}

func (c *compressCodec) Unmarshal(data []byte, ptr any) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrCorrupt)
	}
	body := data[1:]
	switch data[0] {
	case markRaw:
		return c.inner.Unmarshal(body, ptr)
	case markS2:
		n, err := s2.DecodedLen(body)
		if err != nil {
			return fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		if n > c.max {
			return c.tooLarge(uint64(n))
		}
		b, err := s2.Decode(nil, body)
		if err != nil {
			return fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		return c.inner.Unmarshal(b, ptr)
	case markZstd:
		// The frame header says how long the content is: check that before
		// the decoder allocates it, and let it decode no more than that.
		var h zstd.Header
		if err := h.Decode(body); err != nil {
			return fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
		if !h.HasFCS {
			return fmt.Errorf("%w: zstd frame without a content size", ErrCorrupt)
		}
		if h.FrameContentSize > uint64(c.max) {
			return c.tooLarge(h.FrameContentSize)
		}
		n := int(h.FrameContentSize)
		b, err := zstdDecoder().DecodeAll(body, make([]byte, 0, n))
		if err != nil {
			return fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
		if len(b) != n {
			return fmt.Errorf("%w: zstd: %d bytes decoded, the frame says %d", ErrCorrupt, len(b), n)
		}
		return c.inner.Unmarshal(b, ptr)
	}
	return fmt.Errorf("%w: unknown form %#x (written by a newer version?)", ErrCorrupt, data[0])
}

func (c *compressCodec) tooLarge(n uint64) error {
	return fmt.Errorf("%w: %d bytes claimed, the limit is %d", ErrTooLarge, n, c.max)
}

// One Zstandard encoder and one decoder serve every codec: each holds a
// pool of GOMAXPROCS states that EncodeAll and DecodeAll take turns with,
// so they are safe for concurrent use, and the states (costly to make: an
// encoder's match tables take more than a megabyte) are made once, when
// first used. Neither starts a goroutine for EncodeAll and DecodeAll.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		// A single-segment frame always records its content size, which
		// Unmarshal checks before decoding.
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(0), zstd.WithSingleSegment(true))
		if err != nil {
			panic(err) // only a bad option fails, and the options are fixed
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		// DecodeAll writes at most cap(dst) bytes: Unmarshal's limit.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			panic(err)
		}
		return d
	})
)
