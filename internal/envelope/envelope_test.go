package envelope

import (
	"bytes"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, m := range []Meta{
		{Created: 1, Type: 7, Codec: "default"},
		{Created: -1, Type: TypeTag(reflect.TypeFor[string]()), Codec: "json", HasGens: true, Gens: Generations{Hard: 1 << 62, Soft: 3}},
		{Codec: "", HasGens: true},
		{Codec: "default", Tags: []Tag{{Name: "user:42"}, {Name: ""}, {Name: "org:7"}}},
		{Codec: "json", HasGens: true, Gens: Generations{Hard: 2}, Tags: []Tag{{Name: "user:42", Gens: Generations{Hard: 1 << 40, Soft: 9}}}},
		{Created: 5, Codec: "default", HasExpiration: true, Expiration: int64(time.Minute)},
		{Created: 5, Codec: "default", HasGens: true, Gens: Generations{Hard: 2}, HasExpiration: true, Expiration: -1},
		{Created: 5, Codec: "default", HasGens: true, Tags: []Tag{{Name: "t"}}, HasExpiration: true, Expiration: 3},
	} {
		for _, signed := range []bool{false, true} {
			b := Append(make([]byte, 0, Size(&m, 5)), &m, []byte("value"))
			if signed {
				b = Sign(b, "key", []byte("secret"))
			}
			if len(b) > Size(&m, 5) {
				t.Fatalf("entry of %d bytes; Size said %d", len(b), Size(&m, 5))
			}
			e, err := Open(b)
			if err != nil || !reflect.DeepEqual(e.Meta, m) || string(e.Payload) != "value" || e.Signed != signed || e.Version != Version {
				t.Fatalf("Open(Append(%+v)) = %+v, %v", m, e, err)
			}
			if signed {
				if err := Verify(b, "key", [][]byte{[]byte("secret")}); err != nil {
					t.Fatal(err)
				}
				// Any of the keys given verifies (a rotation's old key).
				if err := Verify(b, "key", [][]byte{[]byte("new secret"), []byte("secret")}); err != nil {
					t.Fatalf("Verify with the signing key second = %v", err)
				}
				if err := Verify(b, "other key", [][]byte{[]byte("secret")}); !errors.Is(err, ErrUnsigned) {
					t.Fatalf("Verify under another key = %v", err)
				}
			}
		}
	}
}

// A flag this version does not know makes an entry unreadable rather than
// misread.
func TestReservedFlagsAreRefused(t *testing.T) {
	m := Meta{Codec: "default"}
	for _, bit := range []byte{1 << 5, 1 << 6, 1 << 7} {
		b := Append(nil, &m, []byte("v"))
		b[3] |= bit
		if _, err := Open(b); !errors.Is(err, ErrVersion) {
			t.Fatalf("flag %#x: Open = %v; want ErrVersion", bit, err)
		}
	}
}

type (
	named          struct{ A int }
	generic[T any] struct{ V T }
)

// TypeName is the documented canonical name, and TypeTag its FNV-1a.
func TestTypeName(t *testing.T) {
	for _, c := range []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[int](), "int"},
		{reflect.TypeFor[[]byte](), "[]uint8"},
		{reflect.TypeFor[error](), "error"},
		{reflect.TypeFor[any](), "interface {}"},
		{reflect.TypeFor[time.Time](), "time.Time"},
		{reflect.TypeFor[named](), "github.com/dogpile-go/dogpile/internal/envelope.named"},
		{reflect.TypeFor[*named](), "*github.com/dogpile-go/dogpile/internal/envelope.named"},
		{reflect.TypeFor[map[string][]*named](), "map[string][]*github.com/dogpile-go/dogpile/internal/envelope.named"},
		{reflect.TypeFor[[3]time.Duration](), "[3]time.Duration"},
		{reflect.TypeFor[struct {
			ID   int `json:"id"`
			name string
			named
		}](), `struct{ID int "json:\"id\""; github.com/dogpile-go/dogpile/internal/envelope.name string; github.com/dogpile-go/dogpile/internal/envelope.named}`},
		{reflect.TypeFor[func(int, ...string) (bool, error)](), "func(int, ...string) (bool, error)"},
		{reflect.TypeFor[<-chan int](), "<-chan int"},
		{reflect.TypeFor[chan<- int](), "chan<- int"},
		{reflect.TypeFor[chan int](), "chan int"},
		{reflect.TypeFor[func(string) error](), "func(string) error"},
		{reflect.TypeFor[generic[named]](), "github.com/dogpile-go/dogpile/internal/envelope.generic[github.com/dogpile-go/dogpile/internal/envelope.named]"},
	} {
		if got := TypeName(c.t); got != c.want {
			t.Errorf("TypeName(%v) = %s; want %s", c.t, got, c.want)
		}
		h := fnv.New32a()
		h.Write([]byte(c.want))
		if got := TypeTag(c.t); got != h.Sum32() {
			t.Errorf("TypeTag(%v) = %08x; want FNV-1a of its name, %08x", c.t, got, h.Sum32())
		}
		if NameOf(TypeTag(c.t)) == "" {
			t.Errorf("NameOf(TypeTag(%v)) is empty", c.t)
		}
	}
	// The tag is computed once per type: asking again costs nothing.
	typ := reflect.TypeFor[map[string][]*named]()
	if n := testing.AllocsPerRun(10, func() { TypeTag(typ) }); n != 0 {
		t.Errorf("TypeTag of a type seen before allocates %v times, want 0", n)
	}
	if TypeTag(nil) != NilTag || NameOf(NilTag) != "nil" {
		t.Error("a nil type has no tag of its own")
	}
}

// An entry whose tag section is cut short or claims more than it holds is
// not an entry: never a panic, never a huge allocation.
func TestTruncatedTagsAreNotEntries(t *testing.T) {
	m := Meta{Codec: "c", HasGens: true, Tags: []Tag{{Name: "user:42", Gens: Generations{Hard: 300, Soft: 1}}}}
	whole := Append(nil, &m, nil) // no payload: every cut falls in the header
	for n := Header + 1; n < len(whole); n++ {
		if e, err := Open(whole[:n]); err == nil {
			t.Fatalf("Open of the first %d of %d bytes = %+v; want an error", n, len(whole), e)
		}
	}
	bogus := Append(nil, &Meta{Codec: "c"}, nil)
	bogus[3] |= flagTags
	bogus = append(bogus, 0xff, 0xff, 0xff, 0xff, 0x0f) // 2^32-1 tags in no bytes
	if _, err := Open(bogus); !errors.Is(err, ErrNotEntry) {
		t.Fatalf("Open of an entry claiming 2^32-1 tags = %v; want ErrNotEntry", err)
	}
}

// TestOpenAllocatesNothing: opening an entry of the codec read last makes
// no copy of its name, so a hit on a byte backend pays no allocation for the
// envelope; another codec's name is still read right.
func TestOpenAllocatesNothing(t *testing.T) {
	m := Meta{Created: 1, Type: 7, Codec: "default"}
	b := Append(nil, &m, []byte("value"))
	if _, err := Open(b); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if e, err := Open(b); err != nil || e.Codec != "default" {
			t.Fatal(e, err)
		}
	}); n != 0 {
		t.Errorf("Open allocates %v times, want 0", n)
	}
	other := Append(nil, &Meta{Codec: "json"}, nil)
	for _, c := range []struct {
		b    []byte
		want string
	}{{other, "json"}, {b, "default"}, {other, "json"}} {
		if e, err := Open(c.b); err != nil || e.Codec != c.want {
			t.Fatalf("Open = codec %q, %v; want %q", e.Codec, err, c.want)
		}
	}
}

// A negative entry has no payload: one with payload bytes is not an entry.
func TestNegativeEntry(t *testing.T) {
	for _, m := range []Meta{
		{Created: 9, Codec: "default", Negative: true},
		{Created: 9, Codec: "json", Negative: true, HasGens: true, Gens: Generations{Soft: 4}, HasExpiration: true, Expiration: int64(time.Second)},
	} {
		for _, signed := range []bool{false, true} {
			b := Append(nil, &m, nil)
			if signed {
				b = Sign(b, "key", []byte("secret"))
			}
			e, err := Open(b)
			if err != nil || !reflect.DeepEqual(e.Meta, m) || len(e.Payload) != 0 || e.Signed != signed {
				t.Fatalf("Open(Append(%+v)) = %+v, %v", m, e, err)
			}
		}
		if _, err := Open(Append(nil, &m, []byte("x"))); !errors.Is(err, ErrNotEntry) {
			t.Fatalf("a negative entry with a payload: Open = %v; want ErrNotEntry", err)
		}
	}
}

// Bytes that do not begin with the magic "dp" are not entries, whatever
// follows: another client's bytes that happen to look like a header after
// its first byte, or its second, are refused.
func TestForeignBytesAreNotEntries(t *testing.T) {
	whole := Append(nil, &Meta{Codec: "c"}, []byte("payload"))
	for i := range 2 {
		b := bytes.Clone(whole)
		b[i] ^= 0x20
		if e, err := Open(b); !errors.Is(err, ErrNotEntry) {
			t.Errorf("Open with magic byte %d changed = %+v, %v; want ErrNotEntry", i, e, err)
		}
	}
	for _, b := range []string{"", "d", "dp"} {
		if _, err := Open([]byte(b)); !errors.Is(err, ErrNotEntry) {
			t.Errorf("Open(%q) = %v; want ErrNotEntry", b, err)
		}
	}
}

// A signature is stable across releases: processes of two versions sharing
// a store during a rolling deploy read each other's signed entries. The
// bytes below are an entry signed by this format; a change of what is
// signed (the key, the separator after it, the entry) breaks it.
func TestSignatureIsStable(t *testing.T) {
	const want = "64700201000000000000000100000002046a736f6e2276222524e67c0c0ff01ef290786a65f988f069d05200e570ff2fc995e953cb4b28a4"
	e := Append(nil, &Meta{Created: 1, Type: 2, Codec: "json"}, []byte(`"v"`))
	if got := hex.EncodeToString(Sign(e, "user:42", []byte("secret"))); got != want {
		t.Fatalf("signed entry = %s\nwant           %s", got, want)
	}
	b, _ := hex.DecodeString(want)
	if err := Verify(b, "user:42", [][]byte{[]byte("secret")}); err != nil {
		t.Fatalf("Verify of the stored entry = %v", err)
	}
}

// An entry of another format version, older or newer, reads as ErrVersion,
// whatever follows its version byte.
func TestOtherVersionsAreRefused(t *testing.T) {
	whole := Append(nil, &Meta{Codec: "c"}, []byte("payload"))
	for _, v := range []byte{0, 1, Version + 1, 0xff} {
		for _, b := range [][]byte{bytes.Clone(whole), {'d', 'p', 0}} {
			b[2] = v
			if e, err := Open(b); !errors.Is(err, ErrVersion) {
				t.Errorf("Open of %d bytes of version %d = %+v, %v; want ErrVersion", len(b), v, e, err)
			}
		}
	}
}

// Every cut of an entry short of its end is not an entry, from the first
// byte of the header to the last of its metadata or signature: never a
// panic, never an entry read with a field missing.
func TestCutEntriesAreNotEntries(t *testing.T) {
	for _, m := range []Meta{
		{Created: 1, Type: 2, Codec: "json"},
		{Codec: "json", HasGens: true, Gens: Generations{Hard: 300, Soft: 300}},
		{Codec: "json", HasExpiration: true, Expiration: 1 << 40},
		{Codec: "json", HasGens: true, Gens: Generations{Hard: 1, Soft: 2}, Tags: []Tag{{Name: "a", Gens: Generations{Hard: 300, Soft: 300}}}, HasExpiration: true, Expiration: -1},
	} {
		whole := Append(nil, &m, nil)
		for n := 0; n < len(whole); n++ {
			if e, err := Open(whole[:n]); err == nil {
				t.Errorf("Open of the first %d of %d bytes of %+v = %+v; want an error", n, len(whole), m, e)
			}
		}
		signed := Sign(bytes.Clone(whole), "key", []byte("secret"))
		for n := 0; n < len(signed); n++ {
			if e, err := Open(signed[:n:n]); err == nil && bytes.Equal(e.Payload, nil) && reflect.DeepEqual(e.Meta, m) {
				t.Errorf("Open of the first %d of %d bytes of a signed %+v read as the whole entry", n, len(signed), m)
			}
			if err := Verify(signed[:n:n], "key", [][]byte{[]byte("secret")}); err == nil {
				t.Errorf("Verify of the first %d of %d bytes of a signed entry succeeded", n, len(signed))
			}
		}
	}
	// A signed entry too short to hold a signature after its codec name.
	b := Append(nil, &Meta{Codec: "c"}, make([]byte, MACSize-1))
	b[3] |= flagSigned
	if e, err := Open(b); !errors.Is(err, ErrNotEntry) {
		t.Errorf("Open of a signed entry with %d bytes after its header = %+v, %v; want ErrNotEntry", MACSize-1, e, err)
	}
}

// The smallest entry, a header with an empty codec name and nothing else,
// is an entry; and a section that ends exactly where the entry does (a
// tag's name, a tag of an empty name) is read whole.
func TestEntriesEndingAtTheirLastField(t *testing.T) {
	for _, m := range []Meta{
		{Created: 3, Type: 4},
		{Codec: "c", Tags: []Tag{{Name: ""}}},
		{Codec: "c", Tags: []Tag{{Name: "user:42"}}},
		{Codec: "c", Tags: []Tag{{Name: "a"}, {Name: ""}}},
	} {
		b := Append(nil, &m, nil)
		e, err := Open(b[:len(b):len(b)])
		if err != nil || !reflect.DeepEqual(e.Meta, m) || len(e.Payload) != 0 {
			t.Errorf("Open(Append(%+v)) = %+v, %v", m, e, err)
		}
	}
}

// A tag section that lists no tag, or fewer tags than it counts, is not an
// entry: the writer never leaves one, so it is corrupt.
func TestMalformedTagSectionsAreNotEntries(t *testing.T) {
	for _, section := range [][]byte{
		{0},         // no tag
		{2, 1, 'a'}, // two tags counted, one written
	} {
		b := Append(nil, &Meta{Codec: "c"}, section)
		b[3] |= flagTags
		if e, err := Open(b); !errors.Is(err, ErrNotEntry) {
			t.Errorf("Open of a tag section % x = %+v, %v; want ErrNotEntry", section, e, err)
		}
	}
}

// Size bounds the entry Append writes however large its numbers and however
// many its tags: it is the capacity that spares Append a reallocation.
func TestSizeBoundsLargestEntries(t *testing.T) {
	most := Generations{Hard: math.MaxUint64, Soft: math.MaxUint64}
	var many []Tag
	for range 20 {
		many = append(many, Tag{Name: "t", Gens: most})
	}
	for _, m := range []Meta{
		{Created: -1, Type: math.MaxUint32, Codec: "default", HasGens: true, Gens: most, HasExpiration: true, Expiration: math.MinInt64},
		{Codec: "c", Tags: many},
		{Codec: "c", HasGens: true, Gens: most, Tags: many},
		{Codec: "c", HasGens: true, Gens: most, Tags: many, HasExpiration: true, Expiration: math.MaxInt64},
	} {
		b := Sign(Append(nil, &m, []byte("v")), "key", []byte("secret"))
		if len(b) > Size(&m, 1) {
			t.Errorf("signed entry of %d bytes; Size said %d for %+v", len(b), Size(&m, 1), m)
		}
	}
}

// Verify accepts only entries marked signed and long enough to carry a
// signature: an unmarked entry followed by a valid signature is refused,
// and bytes too short to be a signed entry are refused without a panic.
func TestVerifyRefusesUnmarkedAndShortEntries(t *testing.T) {
	secret := [][]byte{[]byte("secret")}
	unmarked := Append(nil, &Meta{Codec: "c"}, []byte("v"))
	unmarked = append(unmarked, mac(secret[0], "key", unmarked)...)
	if err := Verify(unmarked, "key", secret); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Verify of an entry not marked signed = %v; want ErrUnsigned", err)
	}
	for _, b := range [][]byte{nil, []byte("dp"), {'d', 'p', Version, flagSigned}, Sign(Append(nil, &Meta{}, nil), "key", secret[0])[:Header+MACSize-1]} {
		if err := Verify(b, "key", secret); !errors.Is(err, ErrUnsigned) {
			t.Errorf("Verify of %d bytes = %v; want ErrUnsigned", len(b), err)
		}
	}
}
