package compress_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/codec/compress"
	"github.com/dogpile-go/dogpile/internal/startgate"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// The first byte of an entry, as the package writes it.
const (
	markRaw  = 0
	markS2   = 1
	markZstd = 2
)

var algorithms = []struct {
	alg  compress.Algorithm
	mark byte
}{{compress.S2, markS2}, {compress.Zstd, markZstd}}

func mustNew(t testing.TB, inner codec.Codec, opts compress.Options) codec.Codec {
	t.Helper()
	c, err := compress.New(inner, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func marshal(t testing.TB, c codec.Codec, v any) []byte {
	t.Helper()
	b, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

// TestThreshold: an inner encoding shorter than MinBytes is stored as it is
// behind the raw marker; one of MinBytes or more is compressed; both decode.
func TestThreshold(t *testing.T) {
	const min = 100
	for _, a := range algorithms {
		t.Run(string(a.alg), func(t *testing.T) {
			c := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MinBytes: min})
			for _, tc := range []struct {
				n    int
				mark byte
			}{{0, markRaw}, {1, markRaw}, {min - 1, markRaw}, {min, a.mark}, {100 << 10, a.mark}} {
				v := strings.Repeat("abc", tc.n)[:tc.n] // compressible from min bytes on
				b := marshal(t, c, v)
				if b[0] != tc.mark {
					t.Errorf("%d bytes: marker %d, want %d", tc.n, b[0], tc.mark)
				}
				if tc.mark == markRaw && string(b[1:]) != v {
					t.Errorf("%d bytes: the raw form is not the inner codec's bytes: %q", tc.n, b)
				}
				if tc.mark != markRaw && len(b) >= tc.n {
					t.Errorf("%d bytes: compressed to %d", tc.n, len(b))
				}
				var got string
				if err := c.Unmarshal(b, &got); err != nil || got != v {
					t.Errorf("%d bytes: Unmarshal = %d bytes, %v", tc.n, len(got), err)
				}
			}
		})
	}
}

// TestDefaultThreshold: the zero Options compress from DefaultMinBytes.
func TestDefaultThreshold(t *testing.T) {
	c := mustNew(t, codec.Default, compress.Options{})
	if b := marshal(t, c, strings.Repeat("a", compress.DefaultMinBytes-1)); b[0] != markRaw {
		t.Errorf("below DefaultMinBytes: marker %d", b[0])
	}
	if b := marshal(t, c, strings.Repeat("a", compress.DefaultMinBytes)); b[0] != markS2 {
		t.Errorf("at DefaultMinBytes: marker %d, want S2", b[0])
	}
}

// TestIncompressibleStoredRaw: a value that would not shrink (random bytes,
// already compressed data) is stored as it is, costing one byte.
func TestIncompressibleStoredRaw(t *testing.T) {
	v := make([]byte, 64<<10)
	rand.Read(v)
	for _, a := range algorithms {
		c := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MinBytes: 1})
		b := marshal(t, c, v)
		if b[0] != markRaw || len(b) != 1+len(v) {
			t.Errorf("%s: random bytes stored as marker %d, %d bytes", a.alg, b[0], len(b))
		}
	}
}

// TestMaxDecodedBytesStoredRaw: a value longer than the decompression limit
// is stored uncompressed, so the codec reads back everything it writes.
func TestMaxDecodedBytesStoredRaw(t *testing.T) {
	for _, a := range algorithms {
		c := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MinBytes: 1, MaxDecodedBytes: 1000})
		v := strings.Repeat("z", 1001)
		b := marshal(t, c, v)
		if b[0] != markRaw {
			t.Errorf("%s: a value over the limit has marker %d", a.alg, b[0])
		}
		var got string
		if err := c.Unmarshal(b, &got); err != nil || got != v {
			t.Errorf("%s: Unmarshal = %v", a.alg, err)
		}
		if b := marshal(t, c, v[:1000]); b[0] != a.mark {
			t.Errorf("%s: a value at the limit has marker %d", a.alg, b[0])
		}
	}
}

// TestEveryCodecReadsEveryForm: the marker says how an entry was written, so
// a codec reads entries of the other algorithm and of other thresholds:
// changing either keeps a cache's entries readable.
func TestEveryCodecReadsEveryForm(t *testing.T) {
	v := string(testutil.APIResponse(8 << 10))
	var writers []codec.Codec
	for _, a := range algorithms {
		for _, min := range []int{1, 1 << 20} {
			writers = append(writers, mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MinBytes: min}))
		}
	}
	for i, w := range writers {
		b := marshal(t, w, v)
		for j, r := range writers {
			if r.Name() != w.Name() {
				t.Fatalf("names differ: %q, %q", r.Name(), w.Name())
			}
			var got string
			if err := r.Unmarshal(b, &got); err != nil || got != v {
				t.Errorf("codec %d did not read codec %d's entry (marker %d): %v", j, i, b[0], err)
			}
		}
	}
}

// TestRegionNames: a region reads the entries of a region with the same
// inner codec and another algorithm, and reads entries written without
// compression (another codec name) as misses, and the other way round.
func TestRegionNames(t *testing.T) {
	ctx := context.Background()
	be, err := dogpile.NewSerializedMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	region := func(c codec.Codec) *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithCodec(c)).ConfigureBackend(be, dogpile.WithExpiration(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	s2r := region(mustNew(t, codec.JSON, compress.Options{Algorithm: compress.S2, MinBytes: 1}))
	zr := region(mustNew(t, codec.JSON, compress.Options{Algorithm: compress.Zstd, MinBytes: 1}))
	plain := region(codec.JSON)
	v := testutil.APIResponse(4 << 10)

	if err := s2r.Set(ctx, "k", v); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := dogpile.Get[[]byte](ctx, zr, "k"); err != nil || !ok || !bytes.Equal(got, v) {
		t.Errorf("the zstd region read the s2 region's entry: %v, %v", ok, err)
	}
	if _, ok, err := dogpile.Get[[]byte](ctx, plain, "k"); err != nil || ok {
		t.Errorf("an uncompressed region read a compressed entry: %v, %v; want a miss", ok, err)
	}
	if err := plain.Set(ctx, "p", v); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := dogpile.Get[[]byte](ctx, s2r, "p"); err != nil || ok {
		t.Errorf("a compressing region read an uncompressed entry: %v, %v; want a miss", ok, err)
	}
}

// TestNames: the name says the entry is compressed and what the inner codec
// is, and is the same for both algorithms and every threshold.
func TestNames(t *testing.T) {
	for _, opts := range []compress.Options{{}, {Algorithm: compress.Zstd, MinBytes: 7, MaxDecodedBytes: 9}} {
		if got := mustNew(t, codec.JSON, opts).Name(); got != "compress+json" {
			t.Errorf("%+v: Name = %q", opts, got)
		}
	}
}

type namedCodec struct {
	codec.Codec
	name string
}

func (c namedCodec) Name() string { return c.name }

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		inner codec.Codec
		opts  compress.Options
		want  error
		text  string
	}{
		{codec.JSON, compress.Options{Algorithm: "lz4"}, compress.ErrUnknownAlgorithm, `unknown compression algorithm "lz4": want "s2", "zstd" or "none"`},
		{codec.JSON, compress.Options{Algorithm: "S2"}, compress.ErrUnknownAlgorithm, `"S2"`},
		{codec.JSON, compress.Options{MinBytes: -1}, compress.ErrInvalidOption, "MinBytes -1"},
		{codec.JSON, compress.Options{MaxDecodedBytes: -1}, compress.ErrInvalidOption, "MaxDecodedBytes -1"},
		{nil, compress.Options{}, compress.ErrInvalidOption, "nil"},
		{namedCodec{codec.JSON, strings.Repeat("n", 247)}, compress.Options{}, compress.ErrInvalidOption, "255"},
	} {
		c, err := compress.New(tc.inner, tc.opts)
		if !errors.Is(err, tc.want) || !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(err), tc.text) {
			t.Errorf("New(%+v) = %v, %v; want an error wrapping %v and dogpile.ErrInvalidArgument that says %s", tc.opts, c, err, tc.want, tc.text)
		}
	}
	if _, err := compress.New(namedCodec{codec.JSON, strings.Repeat("n", 246)}, compress.Options{}); err != nil {
		t.Errorf("a name of 255 bytes: %v", err)
	}
}

// TestByName: the configuration's names, in any case; "none" is the inner
// codec itself; an unknown name lists the known ones.
func TestByName(t *testing.T) {
	for _, tc := range []struct {
		name string
		mark byte
	}{{"s2", markS2}, {"zstd", markZstd}, {" ZSTD ", markZstd}, {"", markS2}} {
		c, err := compress.ByName(tc.name, 100, codec.Default)
		if err != nil {
			t.Fatalf("ByName(%q): %v", tc.name, err)
		}
		if b := marshal(t, c, strings.Repeat("a", 100)); b[0] != tc.mark {
			t.Errorf("ByName(%q, 100): marker %d for 100 bytes, want %d", tc.name, b[0], tc.mark)
		}
		if b := marshal(t, c, strings.Repeat("a", 99)); b[0] != markRaw {
			t.Errorf("ByName(%q, 100): marker %d for 99 bytes", tc.name, b[0])
		}
	}
	if c, err := compress.ByName("None", 0, codec.JSON); err != nil || c != codec.JSON {
		t.Errorf(`ByName("None") = %v, %v; want the inner codec`, c, err)
	}
	if _, err := compress.ByName("gzip", 0, codec.JSON); !errors.Is(err, compress.ErrUnknownAlgorithm) || !strings.Contains(err.Error(), `"gzip"`) {
		t.Errorf(`ByName("gzip") = %v`, err)
	}
	for _, name := range []string{"s2", "none"} {
		if _, err := compress.ByName(name, -5, codec.JSON); !errors.Is(err, compress.ErrInvalidOption) {
			t.Errorf(`ByName(%q, -5) = %v`, name, err)
		}
	}
}

// entries returns one entry of each form holding v.
func entries(t *testing.T, v any) map[string][]byte {
	out := map[string][]byte{"raw": marshal(t, mustNew(t, codec.JSON, compress.Options{MinBytes: 1 << 30}), v)}
	for _, a := range algorithms {
		b := marshal(t, mustNew(t, codec.JSON, compress.Options{Algorithm: a.alg, MinBytes: 1}), v)
		if b[0] != a.mark {
			t.Fatalf("%s: marker %d", a.alg, b[0])
		}
		out[string(a.alg)] = b
	}
	return out
}

// TestC3TruncatedAndCorruptAreErrors: every truncation of a compressed entry
// is an error wrapping ErrCorrupt, a flipped byte an error or (where the
// format has no checksum) some value, and nothing panics; a region reads
// them as misses.
func TestC3TruncatedAndCorruptAreErrors(t *testing.T) {
	type rec struct {
		Names []string
		N     int
	}
	v := rec{Names: strings.Split(strings.Repeat("alpha beta gamma ", 30), " "), N: 7}
	c := mustNew(t, codec.JSON, compress.Options{})
	for form, b := range entries(t, v) {
		for n := range len(b) {
			var got rec
			err := c.Unmarshal(b[:n], &got)
			if err == nil {
				t.Errorf("%s: the first %d of %d bytes decoded", form, n, len(b))
			} else if form != "raw" && !errors.Is(err, compress.ErrCorrupt) {
				t.Errorf("%s: the first %d of %d bytes: %v, want ErrCorrupt", form, n, len(b), err)
			}
		}
		for i := range b {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				flipped := bytes.Clone(b)
				flipped[i] ^= x
				var got rec
				_ = c.Unmarshal(flipped, &got) // must return
			}
		}
	}
	var s string
	if err := c.Unmarshal([]byte{9, 'x'}, &s); !errors.Is(err, compress.ErrCorrupt) {
		t.Errorf("an unknown marker: %v", err)
	}
	if err := c.Unmarshal(nil, &s); !errors.Is(err, compress.ErrCorrupt) {
		t.Errorf("no bytes: %v", err)
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecompressionBombRefused: an entry that decompresses to more than
// MaxDecodedBytes is refused with ErrTooLarge before the output is
// allocated: a genuine one (16 MiB of zeros is a few kilobytes compressed)
// and forged headers that claim 4 GB (S2) and 1 TB (Zstandard) in a few
// bytes.
func TestDecompressionBombRefused(t *testing.T) {
	zeros := make([]byte, 16<<20)
	genuine := map[compress.Algorithm][]byte{}
	for _, a := range algorithms {
		b := marshal(t, mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MaxDecodedBytes: len(zeros)}), zeros)
		if b[0] != a.mark || len(b) > 64<<10 {
			t.Fatalf("%s: 16 MiB of zeros compressed to %d bytes, marker %d", a.alg, len(b), b[0])
		}
		genuine[a.alg] = b
	}
	zeros = nil

	s2Forged := binary.AppendUvarint([]byte{markS2}, 0xffffffff)
	s2Forged = append(s2Forged, 0, 0, 0)
	zstdForged := []byte{markZstd, 0x28, 0xb5, 0x2f, 0xfd, 0xe0} // magic; single segment, 8-byte content size
	zstdForged = binary.LittleEndian.AppendUint64(zstdForged, 1<<40)
	zstdForged = append(zstdForged, 0x01, 0x00, 0x00) // a last raw block of 0 bytes

	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"s2 genuine", genuine[compress.S2]},
		{"zstd genuine", genuine[compress.Zstd]},
		{"s2 forged", s2Forged},
		{"zstd forged", zstdForged},
	} {
		for _, a := range algorithms { // the reader's algorithm does not matter
			c := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg, MaxDecodedBytes: 1 << 20})
			var err error
			var got []byte
			n := allocated(func() { err = c.Unmarshal(tc.entry, &got) })
			if !errors.Is(err, compress.ErrTooLarge) {
				t.Errorf("%s read by %s: %v, want ErrTooLarge", tc.name, a.alg, err)
			}
			if n > 64<<10 {
				t.Errorf("%s read by %s: refusing it allocated %d bytes", tc.name, a.alg, n)
			}
		}
	}
}

// TestUnderstatedSizeRefused: an entry whose content outgrows the size its
// header states is refused: the decoders write no more than it.
func TestUnderstatedSizeRefused(t *testing.T) {
	c := mustNew(t, codec.Default, compress.Options{MinBytes: 1})
	v := make([]byte, 100<<10)

	s2Entry := marshal(t, mustNew(t, codec.Default, compress.Options{Algorithm: compress.S2, MinBytes: 1}), v)
	_, n := binary.Uvarint(s2Entry[1:])
	lied := binary.AppendUvarint([]byte{markS2}, 1000)
	lied = append(lied, s2Entry[1+n:]...)
	var got []byte
	if err := c.Unmarshal(lied, &got); !errors.Is(err, compress.ErrCorrupt) {
		t.Errorf("s2 claiming 1000 of 100 KiB: %v", err)
	}

	z := marshal(t, mustNew(t, codec.Default, compress.Options{Algorithm: compress.Zstd, MinBytes: 1}), v)
	// A single-segment frame (descriptor bit 5) with a 4-byte size (bits 6-7 = 2).
	if fhd := z[5]; fhd&0x20 == 0 || fhd>>6 != 2 {
		t.Fatalf("unexpected frame header descriptor %#x", fhd)
	}
	binary.LittleEndian.PutUint32(z[6:], 1000)
	if err := c.Unmarshal(z, &got); !errors.Is(err, compress.ErrCorrupt) {
		t.Errorf("zstd claiming 1000 of 100 KiB: %v", err)
	}
}

// TestUnmarshalDoesNotKeepData for large values: dogpiletest.TestCodec
// checks small ones.
func TestUnmarshalDoesNotKeepData(t *testing.T) {
	v := testutil.APIResponse(16 << 10)
	for form, b := range entries(t, string(v)) {
		var s string
		if err := mustNew(t, codec.JSON, compress.Options{}).Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 'X'
		}
		if s != string(v) {
			t.Errorf("%s: the decoded value changed when its entry was overwritten", form)
		}
	}
}

// TestConcurrentUse: goroutines share one codec of each algorithm (and the
// Zstandard encoder and decoder behind them) under the race detector, each
// with its own values.
func TestConcurrentUse(t *testing.T) {
	const goroutines, rounds = 8, 20
	for _, a := range algorithms {
		c := mustNew(t, codec.Default, compress.Options{Algorithm: a.alg})
		startgate.Run(goroutines, func(g int) {
			for i := range rounds {
				v := strings.Repeat(fmt.Sprintf("goroutine %d round %d; ", g, i), 100+i*g)
				b, err := c.Marshal(v)
				if err != nil {
					t.Error(err)
					return
				}
				var got string
				if err := c.Unmarshal(b, &got); err != nil || got != v {
					t.Errorf("%s: goroutine %d round %d: %v", a.alg, g, i, err)
					return
				}
			}
		})
	}
}

// TestInnerErrorsPassThrough: the inner codec's error is returned as it is.
func TestInnerErrorsPassThrough(t *testing.T) {
	c := mustNew(t, codec.JSON, compress.Options{})
	if _, err := c.Marshal(make(chan int)); err == nil {
		t.Error("Marshal of a channel succeeded")
	}
}
