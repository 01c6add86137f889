package codec_test

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/dogpiletest"
)

type inner struct {
	A int
	B []string
}

type outer struct {
	Name  string
	Score float64
	On    bool
	In    inner
	Ptr   *inner
	Map   map[string]int
}

// roundTrip encodes v with c and decodes it into a new value of v's type.
func roundTrip(t *testing.T, c codec.Codec, v any) any {
	t.Helper()
	b, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("%s: Marshal(%#v): %v", c.Name(), v, err)
	}
	ptr := reflect.New(reflect.TypeOf(v))
	if err := c.Unmarshal(b, ptr.Interface()); err != nil {
		t.Fatalf("%s: Unmarshal of %#v (%q): %v", c.Name(), v, b, err)
	}
	return ptr.Elem().Interface()
}

func TestCodecsRoundTrip(t *testing.T) {
	values := []any{
		"text", "", "ünïcode ✓", -1, 0, math.MaxInt64, int64(math.MinInt64), int32(-7), uint(7), uint64(math.MaxUint64), uint32(9),
		int8(-8), uint16(16), 0.1, -2.5e-300, math.MaxFloat64, float32(1.25), true, false,
		[]byte{}, []byte{0, 1, 255},
		[]string{"a", "b"}, []int{3, 2, 1}, map[string]int{"x": 1},
		map[string]any{"s": "v", "b": true},
		outer{Name: "n", Score: 1.5, On: true, In: inner{1, []string{"z"}}, Ptr: &inner{A: 2}, Map: map[string]int{"k": 3}},
	}
	for _, c := range []codec.Codec{codec.Default, codec.JSON} {
		t.Run(c.Name(), func(t *testing.T) {
			for _, v := range values {
				got := roundTrip(t, c, v)
				if !reflect.DeepEqual(got, v) {
					// JSON and msgpack give back []byte{} as empty or nil alike.
					if b, ok := v.([]byte); ok && len(b) == 0 && reflect.ValueOf(got).Len() == 0 {
						continue
					}
					// map[string]any: numbers and nested types follow the
					// format; compare what survives any format.
					if _, ok := v.(map[string]any); ok {
						m := got.(map[string]any)
						if m["s"] == "v" && m["b"] == true {
							continue
						}
					}
					t.Errorf("%s: %#v round-tripped to %#v", c.Name(), v, got)
				}
			}
		})
	}
}

func TestCodecNames(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range []codec.Codec{codec.Default, codec.JSON} {
		n := c.Name()
		if n == "" || len(n) > 255 || seen[n] {
			t.Errorf("codec name %q: want a unique name of 1–255 bytes", n)
		}
		seen[n] = true
	}
}

func TestDefaultCodecForm(t *testing.T) {
	// Strings and byte slices as they are, scalars in text, the rest JSON: a
	// person can read what it wrote.
	for _, c := range []struct {
		v    any
		want string
	}{
		{"plain", "plain"},
		{"\xff\x00binary", "\xff\x00binary"},
		{[]byte("raw"), "raw"},
		{42, "42"},
		{int64(-9), "-9"},
		{uint64(1 << 63), "9223372036854775808"},
		{true, "true"},
		{2.5, "2.5"},
		{float32(0.1), "0.1"},
		{[2]int{1, 2}, "[1,2]"},
		{inner{A: 1}, `{"A":1,"B":null}`},
		{math.Inf(1), "+Inf"},
	} {
		b, err := codec.Default.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("Default.Marshal(%#v) = %q, %v; want %q", c.v, b, err, c.want)
		}
	}
	// Floats JSON can't hold still round-trip.
	for _, f := range []float64{math.Inf(1), math.Inf(-1)} {
		if got := roundTrip(t, codec.Default, f); got != f {
			t.Errorf("Default round trip of %v = %v", f, got)
		}
	}
	if got := roundTrip(t, codec.Default, math.NaN()).(float64); !math.IsNaN(got) {
		t.Errorf("Default round trip of NaN = %v", got)
	}
	// A Go string of any bytes round-trips.
	if got := roundTrip(t, codec.Default, "\xff\xfe"); got != "\xff\xfe" {
		t.Errorf("Default round trip of a non-UTF-8 string = %q", got)
	}
}

func TestDefaultCodecRejectsWrongBytes(t *testing.T) {
	for _, c := range []struct {
		data string
		ptr  any
	}{
		{"abc", new(int)},
		{"1.5", new(int)},
		{"99999999999", new(int32)},
		{"-1", new(uint)},
		{"1e40", new(float32)},
		{"yes please", new(bool)},
		{"x", new(float64)},
		{"{not json", new(inner)},
		{`"str"`, new([]int)},
	} {
		if err := codec.Default.Unmarshal([]byte(c.data), c.ptr); err == nil {
			t.Errorf("Default.Unmarshal(%q) into %T: no error", c.data, c.ptr)
		}
	}
}

func TestConformance(t *testing.T) {
	for _, c := range []codec.Codec{codec.Default, codec.JSON} {
		t.Run(c.Name(), func(t *testing.T) { dogpiletest.TestCodec(t, c) })
	}
}

func TestDefaultMarshalDoesNotAlias(t *testing.T) {
	src := []byte("abc")
	b, _ := codec.Default.Marshal(src)
	src[0] = 'X'
	if string(b) != "abc" {
		t.Errorf("Default.Marshal aliases its []byte: %q", b)
	}
}

type namedCodec struct{ codec.Codec }

func (namedCodec) Name() string { return "test-registered" }

// Codecs are found by name, as configuration files name them; one that lives
// in a package of its own is registered by importing it, and the error for
// it says so.
// registerTestCodec registers namedCodec once per process: the registry is
// global, and a test run again (-count) finds its name taken.
var registerTestCodec = sync.OnceValue(func() error { return codec.Register(namedCodec{codec.JSON}) })

func TestRegistry(t *testing.T) {
	for name, want := range map[string]codec.Codec{"default": codec.Default, "json": codec.JSON} {
		if c, err := codec.Lookup(name); err != nil || c != want {
			t.Errorf("Lookup(%q) = %v, %v", name, c, err)
		}
	}
	c := namedCodec{codec.JSON}
	if err := registerTestCodec(); err != nil {
		t.Fatal(err)
	}
	if got, err := codec.Lookup("test-registered"); err != nil || got != codec.Codec(c) {
		t.Errorf("Lookup of a registered codec = %v, %v", got, err)
	}
	if err := codec.Register(c); !errors.Is(err, codec.ErrDuplicate) || !strings.Contains(err.Error(), "test-registered") {
		t.Errorf("registering a name twice: %v; want ErrDuplicate naming it", err)
	}
	if err := codec.Register(nil); err == nil {
		t.Error("registering nil is not an error")
	}
	if !slices.Contains(codec.Names(), "test-registered") {
		t.Errorf("Names() = %v", codec.Names())
	}
}

// registerTestCompression registers a compression once per process, as
// registerTestCodec does a codec.
var registerTestCompression = sync.OnceValue(func() error {
	return codec.RegisterCompression("test-compression", func(inner codec.Codec, _ int) (codec.Codec, error) { return inner, nil })
})

func TestRegisterCompressionTwice(t *testing.T) {
	if err := registerTestCompression(); err != nil {
		t.Fatal(err)
	}
	if _, err := codec.LookupCompression("test-compression"); err != nil {
		t.Errorf("LookupCompression of a registered compression: %v", err)
	}
	err := codec.RegisterCompression("test-compression", func(inner codec.Codec, _ int) (codec.Codec, error) { return inner, nil })
	if !errors.Is(err, codec.ErrDuplicate) || !strings.Contains(err.Error(), "test-compression") {
		t.Errorf("registering a compression twice: %v; want ErrDuplicate naming it", err)
	}
}

// A name nothing is registered under is an error matching ErrUnknown that
// says which package to import for this project's own names, and lists the
// registered names otherwise.
func TestLookupUnknown(t *testing.T) {
	if err := registerTestCompression(); err != nil {
		t.Fatal(err)
	}
	lookupCodec := func(name string) error { _, err := codec.Lookup(name); return err }
	lookupCompression := func(name string) error { _, err := codec.LookupCompression(name); return err }
	for _, c := range []struct {
		lookup     func(string) error
		name, want string
	}{
		{lookupCodec, "msgpack", `codec "msgpack": import _ "github.com/dogpile-go/dogpile/codec/msgpack" to register it`},
		{lookupCodec, "cbor", `codec "cbor" (registered: default, json`},
		{lookupCompression, "s2", `compression "s2": import _ "github.com/dogpile-go/dogpile/codec/compress" to register it`},
		{lookupCompression, "lz4", `compression "lz4" (registered: test-compression)`},
	} {
		if err := c.lookup(c.name); !errors.Is(err, codec.ErrUnknown) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("lookup of %q: %v; want ErrUnknown saying %s", c.name, err, c.want)
		}
	}
}
