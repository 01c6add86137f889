package codec_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dogpile-go/dogpile/codec"
)

// lengthNamed is a codec of any name.
type lengthNamed struct {
	codec.Codec
	name string
}

func (c lengthNamed) Name() string { return c.name }

// registerLongestName registers a codec under a name of 255 bytes once per
// process (the registry is global; -count runs a test again).
var registerLongestName = sync.OnceValue(func() error {
	return codec.Register(lengthNamed{codec.JSON, strings.Repeat("l", 255)})
})

// A codec's name, which every entry carries in one length byte, is 1 to
// 255 bytes: Register refuses others, and registers nothing.
func TestRegisterNameLength(t *testing.T) {
	if err := registerLongestName(); err != nil {
		t.Errorf("a name of 255 bytes: %v", err)
	}
	for _, name := range []string{"", strings.Repeat("m", 256)} {
		if err := codec.Register(lengthNamed{codec.JSON, name}); err == nil {
			t.Errorf("a name of %d bytes registered", len(name))
		}
		if _, err := codec.Lookup(name); err == nil {
			t.Errorf("a name of %d bytes is found", len(name))
		}
	}
}

// RegisterCompression needs a name and a function, and registers nothing
// without either.
func TestRegisterCompressionNeedsANameAndAFunction(t *testing.T) {
	identity := func(inner codec.Codec, _ int) (codec.Codec, error) { return inner, nil }
	if err := codec.RegisterCompression("", identity); err == nil {
		t.Error("a compression without a name registered")
	}
	if _, err := codec.LookupCompression(""); err == nil {
		t.Error("a compression without a name is found")
	}
	if err := codec.RegisterCompression("test-nil-compression", nil); err == nil {
		t.Error("a nil compression registered")
	}
	if _, err := codec.LookupCompression("test-nil-compression"); err == nil {
		t.Error("a nil compression is found")
	}
}

// registerSortNames registers codecs in an order other than their names',
// once per process.
var registerSortNames = sync.OnceValue(func() error {
	for _, n := range []string{"sort-h", "sort-b", "sort-f", "sort-a", "sort-g", "sort-c", "sort-e", "sort-d"} {
		if err := codec.Register(lengthNamed{codec.JSON, n}); err != nil {
			return err
		}
	}
	return nil
})

// Names, and the list in the error for an unknown name, are sorted, so that
// a message is the same from one run to the next.
func TestNamesAreSorted(t *testing.T) {
	if err := registerSortNames(); err != nil {
		t.Fatal(err)
	}
	names := codec.Names()
	if !slices.IsSorted(names) || !slices.Contains(names, "sort-a") {
		t.Errorf("Names() = %v; want every name, sorted", names)
	}
	_, err := codec.Lookup("cbor")
	if want := "(registered: " + strings.Join(names, ", ") + ")"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Lookup of an unknown name: %v; want it to say %s", err, want)
	}
}
