package argkey

import (
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// render is v's rendering by Compile, as a whole argument.
func render[T any](t *testing.T, v T) string {
	t.Helper()
	enc, err := Compile(reflect.TypeFor[T]())
	if err != nil {
		t.Fatalf("Compile(%T): %v", v, err)
	}
	b, err := enc(nil, reflect.ValueOf(&v).Elem())
	if err != nil {
		t.Fatalf("rendering %v: %v", v, err)
	}
	return string(b)
}

type pair struct {
	N int
	S string
}

// A whole argument reads like positional arguments: a string as it is, a
// struct's fields without braces. Inside a value, strings are quoted and
// structs braced, so that neighbours can't run into each other.
func TestCompileWholeArgumentVersusInnerValue(t *testing.T) {
	for _, tc := range []struct{ name, got, want string }{
		{"string", render(t, "a b"), `a b`},
		{"strings", render(t, []string{"a b"}), `["a b"]`},
		{"struct", render(t, pair{1, "x"}), `1 "x"`},
		{"structs", render(t, []pair{{1, "x"}}), `[{1 "x"}]`},
		{"pointer to struct", render(t, &pair{1, "x"}), `{1 "x"}`},
		{"time", render(t, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), `2024-01-02T03:04:05Z`},
		{"times", render(t, []time.Time{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}), `["2024-01-02T03:04:05Z"]`},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

type level int

func (l level) MarshalText() ([]byte, error) { return []byte("L"), nil }

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		t    reflect.Type
		want Kind
	}{
		{reflect.TypeFor[string](), String},
		{reflect.TypeFor[bool](), Bool},
		{reflect.TypeFor[int](), Int},
		{reflect.TypeFor[time.Duration](), Int64}, // a type defined on a scalar is that scalar
		{reflect.TypeFor[uintptr](), Uintptr},
		{reflect.TypeFor[float32](), Float32},
		{reflect.TypeFor[level](), Reflect}, // its MarshalText decides
		{reflect.TypeFor[any](), Reflect},
		{reflect.TypeFor[*int](), Reflect},
		{reflect.TypeFor[pair](), Reflect},
		{reflect.TypeFor[complex128](), Reflect},
	} {
		if got := KindOf(tc.t); got != tc.want {
			t.Errorf("KindOf(%s) = %d, want %d", tc.t, got, tc.want)
		}
	}
}

// checkScalar checks that AppendScalar renders v as Compile does, as want.
func checkScalar[T any](t *testing.T, v T, want string) {
	t.Helper()
	k := KindOf(reflect.TypeFor[T]())
	if k == Reflect {
		t.Fatalf("%T has no fast path", v)
	}
	if fast, slow := string(AppendScalar(nil, k, unsafe.Pointer(&v))), render(t, v); fast != want || slow != want {
		t.Errorf("%T %v: fast %q, reflective %q; want %q", v, v, fast, slow, want)
	}
}

// Each scalar is read at its own size and signedness: the fast path reads
// memory through unsafe, where a wrong kind reads the wrong bytes.
func TestAppendScalarIsTheReflectiveRendering(t *testing.T) {
	checkScalar(t, true, "true")
	checkScalar(t, int8(math.MinInt8), "-128")
	checkScalar(t, int16(math.MinInt16), "-32768")
	checkScalar(t, int32(math.MinInt32), "-2147483648")
	checkScalar(t, int64(math.MinInt64), "-9223372036854775808")
	checkScalar(t, -1, "-1")
	checkScalar(t, uint8(math.MaxUint8), "255")
	checkScalar(t, uint16(math.MaxUint16), "65535")
	checkScalar(t, uint32(math.MaxUint32), "4294967295")
	checkScalar(t, uint64(math.MaxUint64), "18446744073709551615")
	checkScalar(t, uint(42), "42")
	checkScalar(t, uintptr(1<<40), "1099511627776")
	checkScalar(t, float32(0.1), "0.1")
	checkScalar(t, 1e21, "1e+21")
}

func TestAppendScalarRejectsReflect(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("AppendScalar(Reflect) did not panic")
		}
	}()
	var n int
	AppendScalar(nil, Reflect, unsafe.Pointer(&n))
}
