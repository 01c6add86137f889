package dogpile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/dogpile-go/dogpile"
)

// cfKey returns the key Cached gives a, for a function named "f".
func cfKey[A any](t *testing.T, a A) string {
	t.Helper()
	return dogpile.Cached(cfKeyRegion, func(context.Context, A) (int, error) { return 0, nil }, dogpile.FuncName("f")).Key(a)
}

var cfKeyRegion = dogpile.NewRegion() // keys need no backend

type (
	cfID    int64
	cfQuery struct {
		Lang  string
		Page  int
		Tags  []string
		Attrs map[string]int
		Owner *cfUser
	}
	cfPrivate struct {
		id   int
		name string
		at   time.Time
	}
	cfNested struct {
		U  cfUser
		B  []byte
		F  float32
		C  complex128
		OK bool
		A  [2]uint8
		P  **int
		_  int
		MS map[cfUser][]cfPrivate
	}
	cfLevel int // a marshaler over an int
	// cfPtrLevel has MarshalText on its pointer: its values render by it too.
	cfPtrLevel struct{ N int }
	// cfFlag is a marshaler over a byte: a slice of them is a list of
	// texts, not bytes.
	cfFlag uint8
)

func (f cfFlag) MarshalText() ([]byte, error) { return []byte("flag" + strconv.Itoa(int(f))), nil }

func cfFormat[A, V any](context.Context, A) (V, error) { var v V; return v, nil }

func (l *cfPtrLevel) MarshalText() ([]byte, error) { return []byte("lvl" + strconv.Itoa(l.N)), nil }

func (l cfLevel) MarshalText() ([]byte, error) {
	if l < 0 {
		return nil, errors.New("negative level")
	}
	return []byte(strings.Repeat("*", int(l))), nil
}

// cfKeyCases are arguments with the keys they must have: in this process, in
// another (TestF1KeyStableAcrossProcesses), in every build.
func cfKeyCases() []struct {
	name string
	key  func(t *testing.T) string
	want string
} {
	at := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	seven := 7
	pseven := &seven
	type kc = struct {
		name string
		key  func(t *testing.T) string
		want string
	}
	attrs := map[string]int{}
	for i := range 50 { // enough entries for map order to vary
		attrs[fmt.Sprintf("k%02d", i)] = i
	}
	var attrsWant strings.Builder
	attrsWant.WriteString("map[")
	for i := range 50 {
		if i > 0 {
			attrsWant.WriteByte(' ')
		}
		fmt.Fprintf(&attrsWant, `"k%02d":%d`, i, i)
	}
	attrsWant.WriteString("]")
	return []kc{
		// A function's name in its keys is its package's name and its own,
		// not the package's path: the same in every build and module path.
		{"function name", func(t *testing.T) string { return dogpile.Cached(cfKeyRegion, cfSquare).Key(3) }, "dogpile_test.cfSquare|3"},
		// A generic function's name has its argument type, then its value type.
		{"generic function", func(t *testing.T) string { return dogpile.Cached(cfKeyRegion, cfFormat[int, string]).Key(3) }, "dogpile_test.cfFormat[int,string]|3"},
		{"method value", func(t *testing.T) string { var c cfCounter; return dogpile.Cached(cfKeyRegion, c.fn).Key(3) }, "dogpile_test.(*cfCounter).fn-fm|3"},
		// The separator and the escape character are escaped (K3); nothing else.
		{"string", func(t *testing.T) string { return cfKey(t, "a b|c") }, "f|a b%7Cc"},
		{"string with the escape character", func(t *testing.T) string { return cfKey(t, "50%") }, "f|50%25"},
		{"int", func(t *testing.T) string { return cfKey(t, -42) }, "f|-42"},
		{"named int64", func(t *testing.T) string { return cfKey(t, cfID(1<<40)) }, "f|1099511627776"},
		{"uint8", func(t *testing.T) string { return cfKey(t, uint8(255)) }, "f|255"},
		{"uint64", func(t *testing.T) string { return cfKey(t, uint64(math.MaxUint64)) }, "f|18446744073709551615"},
		{"bool", func(t *testing.T) string { return cfKey(t, true) }, "f|true"},
		{"float64", func(t *testing.T) string { return cfKey(t, 0.1) }, "f|0.1"},
		{"float64 big", func(t *testing.T) string { return cfKey(t, 1e21) }, "f|1e+21"},
		{"float32", func(t *testing.T) string { return cfKey(t, float32(0.1)) }, "f|0.1"},
		{"NaN", func(t *testing.T) string { return cfKey(t, math.NaN()) }, "f|NaN"},
		{"time", func(t *testing.T) string { return cfKey(t, at) }, "f|2024-05-06T07:08:09.00000001Z"},
		{"netip", func(t *testing.T) string { return cfKey(t, netip.MustParseAddr("::1")) }, "f|::1"},
		{"marshaler int", func(t *testing.T) string { return cfKey(t, cfLevel(3)) }, "f|***"},
		{"struct", func(t *testing.T) string { return cfKey(t, cfUser{ID: 42, Name: "ann lee"}) }, `f|42 "ann lee"`},
		{"pointer to struct", func(t *testing.T) string { return cfKey(t, &cfUser{ID: 42, Name: "ann"}) }, `f|{42 "ann"}`},
		{"nil pointer", func(t *testing.T) string { return cfKey[*cfUser](t, nil) }, "f|nil"},
		// A pointer to a marshaler is what it points to, quoted as inside any
		// value; a nil one is nil, its MarshalText never called.
		{"pointer to marshaler", func(t *testing.T) string { return cfKey(t, &at) }, `f|"2024-05-06T07:08:09.00000001Z"`},
		{"nil pointer to marshaler", func(t *testing.T) string { return cfKey[*time.Time](t, nil) }, "f|nil"},
		{"pointer-receiver marshaler", func(t *testing.T) string { return cfKey(t, cfPtrLevel{N: 2}) }, "f|lvl2"},
		{"pointer-receiver marshalers in a slice", func(t *testing.T) string { return cfKey(t, []cfPtrLevel{{1}, {2}}) }, `f|["lvl1" "lvl2"]`},
		// A map's keys are not addressable: their unexported fields are read
		// from a copy.
		{"map with unexported-field keys", func(t *testing.T) string { return cfKey(t, map[cfPrivate]int{{id: 1, name: "x", at: at}: 2}) }, `f|map[{1 "x" "2024-05-06T07:08:09.00000001Z"}:2]`},
		{"marshalers over bytes", func(t *testing.T) string { return cfKey(t, []cfFlag{1, 2}) }, `f|["flag1" "flag2"]`},
		{"complex64", func(t *testing.T) string { return cfKey(t, []complex64{complex(0.1, -0.2)}) }, "f|[(0.1-0.2i)]"},
		// The separator and the escape character are escaped wherever they
		// are in the rendering: in a struct's strings, in a KeyFunc's text.
		{"struct with separators", func(t *testing.T) string { return cfKey(t, cfUser{ID: 1, Name: "a|b%"}) }, `f|1 "a%7Cb%25"`},
		{"KeyFunc with separators", func(t *testing.T) string {
			return dogpile.Cached(cfKeyRegion, cfGreet, dogpile.FuncName("f"), dogpile.KeyFunc(func(u cfUser) string { return u.Name })).Key(cfUser{Name: "a|b%"})
		}, "f|a%7Cb%25"},
		{"unexported fields", func(t *testing.T) string { return cfKey(t, cfPrivate{id: 1, name: "x", at: at}) }, `f|1 "x" "2024-05-06T07:08:09.00000001Z"`},
		{"slice", func(t *testing.T) string { return cfKey(t, []string{"a", "b c", `"`}) }, `f|["a" "b c" "\""]`},
		{"nil slice", func(t *testing.T) string { return cfKey[[]int](t, nil) }, "f|[]"},
		{"non-ASCII", func(t *testing.T) string { return cfKey(t, []string{"é\x00"}) }, `f|["\u00e9\x00"]`},
		{"map", func(t *testing.T) string { return cfKey(t, attrs) }, "f|" + attrsWant.String()},
		{"map int keys", func(t *testing.T) string { return cfKey(t, map[int]bool{10: true, 9: false, -1: true}) }, "f|map[-1:true 10:true 9:false]"},
		{"query", func(t *testing.T) string {
			return cfKey(t, cfQuery{Lang: "en", Page: 2, Tags: []string{"x"}, Attrs: map[string]int{"b": 2, "a": 1}, Owner: &cfUser{ID: 1}})
		}, `f|"en" 2 ["x"] map["a":1 "b":2] {1 ""}`},
		{"nested", func(t *testing.T) string {
			return cfKey(t, cfNested{
				U: cfUser{ID: 1, Name: "u"}, B: []byte("hi\n"), F: 1.5, C: complex(1, -2), OK: true, A: [2]uint8{1, 2}, P: &pseven,
				MS: map[cfUser][]cfPrivate{{ID: 2}: {{id: 3, at: at}}, {ID: 1}: nil},
			})
		}, `f|{1 "u"} "hi\n" 1.5 (1-2i) true [1 2] 7 map[{1 ""}:[] {2 ""}:[{3 "" "2024-05-06T07:08:09.00000001Z"}]]`},
	}
}

func TestF7KeyFormat(t *testing.T) {
	for _, tc := range cfKeyCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.key(t); got != tc.want {
				t.Fatalf("key\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestF1KeyStableAcrossProcesses computes every case's key in a child
// process — this test binary run again — and compares: a key must not depend
// on anything of one process (addresses, map order, hash seeds).
func TestF1KeyStableAcrossProcesses(t *testing.T) {
	cases := cfKeyCases()
	if out := os.Getenv("DOGPILE_CACHED_KEYS_OUT"); out != "" {
		keys := make([]string, len(cases))
		for i, tc := range cases {
			keys[i] = tc.key(t)
		}
		keys = append(keys, dogpile.Cached(cfKeyRegion, cfSquare).Key(3))
		b, err := json.Marshal(keys)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	out := filepath.Join(t.TempDir(), "keys.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestF1KeyStableAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DOGPILE_CACHED_KEYS_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var child []string
	if err := json.Unmarshal(b, &child); err != nil {
		t.Fatal(err)
	}
	if len(child) != len(cases)+1 {
		t.Fatalf("child computed %d keys, want %d", len(child), len(cases)+1)
	}
	for i, tc := range cases {
		if got := tc.key(t); got != child[i] {
			t.Errorf("%s: key %q here, %q in another process", tc.name, got, child[i])
		}
	}
	if got := dogpile.Cached(cfKeyRegion, cfSquare).Key(3); got != child[len(cases)] {
		t.Errorf("function key %q here, %q in another process", got, child[len(cases)])
	}
}

func TestF7EqualValuesEqualKeys(t *testing.T) {
	// Maps built in different orders, pointers at different addresses.
	a, b := map[string][]int{}, map[string][]int{}
	for i := range 100 {
		a[fmt.Sprint(i)] = []int{i}
		b[fmt.Sprint(99-i)] = []int{99 - i}
	}
	for range 20 { // map iteration order is random on every range
		if cfKey(t, a) != cfKey(t, b) {
			t.Fatal("equal maps, different keys")
		}
	}
	p1, p2 := &cfUser{ID: 1}, &cfUser{ID: 1}
	if cfKey(t, p1) != cfKey(t, p2) {
		t.Fatal("pointers to equal structs, different keys")
	}
	// NaN keys are all different map keys with the same rendering: the
	// values order them.
	nan := map[float64]int{math.NaN(): 2, math.NaN(): 1, 0: 0}
	for range 20 {
		if got := cfKey(t, nan); got != "f|map[0:0 NaN:1 NaN:2]" {
			t.Fatalf("NaN map key %q", got)
		}
	}
}

func TestF7DifferentValuesDifferentKeys(t *testing.T) {
	pairs := [][2]string{
		{cfKey(t, cfUser{ID: 1, Name: "a b"}), cfKey(t, cfUser{ID: 1, Name: "a"})},
		{cfKey(t, []string{"a b"}), cfKey(t, []string{"a", "b"})},
		{cfKey(t, []string{"a", "b"}), cfKey(t, []string{"a b"})},
		{cfKey(t, map[string]string{"a": "b:c"}), cfKey(t, map[string]string{"a:b": "c"})},
		{cfKey[*int](t, nil), cfKey(t, new(int))},
		{cfKey(t, [][]int{{1}, {2}}), cfKey(t, [][]int{{1, 2}})},
		{cfKey(t, cfPrivate{id: 1}), cfKey(t, cfPrivate{id: 2})},
	}
	for _, p := range pairs {
		if p[0] == p[1] {
			t.Errorf("two arguments share the key %q", p[0])
		}
	}
}

// TestF7FastPathMatchesReflection checks that the allocation-free rendering
// of scalar arguments is the reflective one: a one-field struct renders its
// field as the scalar alone would.
func TestF7FastPathMatchesReflection(t *testing.T) {
	type one[T any] struct{ V T }
	check := func(fast, slow string) {
		t.Helper()
		if fast != slow {
			t.Errorf("fast %q, reflective %q", fast, slow)
		}
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1e-7, 123456789.125, math.Inf(-1), math.MaxFloat64} {
		check(cfKey(t, f), cfKey(t, one[float64]{f}))
		check(cfKey(t, float32(f)), cfKey(t, one[float32]{float32(f)}))
	}
	for _, n := range []int64{0, -1, math.MinInt64, math.MaxInt64} {
		check(cfKey(t, n), cfKey(t, one[int64]{n}))
		check(cfKey(t, int(n)), cfKey(t, one[int]{int(n)}))
		check(cfKey(t, int32(n)), cfKey(t, one[int32]{int32(n)}))
		check(cfKey(t, int16(n)), cfKey(t, one[int16]{int16(n)}))
		check(cfKey(t, int8(n)), cfKey(t, one[int8]{int8(n)}))
		check(cfKey(t, cfID(n)), cfKey(t, one[cfID]{cfID(n)}))
		check(cfKey(t, uint64(n)), cfKey(t, one[uint64]{uint64(n)}))
		check(cfKey(t, uint(n)), cfKey(t, one[uint]{uint(n)}))
		check(cfKey(t, uint32(n)), cfKey(t, one[uint32]{uint32(n)}))
		check(cfKey(t, uint16(n)), cfKey(t, one[uint16]{uint16(n)}))
		check(cfKey(t, uint8(n)), cfKey(t, one[uint8]{uint8(n)}))
		check(cfKey(t, uintptr(n)), cfKey(t, one[uintptr]{uintptr(n)}))
	}
	check(cfKey(t, false), cfKey(t, one[bool]{false}))
}

type (
	cfNode    struct{ Next *cfNode }
	cfList    []cfList
	cfWithFn  struct{ F func() }
	cfDeep    struct{ M map[string][]chan int }
	cfAnyKeys struct{ M map[any]int }
)

func cfRejected[A any](t *testing.T, wantInMessage ...string) {
	t.Helper()
	err := cfPanics(t, func() {
		dogpile.Cached(cfKeyRegion, func(context.Context, A) (int, error) { return 0, nil }, dogpile.FuncName("f"))
	})
	if !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("error %v does not match ErrInvalidArgument", err)
	}
	for _, s := range append(wantInMessage, "dogpile.KeyFunc", "Cached") {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	// A KeyFunc makes any type cacheable.
	f := dogpile.Cached(cfKeyRegion, func(context.Context, A) (int, error) { return 0, nil },
		dogpile.FuncName("f"), dogpile.KeyFunc(func(A) string { return "k" }))
	var zero A
	if got := f.Key(zero); got != "f|k" {
		t.Errorf("with a KeyFunc, key %q", got)
	}
}

func TestF7UnstableTypesRejectedAtConstruction(t *testing.T) {
	cfRejected[func()](t, "func()")
	cfRejected[chan int](t, "chan int")
	cfRejected[unsafe.Pointer](t, "unsafe.Pointer")
	cfRejected[any](t, "interface")
	cfRejected[error](t, "error")
	cfRejected[cfWithFn](t, "field dogpile_test.cfWithFn.F", "func()")
	cfRejected[cfDeep](t, "cfDeep.M", "chan int")
	cfRejected[cfAnyKeys](t, "map key", "interface")
	cfRejected[*cfNode](t, "contains itself")
	cfRejected[cfList](t, "contains itself")
	cfRejected[[]fmt.Stringer](t, "fmt.Stringer")
}

func TestF7MarshalTextErrorIsReturned(t *testing.T) {
	r := cfRegion(t)
	f := dogpile.Cached(r, func(_ context.Context, l cfLevel) (int, error) { return int(l), nil }, dogpile.FuncName("lvl"))
	if _, err := f.Call(context.Background(), -1); err == nil || !strings.Contains(err.Error(), "negative level") {
		t.Fatalf("Call with an unrenderable argument: %v", err)
	}
	if _, _, err := f.Get(context.Background(), -1); err == nil {
		t.Fatal("Get with an unrenderable argument: no error")
	}
	if err := cfPanics(t, func() { f.Key(-1) }); !strings.Contains(err.Error(), "negative level") {
		t.Fatalf("Key panicked with %v", err)
	}
}

// Call stores each value under the key Key returns, whichever way the key
// is rendered (scalar, reflective, KeyFunc), separators and all: a value
// Call made is the value Get, Set and Invalidate find.
func TestCachedCallStoresUnderKey(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	byName := dogpile.KeyFunc(func(u cfUser) string { return u.Name })
	for _, tc := range []struct {
		name string
		call func() (key string, err error)
	}{
		{"string", func() (string, error) {
			f := dogpile.Cached(r, func(_ context.Context, s string) (string, error) { return s, nil }, dogpile.FuncName("str"))
			_, err := f.Call(ctx, "a|b%")
			return f.Key("a|b%"), err
		}},
		{"struct", func() (string, error) {
			f := dogpile.Cached(r, cfGreet, dogpile.FuncName("user"))
			_, err := f.Call(ctx, cfUser{ID: 1, Name: "a|b%"})
			return f.Key(cfUser{ID: 1, Name: "a|b%"}), err
		}},
		{"KeyFunc", func() (string, error) {
			f := dogpile.Cached(r, cfGreet, dogpile.FuncName("byName"), byName)
			_, err := f.Call(ctx, cfUser{Name: "a|b%"})
			return f.Key(cfUser{Name: "a|b%"}), err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := tc.call()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(key, "a%7Cb%25") {
				t.Fatalf("Key = %q, separators not escaped", key)
			}
			if _, ok, err := dogpile.Get[string](ctx, r, key); !ok || err != nil {
				t.Fatalf("nothing stored under Key %q after Call (%v)", key, err)
			}
		})
	}
}
