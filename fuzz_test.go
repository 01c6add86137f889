package dogpile_test

// Fuzz tests (CONFORMANCE RL3): the envelope decoder, decoding through a
// region, the key generator of Cached, and configuration parsing never
// panic, and each keeps a property that a plain unit test could only sample.
// `go test` runs the seeds (in f.Add and testdata/fuzz/<FuzzName>); a long
// run is
//
//	go test -run '^$' -fuzz '^FuzzRegionDecode$' -fuzztime 10m .

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
)

// fuzzEnvelope builds an entry in the documented envelope format (see
// internal/envelope), independently of the package's encoder, so that the
// fuzzers check the decoder against the format rather than against itself.
// typeName is the canonical name of the type the value claims to be of.
func fuzzEnvelope(created int64, typeName, codecName string, payload []byte, signed bool) []byte {
	return fuzzEnvelopeGens(created, typeName, codecName, nil, payload, signed)
}

// fuzzEnvelopeGens is fuzzEnvelope with generations (nil: none).
func fuzzEnvelopeGens(created int64, typeName, codecName string, gens []uint64, payload []byte, signed bool) []byte {
	b := []byte{'d', 'p', dogpile.FormatVersion, 0}
	if signed {
		b[3] |= 1
	}
	if gens != nil {
		b[3] |= 2
	}
	b = binary.BigEndian.AppendUint64(b, uint64(created))
	b = binary.BigEndian.AppendUint32(b, fuzzTypeTag(typeName))
	b = append(b, byte(len(codecName)))
	b = append(b, codecName...)
	for _, g := range gens {
		b = binary.AppendUvarint(b, g)
	}
	b = append(b, payload...)
	if signed {
		b = append(b, make([]byte, 32)...) // a signature nobody checks here
	}
	return b
}

// fuzzTypeTag is the documented type tag: FNV-1a (32 bits) of the type's
// canonical name.
func fuzzTypeTag(typeName string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(typeName))
	return h.Sum32()
}

// fuzzEntry is the format's own reading of an entry.
type fuzzEntry struct {
	created   int64
	tag       uint32
	codecName string
	gens      []uint64 // hard, soft; nil without
	tags      []string // the tags' names
	tagGens   []uint64 // each tag's hard and soft, with gens
	exp       *int64   // the entry's own expiration; nil without
	negative  bool     // a "not found": no payload
	payload   []byte
}

// fuzzOpen is the format's own reading of b: whether it is an entry, and its
// parts. It is the oracle the decoder is held to.
func fuzzOpen(b []byte) (e fuzzEntry, ok bool) {
	const header = 17
	if len(b) < header || b[0] != 'd' || b[1] != 'p' || b[2] != dogpile.FormatVersion || b[3]&^(1|2|4|8|16) != 0 {
		return e, false
	}
	n := int(b[16])
	if len(b) < header+n {
		return e, false
	}
	rest := b[header+n:]
	if b[3]&1 != 0 {
		if len(rest) < 32 {
			return e, false
		}
		rest = rest[:len(rest)-32]
	}
	var gens []uint64
	if b[3]&2 != 0 {
		for range 2 {
			g, k := binary.Uvarint(rest)
			if k <= 0 {
				return e, false
			}
			gens, rest = append(gens, g), rest[k:]
		}
	}
	var tags []string
	var tagGens []uint64
	if b[3]&8 != 0 {
		count, k := binary.Uvarint(rest)
		if k <= 0 || count == 0 {
			return e, false
		}
		rest = rest[k:]
		for range count {
			l, k := binary.Uvarint(rest)
			if k <= 0 || l > uint64(len(rest)-k) {
				return e, false
			}
			tags, rest = append(tags, string(rest[k:k+int(l)])), rest[k+int(l):]
			if gens != nil {
				for range 2 {
					g, k := binary.Uvarint(rest)
					if k <= 0 {
						return e, false
					}
					tagGens, rest = append(tagGens, g), rest[k:]
				}
			}
		}
	}
	var exp *int64
	if b[3]&16 != 0 {
		x, k := binary.Varint(rest)
		if k <= 0 {
			return e, false
		}
		exp, rest = &x, rest[k:]
	}
	negative := b[3]&4 != 0
	if negative && len(rest) != 0 {
		return e, false
	}
	return fuzzEntry{
		created:   int64(binary.BigEndian.Uint64(b[4:12])),
		tag:       binary.BigEndian.Uint32(b[12:16]),
		codecName: string(b[header : header+n]),
		gens:      gens,
		tags:      tags,
		tagGens:   tagGens,
		exp:       exp,
		negative:  negative,
		payload:   rest,
	}, true
}

// fuzzEnvelopeTagged is fuzzEnvelopeGens with tags: names, and with gens
// each tag's hard and soft generation from tagGens.
func fuzzEnvelopeTagged(created int64, typeName, codecName string, gens []uint64, tags []string, tagGens []uint64, payload []byte) []byte {
	b := fuzzEnvelopeGens(created, typeName, codecName, gens, nil, false)
	b[3] |= 8
	b = binary.AppendUvarint(b, uint64(len(tags)))
	for i, t := range tags {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
		if gens != nil {
			b = binary.AppendUvarint(b, tagGens[2*i])
			b = binary.AppendUvarint(b, tagGens[2*i+1])
		}
	}
	return append(b, payload...)
}

// FuzzInspectEntry: InspectEntry accepts exactly the byte strings that are
// entries of this format version and reports their metadata as the format
// says.
func FuzzInspectEntry(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("dp"))
	f.Add([]byte("not an entry at all"))
	f.Add(fuzzEnvelope(time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano(), "string", "default", []byte("value"), false))
	f.Add(fuzzEnvelope(-1, "map[string]int", "json", []byte(`{"a":1}`), true))
	f.Add(fuzzEnvelope(0, "int", strings.Repeat("c", 255), nil, false))
	f.Add(fuzzEnvelopeGens(1, "string", "default", []uint64{3, 1 << 40}, []byte("with generations"), false))
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'})  // signed, no room for a signature
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80}) // generations cut short
	f.Add(fuzzEnvelopeTagged(1, "string", "default", nil, []string{"user:42", ""}, nil, []byte("tagged")))
	f.Add(fuzzEnvelopeTagged(1, "string", "default", []uint64{1, 2}, []string{"org:7"}, []uint64{3, 1 << 40}, []byte("tagged, generations")))
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})         // no tags in a tag section
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 'a'}) // two tags, one there
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})            // negative
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'})       // negative with a payload
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})        // an expiration
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80})     // an expiration cut short
	f.Add([]byte{'d', 'p', dogpile.FormatVersion + 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{'d', 'p', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 'd', 'e', 'f', 'a', 'u', 'l', 't', 'v'}) // version 1
	f.Add([]byte{'d', 'p', dogpile.FormatVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 'x'})  // codec name cut short
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		md, err := dogpile.InspectEntry(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("InspectEntry modified its input")
		}
		e, ok := fuzzOpen(b)
		if ok != (err == nil) {
			t.Fatalf("InspectEntry(%q) = %+v, %v; the format says entry=%v", b, md, err, ok)
		}
		if !ok {
			return
		}
		if md.Version != dogpile.FormatVersion || md.Size != len(b) || md.Codec != e.codecName ||
			md.Created.UnixNano() != e.created || md.Signed != (b[3]&1 != 0) || md.NotFound != e.negative ||
			(e.exp == nil) != (md.Expiration == 0) {
			t.Fatalf("InspectEntry(%q) = %+v; want created %d, codec %q, size %d, signed %v",
				b, md, e.created, e.codecName, len(b), b[3]&1 != 0)
		}
	})
}

// countingObserver counts a region's events, by kind.
type countingObserver struct{ n [16]atomic.Int64 }

func (c *countingObserver) Observe(e dogpile.Event, _ time.Duration) {
	if int(e) < len(c.n) {
		c.n[e].Add(1)
	}
}

// fuzzRecord is a struct target for decoding: a typed value must come out
// of arbitrary bytes whole or not at all.
type fuzzRecord struct {
	ID    int64             `json:"id" msgpack:"id"`
	Name  string            `json:"name" msgpack:"name"`
	Tags  []string          `json:"tags" msgpack:"tags"`
	Attrs map[string]string `json:"attrs" msgpack:"attrs"`
	Next  *fuzzRecord       `json:"next" msgpack:"next"`
}

// fuzzDecodeRegion is a region on memory_serialized for FuzzRegionDecode,
// with the store it writes raw bytes into.
type fuzzDecodeRegion struct {
	r     *dogpile.Region
	store dogpile.Backend
	codec codec.Codec
	obs   *countingObserver
}

func newFuzzDecodeRegion(f *testing.F, c codec.Codec, opts ...dogpile.RegionOption) fuzzDecodeRegion {
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		f.Fatal(err)
	}
	obs := &countingObserver{}
	r, err := dogpile.NewRegion(append([]dogpile.RegionOption{dogpile.WithCodec(c), dogpile.WithObserver(obs)}, opts...)...).
		ConfigureBackend(store)
	if err != nil {
		f.Fatal(err)
	}
	return fuzzDecodeRegion{r: r, store: store, codec: c, obs: obs}
}

// fuzzDecodes reports whether c decodes payload into a T, as the oracle for
// whether a region must find the entry.
func fuzzDecodes[T any](c codec.Codec, payload []byte) bool {
	var v T
	return c.Unmarshal(bytes.Clone(payload), &v) == nil
}

// fuzzCheckGet stores b under key and checks Get[T]: no error, and a hit
// exactly when the entry is of type T (whose canonical name is typeName; ""
// for the untyped reads) and readable by the region's codec as a T.
func fuzzCheckGet[T any](t *testing.T, fr fuzzDecodeRegion, key string, b []byte, typeName string) {
	t.Helper()
	ctx := context.Background()
	if err := fr.store.Set(ctx, key, b); err != nil {
		t.Fatal(err)
	}
	_, ok, err := dogpile.Get[T](ctx, fr.r, key)
	if err != nil {
		t.Fatalf("Get[%T] of stored bytes %q: %v; undecodable bytes must be a miss, not an error", *new(T), b, err)
	}
	e, isEntry := fuzzOpen(b)
	want := isEntry && e.codecName == fr.codec.Name() && (typeName == "" || e.tag == fuzzTypeTag(typeName)) &&
		fuzzDecodes[T](fr.codec, e.payload)
	if ok != want {
		t.Fatalf("Get[%T] of %q with codec %s: hit=%v, want %v", *new(T), b, fr.codec.Name(), ok, want)
	}
}

// The canonical type names of fuzzRecord and []fuzzRecord: the package's
// import path, a dot, the name.
const (
	fuzzRecordName  = "github.com/dogpile-go/dogpile_test.fuzzRecord"
	fuzzRecordsName = "[]" + fuzzRecordName
)

// plainValue reports whether v, decoded into an interface, is made only of
// the types a codec may produce by itself: no type named by the bytes (S3).
func plainValue(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		return v.IsNil() || plainValue(v.Elem())
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return v.Type().PkgPath() == "" // builtin, not a named type from elsewhere
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if !plainValue(v.Index(i)) {
				return false
			}
		}
		return v.Type().PkgPath() == ""
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if !plainValue(it.Key()) || !plainValue(it.Value()) {
				return false
			}
		}
		return v.Type().PkgPath() == ""
	case reflect.Struct:
		return v.Type() == reflect.TypeFor[time.Time]() // a codec's timestamp
	}
	return false
}

// FuzzRegionDecode writes arbitrary bytes into a region's store and reads
// them back through the region, with each codec and as several types: a read
// never errors and never panics, it hits exactly when the bytes are an entry
// the codec decodes into that type, a hit decoded into an interface holds
// only plain data (S3), and GetOrCreate replaces what it cannot read. A
// signing region refuses every such byte string and counts it, and refuses
// its own entries once altered.
func FuzzRegionDecode(f *testing.F) {
	regions := []fuzzDecodeRegion{
		newFuzzDecodeRegion(f, codec.Default),
		newFuzzDecodeRegion(f, codec.JSON),
	}
	signed := newFuzzDecodeRegion(f, codec.Default, dogpile.WithSigning([]byte("fuzz-signing-key-0123456789abcdef")))

	f.Add([]byte{}, uint16(0))
	f.Add(fuzzEnvelope(1, "string", "default", []byte("hello"), false), uint16(20))
	f.Add(fuzzEnvelope(1, "int", "default", []byte("42"), false), uint16(3))
	f.Add(fuzzEnvelope(1, "string", "default", []byte("42"), false), uint16(3)) // a string that an int would decode
	f.Add(fuzzEnvelope(1, fuzzRecordName, "default", []byte(`{"id":7,"name":"x","tags":["a"],"attrs":{"k":"v"},"next":{"id":8}}`), false), uint16(14))
	f.Add(fuzzEnvelope(1, "map[string]int", "default", []byte(`{"id":7,"name":"x"}`), false), uint16(14)) // a fuzzRecord's JSON, of another type
	f.Add(fuzzEnvelope(1, "string", "json", []byte(`"str"`), false), uint16(13))
	f.Add(fuzzEnvelope(1, "[]interface {}", "json", []byte(`[1,2,{"a":[null,true]}]`), true), uint16(40))
	f.Add(fuzzEnvelopeGens(1, "bool", "default", []uint64{1, 2}, []byte("true"), false), uint16(9))
	f.Add(fuzzEnvelopeTagged(1, "string", "default", nil, []string{"user:42"}, nil, []byte("tagged")), uint16(30))
	f.Add(fuzzEnvelope(1, fuzzRecordsName, "default", []byte(strings.Repeat("[", 10000)), false), uint16(19))         // deep nesting
	f.Add(fuzzEnvelope(math.MinInt64, "string", "default", []byte("created at the start of time"), false), uint16(5)) // odd creation time

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, b []byte, tamper uint16) {
		const key = "fuzz"
		for _, fr := range regions {
			fuzzCheckGet[string](t, fr, key, b, "string")
			fuzzCheckGet[[]byte](t, fr, key, b, "") // untyped
			fuzzCheckGet[int](t, fr, key, b, "int")
			fuzzCheckGet[float32](t, fr, key, b, "float32")
			fuzzCheckGet[bool](t, fr, key, b, "bool")
			fuzzCheckGet[fuzzRecord](t, fr, key, b, fuzzRecordName)
			fuzzCheckGet[[]fuzzRecord](t, fr, key, b, fuzzRecordsName)
			fuzzCheckGet[map[string]int](t, fr, key, b, "map[string]int")

			if err := fr.store.Set(ctx, key, b); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := dogpile.Get[any](ctx, fr.r, key); err != nil {
				t.Fatal(err)
			} else if ok && !plainValue(reflect.ValueOf(&v).Elem()) {
				t.Fatalf("codec %s decoded %q into %#v: a type named by the stored bytes", fr.codec.Name(), b, v)
			}

			// GetOrCreate: a readable entry is the answer, anything else is
			// replaced by the creator's value, and never an error.
			e, isEntry := fuzzOpen(b)
			var want fuzzRecord
			readable := isEntry && e.codecName == fr.codec.Name() && e.tag == fuzzTypeTag(fuzzRecordName) &&
				fr.codec.Unmarshal(bytes.Clone(e.payload), &want) == nil
			created := false
			got, err := dogpile.GetOrCreate(ctx, fr.r, key, func(context.Context) (fuzzRecord, error) {
				created = true
				return fuzzRecord{ID: -1, Name: "created"}, nil
			})
			if err != nil || created == readable {
				t.Fatalf("GetOrCreate over %q with codec %s: %+v, %v (creator ran: %v, entry readable: %v)", b, fr.codec.Name(), got, err, created, readable)
			}
			if !readable {
				if v, ok, err := dogpile.Get[fuzzRecord](ctx, fr.r, key); err != nil || !ok || v.Name != "created" {
					t.Fatalf("after GetOrCreate replaced %q: Get = %+v, %v, %v", b, v, ok, err)
				}
			}
		}

		// Signing: no byte string written without the key is accepted.
		before := signed.obs.n[dogpile.EventRejected].Load()
		if err := signed.store.Set(ctx, key, b); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := dogpile.Get[string](ctx, signed.r, key); ok || err != nil {
			t.Fatalf("a signing region accepted unsigned bytes %q: %q, %v", b, v, err)
		}
		if signed.obs.n[dogpile.EventRejected].Load() != before+1 {
			t.Fatalf("refused bytes %q were not counted as rejected", b)
		}
		// Its own entry, altered in one byte, is refused as well.
		if err := signed.r.Set(ctx, key, string(b)); err != nil {
			t.Fatal(err)
		}
		own, _, _ := signed.store.Get(ctx, key)
		i := int(tamper) % len(own)
		altered := bytes.Clone(own)
		altered[i] ^= byte(tamper>>8) | 1 // never a no-op
		if err := signed.store.Set(ctx, key, altered); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := dogpile.Get[string](ctx, signed.r, key); ok || err != nil {
			t.Fatalf("a signed entry altered at byte %d was accepted: %q, %v", i, v, err)
		}
	})
}

// Argument types for FuzzCachedKey.
type (
	fuzzKeyArg struct {
		S  string
		N  int64
		U  uint8
		F  float64
		B  bool
		Bs []byte
		L  []string
		M  map[string]int
		P  *string
		T  time.Time
	}
	fuzzKeyID int32 // a named scalar: the fast path reads it through unsafe
)

// fuzzKeyFunc is a cached function for the keys of A; Cached is made once
// per type, as an application does.
func fuzzKeyFunc[A any](r *dogpile.Region) *dogpile.CachedFunc[A, int] {
	return dogpile.Cached(r, func(context.Context, A) (int, error) { return 0, nil }, dogpile.FuncName("f"))
}

// FuzzCachedKey: Cached's keys are deterministic, scalars render as the
// documented strconv forms, the fast path for scalars agrees with the
// reflective rendering, and arguments that differ get different keys —
// including the ones built to collide if the rendering did not quote or
// delimit (a list split differently, a map whose entries hold separators).
// A MarshalText failure (a time outside years 0-9999) is an error from Get,
// never a panic.
func FuzzCachedKey(f *testing.F) {
	r, err := dogpile.NewRegion().Configure("null") // Get reaches the backend after the key
	if err != nil {
		f.Fatal(err)
	}
	var (
		kArg    = fuzzKeyFunc[fuzzKeyArg](r)
		kStr    = fuzzKeyFunc[string](r)
		kInt64  = fuzzKeyFunc[int64](r)
		kArrI64 = fuzzKeyFunc[[1]int64](r)
		kID     = fuzzKeyFunc[fuzzKeyID](r)
		kArrID  = fuzzKeyFunc[[1]fuzzKeyID](r)
		kU8     = fuzzKeyFunc[uint8](r)
		kArrU8  = fuzzKeyFunc[[1]uint8](r)
		kF64    = fuzzKeyFunc[float64](r)
		kArrF64 = fuzzKeyFunc[[1]float64](r)
		kF32    = fuzzKeyFunc[float32](r)
		kArrF32 = fuzzKeyFunc[[1]float32](r)
		kBool   = fuzzKeyFunc[bool](r)
		kList   = fuzzKeyFunc[[]string](r)
		kMap    = fuzzKeyFunc[map[string]string](r)
		kPtr    = fuzzKeyFunc[*string](r)
	)
	f.Add("a b", int64(42), uint8(7), 1.5, true, []byte("raw"), int64(1700000000))
	f.Add("", int64(-1), uint8(0), math.Inf(-1), false, []byte(nil), int64(0))
	f.Add(`"quoted" \ x`, int64(math.MinInt64), uint8(255), math.NaN(), true, []byte{0, 0xff}, int64(math.MaxInt64))
	f.Add("a,b,,c", int64(0), uint8(1), math.Copysign(0, -1), false, []byte(":"), int64(-62135596801)) // year 0 minus a second
	f.Add("k:v k2:v2", int64(3), uint8(9), 1e300, true, []byte(" "), int64(253402300800))              // year 10000
	f.Add("\xff\xfe invalid utf-8 \u2028", int64(5), uint8(2), 5e-324, false, []byte("]"), int64(1))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, s string, n int64, u uint8, fl float64, b bool, raw []byte, unix int64) {
		ts := time.Unix(unix, n).UTC()
		a := fuzzKeyArg{S: s, N: n, U: u, F: fl, B: b, Bs: raw, L: strings.Split(s, ","), M: map[string]int{s: int(n), string(raw): int(u)}, P: &s, T: ts}
		_, tsErr := ts.MarshalText()

		// The whole struct: an error exactly when the time can't be
		// rendered, and then never a panic.
		_, _, err := kArg.Get(ctx, a)
		if (err != nil) != (tsErr != nil) {
			t.Fatalf("Get(%+v): %v; MarshalText of the time: %v", a, err, tsErr)
		}
		if err == nil {
			if k1, k2 := kArg.Key(a), kArg.Key(a); k1 != k2 {
				t.Fatalf("two keys for one argument: %q, %q", k1, k2)
			}
			b2 := a
			b2.L = []string{s} // the same text, not split: must differ when s has a comma
			if strings.Contains(s, ",") && kArg.Key(a) == kArg.Key(b2) {
				t.Fatalf("%q split and unsplit share the key %q", s, kArg.Key(a))
			}
		}

		// Scalars: documented forms, and the fast path agrees with the
		// reflective one (the same value inside a one-element array).
		eq := func(what, got, want string) {
			t.Helper()
			if got != want {
				t.Fatalf("%s: key %q, want %q", what, got, want)
			}
		}
		eq("string", kStr.Key(s), "f|"+s)
		eq("int64", kInt64.Key(n), "f|"+strconv.FormatInt(n, 10))
		eq("[1]int64", kArrI64.Key([1]int64{n}), "f|["+strconv.FormatInt(n, 10)+"]")
		eq("named int32", kID.Key(fuzzKeyID(n)), "f|"+strconv.FormatInt(int64(int32(n)), 10))
		eq("[1]named int32", kArrID.Key([1]fuzzKeyID{fuzzKeyID(n)}), "f|["+strconv.FormatInt(int64(int32(n)), 10)+"]")
		eq("uint8", kU8.Key(u), "f|"+strconv.FormatUint(uint64(u), 10))
		eq("[1]uint8", kArrU8.Key([1]uint8{u}), "f|["+strconv.FormatUint(uint64(u), 10)+"]")
		eq("float64", kF64.Key(fl), "f|"+strconv.FormatFloat(fl, 'g', -1, 64))
		eq("[1]float64", kArrF64.Key([1]float64{fl}), "f|["+strconv.FormatFloat(fl, 'g', -1, 64)+"]")
		eq("float32", kF32.Key(float32(fl)), "f|"+strconv.FormatFloat(float64(float32(fl)), 'g', -1, 32))
		eq("[1]float32", kArrF32.Key([1]float32{float32(fl)}), "f|["+strconv.FormatFloat(float64(float32(fl)), 'g', -1, 32)+"]")
		eq("bool", kBool.Key(b), "f|"+strconv.FormatBool(b))

		// Lists and maps: elements are quoted, so no element can pass for a
		// separator.
		parts := strings.Split(s, ",")
		if len(parts) > 1 && kList.Key(parts) == kList.Key([]string{s}) {
			t.Fatalf("list %q and [%q] share a key", parts, s)
		}
		if len(parts) > 2 && kList.Key(parts) == kList.Key([]string{parts[0], strings.Join(parts[1:], " ")}) {
			t.Fatalf("list %q and a re-split one share a key", parts)
		}
		m1 := map[string]string{s: string(raw)}
		m2 := map[string]string{s + ":" + string(raw): ""}
		if kMap.Key(m1) == kMap.Key(m2) {
			t.Fatalf("maps %q and %q share the key %q", m1, m2, kMap.Key(m1))
		}
		if kPtr.Key(&s) == kPtr.Key(nil) && s != "" {
			t.Fatalf("pointer to %q and nil share a key", s)
		}
		if kPtr.Key(&s) != "f|"+strconv.QuoteToASCII(s) {
			t.Fatalf("pointer to %q: key %q", s, kPtr.Key(&s))
		}
	})
}

// FuzzParseDuration: ParseDuration never panics, never returns a negative
// duration, and reads whole seconds as exactly that many seconds or refuses
// them: never a value that overflowed into another one.
func FuzzParseDuration(f *testing.F) {
	f.Add("10", int64(10), 1.5)
	f.Add("1h30m", int64(0), 0.0)
	f.Add(" 2.5 ", int64(-1), -0.5)
	f.Add("-5s", int64(math.MaxInt64), math.Inf(1))
	f.Add("NaN", int64(18446744074), math.NaN()) // 18446744074 s overflows into 0.29 s unless checked
	f.Add("9223372036854775807ns", int64(9223372036), 9.3e9)
	f.Add("1e400", int64(math.MinInt64), 1e-300)
	f.Fuzz(func(t *testing.T, s string, n int64, fl float64) {
		check := func(v any, d time.Duration, err error) {
			t.Helper()
			if err == nil && d < 0 {
				t.Fatalf("ParseDuration(%#v) = %v: negative", v, d)
			}
		}
		d, err := dogpile.ParseDuration(s)
		check(s, d, err)
		if err == nil {
			if f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64); ferr == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				// A number of seconds, as a string: the same as the number.
				if d2, err2 := dogpile.ParseDuration(f); err2 != nil || d2 != d {
					t.Fatalf("ParseDuration(%q) = %v but ParseDuration(%v) = %v, %v", s, d, f, d2, err2)
				}
			}
		}

		for _, v := range []any{n, int(n)} {
			d, err := dogpile.ParseDuration(v)
			check(v, d, err)
			switch {
			case n < 0:
				if err == nil {
					t.Fatalf("ParseDuration(%#v) = %v; want an error for a negative number", v, d)
				}
			case n <= math.MaxInt64/int64(time.Second):
				if err != nil || d != time.Duration(n)*time.Second {
					t.Fatalf("ParseDuration(%#v) = %v, %v; want %d seconds", v, d, err, n)
				}
			default:
				if err == nil {
					t.Fatalf("ParseDuration(%#v) = %v; %d seconds overflow a Duration, want an error", v, d, n)
				}
			}
		}

		d, err = dogpile.ParseDuration(fl)
		check(fl, d, err)
		if err == nil && (math.IsNaN(fl) || math.IsInf(fl, 0) || fl < 0 && d != 0) {
			t.Fatalf("ParseDuration(%v) = %v; want an error", fl, d)
		}
		if err == nil && fl > 0 {
			if want := fl * float64(time.Second); math.Abs(float64(d)-want) > math.Max(1, want*1e-9) {
				t.Fatalf("ParseDuration(%v) = %v (%d ns); want about %g ns", fl, d, int64(d), want)
			}
		}
	})
}

// FuzzConfigureFromMap: ConfigureFromMap on arbitrary maps never panics;
// it either configures the region as the map says (backend, expiration) or
// returns an error that names a wrong key or backend (ErrInvalidArgument,
// ErrUnknownBackend).
func FuzzConfigureFromMap(f *testing.F) {
	backends := []string{"memory", "memory_serialized", "null", "dogpile.cache.memory", "dogpile.cache.memory_pickle", ""}
	f.Add("cache.local.", uint8(0), "300", uint8(0), 300.0, "max_entries", "100", "", "false")
	f.Add("", uint8(1), "1h", uint8(1), 0.5, "max_entries", "-1", "expiration_tme", "true")
	f.Add("a.b.", uint8(2), "", uint8(2), -3.0, "bogus", "x", "other.backend", "maybe")
	f.Add("x.", uint8(6), "10m", uint8(3), math.NaN(), "", "", "arguments", "1")
	f.Add("p.", uint8(3), "forever", uint8(0), 0.0, "max_entries", "1e3", "", "")
	f.Fuzz(func(t *testing.T, prefix string, which uint8, exp string, expMode uint8, expNum float64, argName, argVal, extraKey, replace string) {
		backend := "fuzz-unknown-" + prefix
		if int(which) < len(backends) {
			backend = backends[which]
		}
		cfg := map[string]any{prefix + "backend": backend}
		var expVal any
		switch expMode % 4 {
		case 0:
			expVal = exp
		case 1:
			expVal = expNum
		case 2:
			expVal = int64(expNum)
		}
		if expVal != nil {
			cfg[prefix+"expiration_time"] = expVal
		}
		if argName != "" {
			cfg[prefix+"arguments."+argName] = argVal
		}
		if extraKey != "" {
			cfg[prefix+extraKey] = argVal
		}
		if replace != "" {
			cfg[prefix+"replace_existing_backend"] = replace
		}
		orig := make(map[string]any, len(cfg))
		for k, v := range cfg {
			orig[k] = v
		}

		r := dogpile.NewRegion()
		_, err := r.ConfigureFromMap(cfg, prefix)
		defer r.Close() // a bounded memory backend runs goroutines until closed
		if !reflect.DeepEqual(cfg, orig) && !(expMode%4 == 1 && math.IsNaN(expNum)) {
			t.Fatalf("ConfigureFromMap modified its map: %v, was %v", cfg, orig)
		}
		if err != nil {
			if !errors.Is(err, dogpile.ErrInvalidArgument) && !errors.Is(err, dogpile.ErrUnknownBackend) {
				t.Fatalf("ConfigureFromMap(%v): %v: neither ErrInvalidArgument nor ErrUnknownBackend", cfg, err)
			}
			if r.IsConfigured() {
				t.Fatalf("ConfigureFromMap(%v) failed (%v) but configured the region", cfg, err)
			}
			return
		}
		if !r.IsConfigured() {
			t.Fatalf("ConfigureFromMap(%v) succeeded but the region is not configured", cfg)
		}
		if expVal != nil {
			want, perr := dogpile.ParseDuration(expVal)
			if perr != nil {
				t.Fatalf("ConfigureFromMap(%v) accepted expiration_time %#v that ParseDuration refuses: %v", cfg, expVal, perr)
			}
			if r.Expiration() != want {
				t.Fatalf("ConfigureFromMap(%v): expiration %v, want %v", cfg, r.Expiration(), want)
			}
		} else if r.Expiration() != 0 {
			t.Fatalf("ConfigureFromMap(%v): expiration %v without expiration_time", cfg, r.Expiration())
		}
	})
}
