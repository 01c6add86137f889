package dogpile_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
)

// Conformance tests of codecs and the envelope (CONFORMANCE.md, lines C1–C4).

// The MessagePack codec, in a module of its own, runs dogpiletest.TestCodec.
var codecs = []codec.Codec{codec.Default, codec.JSON}

func TestC1CodecsRoundTripR2Types(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.Name(), func(t *testing.T) {
			// JSON replaces bytes that aren't UTF-8 in strings: a limit of the
			// format, not of the region.
			binaryStrings := c != codec.JSON
			regions := map[string]*dogpile.Region{
				"memory_serialized": regionWith(t, []dogpile.RegionOption{dogpile.WithCodec(c)}, "memory_serialized", dogpile.WithExpiration(time.Hour)),
			}
			store := newStore()
			regions["user backend"] = regionFor(t, store, []dogpile.RegionOption{dogpile.WithCodec(c)}, dogpile.WithExpiration(time.Hour))
			// GetMulti on a backend that reads many keys at once decodes
			// each entry by a path of its own, which must use the region's
			// codec, not the default codec's text forms.
			regions["multi-key backend"] = regionFor(t, newMultiStore(), []dogpile.RegionOption{dogpile.WithCodec(c)}, dogpile.WithExpiration(time.Hour))
			for name, r := range regions {
				t.Run(name, func(t *testing.T) {
					for i, rt := range typedValues(binaryStrings) {
						t.Run(rt.name, func(t *testing.T) { rt.setGet(t, r, fmt.Sprintf("c1-%d", i)) })
					}
				})
			}
			// The bytes in the store are this codec's.
			raw, ok := store.raw("c1-0")
			if !ok {
				t.Fatal("nothing stored")
			}
			md, err := dogpile.InspectEntry(raw)
			if err != nil || md.Codec != c.Name() {
				t.Fatalf("InspectEntry = %+v, %v; want codec %q", md, err, c.Name())
			}
		})
	}
}

func TestC2EnvelopeCarriesMetadataOtherVersionIsMiss(t *testing.T) {
	ctx := context.Background()
	store := newStore()
	r := regionFor(t, store, nil, dogpile.WithExpiration(time.Hour))
	before := time.Now()
	mustSet(t, r, "k", "v")
	after := time.Now()
	raw, _ := store.raw("k")

	md, err := dogpile.InspectEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if md.Version != dogpile.FormatVersion || int(raw[envVersionAt]) != dogpile.FormatVersion {
		t.Fatalf("envelope version %d (byte %d); want %d", md.Version, raw[envVersionAt], dogpile.FormatVersion)
	}
	if md.Created.Before(before.Add(-100*time.Millisecond)) || md.Created.After(after.Add(100*time.Millisecond)) {
		t.Fatalf("envelope creation time %v; want between %v and %v", md.Created, before, after)
	}
	if md.Codec != codec.Default.Name() || md.Size != len(raw) {
		t.Fatalf("envelope metadata %+v; want codec %q, size %d", md, codec.Default.Name(), len(raw))
	}
	_, got, ok, err := dogpile.GetWithMetadata[string](ctx, r, "k")
	if err != nil || !ok || !got.Created.Equal(md.Created) || got.Version != md.Version {
		t.Fatalf("GetWithMetadata = %+v, %v, %v; want the envelope's %+v", got, ok, err, md)
	}
	// The creation time is the envelope's: an older one reads as older.
	store.put("k", aged(t, raw, time.Minute))
	if _, older, _, _ := dogpile.GetWithMetadata[string](ctx, r, "k"); !older.Created.Equal(md.Created.Add(-time.Minute)) {
		t.Fatalf("after aging the envelope, Created = %v; want %v", older.Created, md.Created.Add(-time.Minute))
	}

	// Another format version is a miss: the creator runs and replaces it.
	for _, version := range []byte{0, 1, dogpile.FormatVersion + 1, 255} {
		other := slices.Clone(raw)
		other[envVersionAt] = version
		store.put("k", other)
		if _, err := dogpile.InspectEntry(other); err == nil {
			t.Errorf("InspectEntry of version %d: no error", version)
		}
		if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
			t.Fatalf("an entry of format version %d was read: %q", version, v)
		}
		calls := 0
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { calls++; return "new", nil })
		if err != nil || v != "new" || calls != 1 {
			t.Fatalf("GetOrCreate over version %d = %q, %v (%d calls); want created", version, v, err, calls)
		}
		if now, _ := store.raw("k"); now[envVersionAt] != dogpile.FormatVersion {
			t.Fatalf("the entry of version %d was not replaced", version)
		}
	}
}

func TestC3UndecodableBytesAreAMiss(t *testing.T) {
	ctx := context.Background()

	// Entries that aren't a readable int for a default-codec region.
	valid := func(t *testing.T, c codec.Codec, v any) []byte {
		t.Helper()
		s := newStore()
		mustSet(t, regionFor(t, s, []dogpile.RegionOption{dogpile.WithCodec(c)}), "k", v)
		b, _ := s.raw("k")
		return b
	}
	good := valid(t, codec.Default, 42)
	bad := map[string][]byte{
		"garbage":             []byte("garbage that is no envelope"),
		"empty":               {},
		"magic only":          []byte("dp"),
		"codec name cut":      append(slices.Clone(good[:16]), 200, 'd', 'e'),
		"JSON codec's":        valid(t, codec.JSON, 42),
		"payload not an int":  append(slices.Clone(good[:len(good)-2]), "xx"...), // written as an int
		"written as a string": valid(t, codec.Default, "42"),                     // a string an int would decode (K2)
		"random bytes":        {0x64, 0x70, 0x01, 0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xff, 0xff},
	}
	for n := range len(good) - 1 { // every truncation of a good entry
		bad[fmt.Sprintf("truncated to %d", n)] = slices.Clone(good[:n])
	}

	// The byte path: a user backend, memory_serialized, and a backend that
	// reads many keys at once, on which GetMulti and GetOrCreateMulti decode
	// by a path of their own.
	for name, r := range map[string]*dogpile.Region{
		"user backend":      regionFor(t, newStore(), nil, dogpile.WithExpiration(time.Hour)),
		"memory_serialized": regionOn(t, "memory_serialized", dogpile.WithExpiration(time.Hour)),
		"multi-key backend": regionFor(t, newMultiStore(), nil, dogpile.WithExpiration(time.Hour)),
	} {
		t.Run(name, func(t *testing.T) {
			for what, b := range bad {
				put := func() {
					if err := r.Backend().Set(ctx, "k", slices.Clone(b)); err != nil {
						t.Fatal(err)
					}
				}
				put()
				if v, ok, err := dogpile.Get[int](ctx, r, "k", dogpile.IgnoreExpiration()); ok || err != nil {
					t.Fatalf("%s: Get = %d, %v, %v; want a miss, no error", what, v, ok, err)
				}
				if m, err := dogpile.GetMulti[int](ctx, r, []string{"k"}); len(m) != 0 || err != nil {
					t.Fatalf("%s: GetMulti = %v, %v; want no hits, no error", what, m, err)
				}
				calls := 0
				v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { calls++; return 7, nil })
				if err != nil || v != 7 || calls != 1 {
					t.Fatalf("%s: GetOrCreate = %d, %v (%d calls); want the creator's 7", what, v, err, calls)
				}
				put()
				vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k"}, func(_ context.Context, keys []string) ([]int, error) {
					return []int{8}, nil
				})
				if err != nil || !slices.Equal(vs, []int{8}) {
					t.Fatalf("%s: GetOrCreateMulti = %v, %v; want the creator's 8", what, vs, err)
				}
			}
		})
	}

	// The value path: what the memory backend holds under a key is not a T,
	// or not the region's entry at all.
	t.Run("memory", func(t *testing.T) {
		r := regionOn(t, "memory", dogpile.WithExpiration(time.Hour))
		mustSet(t, r, "k", "not an int")
		if _, ok := mustGet[int](t, r, "k"); ok {
			t.Fatal("a string read as an int")
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
			t.Fatalf("GetOrCreate over a value of another type = %d, %v", v, err)
		}
		mb := r.Backend().(*dogpile.MemoryBackend)
		for _, foreign := range []any{[]byte("raw"), "bare string", nil, 42} {
			if err := mb.SetValue(ctx, "k", foreign); err != nil {
				t.Fatal(err)
			}
			if _, ok := mustGet[int](t, r, "k"); ok {
				t.Fatalf("a value the region did not store (%#v) was read", foreign)
			}
			if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
				t.Fatalf("GetOrCreate over %#v = %d, %v", foreign, v, err)
			}
		}
	})
}

// countingCodec is a user's codec: JSON behind a marker, so that its bytes
// are its own, counting its calls.
type countingCodec struct {
	marshals, unmarshals atomic.Int32
}

const countingMarker = "MINE:"

func (c *countingCodec) Name() string { return "counting" }

func (c *countingCodec) Marshal(v any) ([]byte, error) {
	c.marshals.Add(1)
	b, err := json.Marshal(v)
	return append([]byte(countingMarker), b...), err
}

func (c *countingCodec) Unmarshal(data []byte, ptr any) error {
	c.unmarshals.Add(1)
	rest, ok := bytes.CutPrefix(data, []byte(countingMarker))
	if !ok {
		return errors.New("not mine")
	}
	return json.Unmarshal(rest, ptr)
}

func TestC4UserCodecUsedForEncodingAndDecoding(t *testing.T) {
	ctx := context.Background()
	c := &countingCodec{}
	store := newStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithCodec(c)}, dogpile.WithExpiration(time.Hour))

	want := sampleRecord{Name: "c4", Tags: []string{"x"}}
	mustSet(t, r, "k", want)
	if c.marshals.Load() != 1 {
		t.Fatalf("Set called the codec's Marshal %d times; want 1", c.marshals.Load())
	}
	raw, _ := store.raw("k")
	md, err := dogpile.InspectEntry(raw)
	if err != nil || md.Codec != "counting" || !bytes.Contains(raw, []byte(countingMarker)) {
		t.Fatalf("stored %q (%+v, %v); want the user codec's bytes under its name", raw, md, err)
	}
	got, ok := mustGet[sampleRecord](t, r, "k")
	if !ok || !recordEqual(got, want) || c.unmarshals.Load() != 1 {
		t.Fatalf("Get = %+v, %v with %d Unmarshal calls; want the value through the codec once", got, ok, c.unmarshals.Load())
	}

	// GetOrCreate and the multi-key calls use it too.
	if _, err := dogpile.GetOrCreate(ctx, r, "g", func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"m1", "m2"}, func(context.Context, []string) ([]int, error) { return []int{1, 2}, nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"g", "m1", "m2"} {
		if raw, _ := store.raw(k); !bytes.Contains(raw, []byte(countingMarker)) {
			t.Errorf("%q was not encoded by the user codec: %q", k, raw)
		}
	}
	before := c.unmarshals.Load()
	if m, err := dogpile.GetMulti[int](ctx, r, []string{"g", "m1", "m2"}); err != nil || len(m) != 3 {
		t.Fatalf("GetMulti = %v, %v", m, err)
	}
	if n := c.unmarshals.Load() - before; n != 3 {
		t.Fatalf("GetMulti of 3 called Unmarshal %d times; want 3", n)
	}

	// An entry written by another codec is not handed to this one: a miss.
	other := regionFor(t, store, nil, dogpile.WithExpiration(time.Hour)) // codec.Default
	mustSet(t, other, "d", 5)
	before = c.unmarshals.Load()
	if _, ok := mustGet[int](t, r, "d"); ok {
		t.Fatal("the user codec's region read the default codec's entry")
	}
	if c.unmarshals.Load() != before {
		t.Fatal("the user codec was handed another codec's bytes")
	}
}

// longNameCodec is JSON under a name of n bytes.
type longNameCodec struct {
	codec.Codec
	n int
}

func (c longNameCodec) Name() string { return strings.Repeat("n", c.n) }

// A codec name of up to 255 bytes, what the envelope holds, is written and
// read back; a longer one is an error on write, not entries that silently
// never read back.
func TestC4CodecNameTooLongIsAnError(t *testing.T) {
	ctx := context.Background()
	r := regionFor(t, newStore(), []dogpile.RegionOption{dogpile.WithCodec(longNameCodec{codec.JSON, 255})})
	if err := r.Set(ctx, "k", 1); err != nil {
		t.Fatalf("Set with a 255-byte codec name: %v", err)
	}
	if v, ok := mustGet[int](t, r, "k"); !ok || v != 1 {
		t.Fatalf("Get with a 255-byte codec name = %d, %v; want 1, true", v, ok)
	}
	r = regionFor(t, newStore(), []dogpile.RegionOption{dogpile.WithCodec(longNameCodec{codec.JSON, 256})})
	if err := r.Set(ctx, "k", 1); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("Set with a 256-byte codec name: err = %v; want ErrInvalidArgument", err)
	}
}

// An entry of format version 1 — the layout before entries recorded their
// type and generations — is a miss: the creator runs and replaces it.
func TestC2FormatVersion1IsAMiss(t *testing.T) {
	ctx := context.Background()
	v1 := []byte{'d', 'p', 1, 0}
	v1 = binary.BigEndian.AppendUint64(v1, uint64(time.Now().UnixNano()))
	v1 = append(v1, byte(len("default")))
	v1 = append(v1, "default"...)
	v1 = append(v1, "old value"...)
	store := newStore()
	r := regionFor(t, store, nil)
	store.put("k", v1)
	if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
		t.Fatalf("a version 1 entry was read: %q", v)
	}
	if _, err := dogpile.InspectEntry(v1); err == nil {
		t.Fatal("InspectEntry of a version 1 entry: no error")
	}
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || v != "new" {
		t.Fatalf("GetOrCreate over a version 1 entry = %q, %v", v, err)
	}
	if now, _ := store.raw("k"); now[envVersionAt] != 2 || dogpile.FormatVersion != 2 {
		t.Fatalf("the version 1 entry was replaced by version %d", now[envVersionAt])
	}
}

// A value the codec can't encode is an error from Set, SetMulti and
// GetOrCreate that names the key and wraps the codec's own error, and
// nothing is stored.
func TestUnencodableValueIsAnError(t *testing.T) {
	ctx := context.Background()
	store := newStore()
	r := regionFor(t, store, nil)
	var unsupported *json.UnsupportedTypeError
	for op, call := range map[string]func() error{
		"Set":      func() error { return r.Set(ctx, "k", make(chan int)) },
		"SetMulti": func() error { return r.SetMulti(ctx, map[string]any{"k": make(chan int)}) },
		"GetOrCreate": func() error {
			_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (chan int, error) { return make(chan int), nil })
			return err
		},
	} {
		err := call()
		if !errors.As(err, &unsupported) || !strings.Contains(err.Error(), `"k"`) {
			t.Errorf("%s of a channel = %v; want the codec's *json.UnsupportedTypeError, naming the key", op, err)
		}
	}
	if _, ok := store.raw("k"); ok {
		t.Fatal("an unencodable value was stored")
	}
}
