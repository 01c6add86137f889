package envelope

import (
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
		{Created: 5, Codec: "default", HasExpiration: true, Expiration: int64(time.Minute)},
		{Created: 5, Codec: "default", HasGens: true, Gens: Generations{Hard: 2}, HasExpiration: true, Expiration: -1},
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
			if err != nil || e.Meta != m || string(e.Payload) != "value" || e.Signed != signed || e.Version != Version {
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

// A flag this version does not know — the reserved tags bit included —
// makes an entry unreadable rather than misread.
func TestReservedFlagsAreRefused(t *testing.T) {
	m := Meta{Codec: "default"}
	for _, bit := range []byte{1 << 3, 1 << 5, 1 << 7} {
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
			if err != nil || e.Meta != m || len(e.Payload) != 0 || e.Signed != signed {
				t.Fatalf("Open(Append(%+v)) = %+v, %v", m, e, err)
			}
		}
		if _, err := Open(Append(nil, &m, []byte("x"))); !errors.Is(err, ErrNotEntry) {
			t.Fatalf("a negative entry with a payload: Open = %v; want ErrNotEntry", err)
		}
	}
}
