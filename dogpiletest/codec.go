package dogpiletest

import (
	"context"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
)

// TestCodec runs the conformance suite for a codec: values of the kinds users
// cache (strings, numbers, booleans, structs, pointers, slices, maps) round
// trip through a region that stores bytes; a decoded value does not alias the
// bytes it came from; garbage never makes Unmarshal panic; the name is one an
// entry can carry (1–255 bytes).
//
//	func TestConformance(t *testing.T) {
//		dogpiletest.TestCodec(t, mycodec.Codec)
//	}
func TestCodec(t *testing.T, c codec.Codec) {
	t.Run("Name", func(t *testing.T) {
		if n := c.Name(); n == "" || len(n) > 255 {
			t.Errorf("codec name %q: want 1–255 bytes", n)
		}
	})
	t.Run("RegionRoundTrip", func(t *testing.T) { testCodecRegion(t, c) })
	t.Run("DoesNotKeepData", func(t *testing.T) { testCodecCopies(t, c) })
	t.Run("NeverPanicsOnGarbage", func(t *testing.T) { testCodecGarbage(t, c) })
}

type codecPoint struct{ X, Y int }

type codecRecord struct {
	Name   string
	Age    int
	Score  float64
	Admin  bool
	Tags   []string
	Attrs  map[string]string
	Origin codecPoint
	Next   *codecPoint
}

// codecCase stores one value through a region and reads it back as its type.
type codecCase struct {
	name  string
	check func(t *testing.T, r *dogpile.Region, key string)
}

func caseOf[T any](name string, v T, equal func(a, b T) bool) codecCase {
	return codecCase{name: name, check: func(t *testing.T, r *dogpile.Region, key string) {
		ctx := context.Background()
		if err := r.Set(ctx, key, v); err != nil {
			t.Fatalf("Set(%#v): %v", v, err)
		}
		got, ok, err := dogpile.Get[T](ctx, r, key)
		if err != nil || !ok {
			t.Fatalf("Get after Set(%#v) = %v, %v", v, ok, err)
		}
		if !equal(got, v) {
			t.Errorf("round trip of %#v gave %#v", v, got)
		}
	}}
}

func same[T comparable](a, b T) bool { return a == b }

func testCodecRegion(t *testing.T, c codec.Codec) {
	r, err := dogpile.NewRegion(dogpile.WithCodec(c)).Configure("memory_serialized", dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cases := []codecCase{
		caseOf("string", "héllo, wörld ✓", same[string]),
		caseOf("empty string", "", same[string]),
		caseOf("int", -42, same[int]),
		caseOf("int64", int64(1)<<60+7, same[int64]),
		caseOf("min int64", int64(math.MinInt64), same[int64]),
		caseOf("uint64", uint64(math.MaxUint64), same[uint64]),
		caseOf("uint32", uint32(4000000000), same[uint32]),
		caseOf("float64", 3.141592653589793, same[float64]),
		caseOf("float64 fraction", 0.1, same[float64]),
		caseOf("float32", float32(2.5), same[float32]),
		caseOf("bool", true, same[bool]),
		caseOf("struct", codecRecord{Name: "ann", Age: 37, Score: 9.5, Admin: true, Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"}, Origin: codecPoint{1, -2}, Next: &codecPoint{3, 4}},
			func(a, b codecRecord) bool {
				return a.Name == b.Name && a.Age == b.Age && a.Score == b.Score && a.Admin == b.Admin && slices.Equal(a.Tags, b.Tags) &&
					maps.Equal(a.Attrs, b.Attrs) && a.Origin == b.Origin && a.Next != nil && *a.Next == *b.Next
			}),
		caseOf("pointer to struct", &codecPoint{3, 4}, func(a, b *codecPoint) bool { return a != nil && *a == *b }),
		caseOf("[]string", []string{"x", "", "z"}, slices.Equal[[]string]),
		caseOf("[]int", []int{1, -2, 3}, slices.Equal[[]int]),
		caseOf("[]byte", []byte{0, 1, 2, 0xff}, slices.Equal[[]byte]),
		caseOf("[]struct", []codecPoint{{1, 2}, {3, 4}}, slices.Equal[[]codecPoint]),
		caseOf("map[string]int", map[string]int{"a": 1, "b": -2}, maps.Equal[map[string]int]),
		caseOf("map[string]struct", map[string]codecPoint{"o": {0, 0}, "p": {5, 6}}, maps.Equal[map[string]codecPoint]),
	}
	prefix := "dogpiletest-" + randomHex(6) + "-"
	for i, cc := range cases {
		t.Run(cc.name, func(t *testing.T) { cc.check(t, r, fmt.Sprintf("%s%d", prefix, i)) })
	}
}

func testCodecCopies(t *testing.T, c codec.Codec) {
	// Unmarshal must not keep the bytes it is given: a backend may reuse its
	// buffer.
	for _, v := range []any{"text", []byte("bytes"), []string{"in", "a", "slice"}} {
		b, err := c.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		ptr := reflect.New(reflect.TypeOf(v))
		if err := c.Unmarshal(b, ptr.Interface()); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 'X'
		}
		if got := ptr.Elem().Interface(); !reflect.DeepEqual(got, v) {
			t.Errorf("the decoded %#v changed to %#v when its bytes were overwritten", v, got)
		}
	}
}

func testCodecGarbage(t *testing.T, c codec.Codec) {
	garbage := [][]byte{nil, {}, {0xc1}, {0xff, 0xff, 0xff}, []byte("{"), {0xdc, 0xff, 0xff}, {0x92, 0x01}, {0xdd, 0xff, 0xff, 0xff, 0xff}}
	targets := func() []any {
		return []any{new(string), new(int), new(float64), new(bool), new(codecRecord), new([]int), new(map[string]int), new([]byte)}
	}
	for _, g := range garbage {
		for _, p := range targets() {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("Unmarshal(%q) into %T panicked: %v", g, p, r)
					}
				}()
				_ = c.Unmarshal(g, p)
			}()
		}
	}
}
