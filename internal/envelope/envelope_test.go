package envelope

import (
	"bytes"
	"encoding/hex"
	"errors"
	"hash/fnv"
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
	for _, bit := range []byte{1 << 5, 1 << 7} {
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
