package msgpack

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// TestRL3DeclaredLengthBeyondData: an entry that declares more elements or
// bytes than it holds is refused before anything is allocated for it — the
// five-byte array32 header below made msgpack v5.4.1 allocate 256 GiB for a
// []struct and kill the process.
func TestRL3DeclaredLengthBeyondData(t *testing.T) {
	type rec struct {
		ID   int64
		Name string
		Tags []string
	}
	bad := map[string][]byte{
		"array32 of 4G":          {0xdd, 0xff, 0xff, 0xff, 0xff},
		"array16 of 65535":       {0xdc, 0xff, 0xff, 0x01},
		"map32 of 4G":            {0xdf, 0xff, 0xff, 0xff, 0xff},
		"fixarray of 3 with 2":   {0x93, 0x01, 0x02},
		"str32 of 4G":            {0xdb, 0xff, 0xff, 0xff, 0xff, 'x'},
		"bin8 of 5 with 1":       {0xc4, 0x05, 0x00},
		"nested array32":         {0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x00},
		"fixmap missing a value": {0x81, 0xa1, 'k'},
		"ext32 of 4G":            {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},
		"empty":                  {},
		"never-used code 0xc1":   {0xc1},
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			for _, ptr := range []any{new([]rec), new([]int64), new([]any), new(any), new(map[string][]byte), new(rec), new(string)} {
				if err := Codec.Unmarshal(data, ptr); err == nil {
					t.Errorf("Unmarshal(% x, %T) = nil; want an error", data, ptr)
				}
			}
			if err := checkLengths(data); err == nil {
				t.Errorf("checkLengths(% x) = nil; want an error", data)
			}
		})
	}
	if err := checkLengths(bad["array32 of 4G"]); !errors.Is(err, errTruncated) {
		t.Errorf("checkLengths of a short array32: %v; want errTruncated", err)
	}
}

// TestRL3LengthCheckAcceptsEveryEncoding: the check refuses nothing the
// library writes, for every kind of value, with trailing bytes allowed as
// the library allows them.
func TestRL3LengthCheckAcceptsEveryEncoding(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 70000) // bin32, str32
	longList := make([]int, 70000)        // array32
	longMap := map[int]bool{}             // map32
	for i := range 70000 {
		longMap[i] = i%2 == 0
	}
	values := []any{
		nil, true, false, 0, 1, -1, -33, 127, 128, 255, 256, 65535, 65536, 1 << 40, -1 << 40,
		uint64(1<<64 - 1), int8(-128), float32(1.5), 2.25,
		"", "fix", string(big[:40]), string(big[:300]), string(big),
		[]byte{}, big[:10], big[:300], big,
		[]int{1, 2, 3}, make([]int, 20), longList,
		map[string]int{"a": 1}, map[string]any{"n": map[string]any{"m": []any{1, "x", nil}}}, longMap,
		time.Unix(1, 0), time.Unix(1<<33, 5), time.Unix(1<<40, 7).UTC(),
		struct {
			A int
			B []string
			C map[string][]byte
		}{1, []string{"x", "y"}, map[string][]byte{"k": {1, 2}}},
	}
	for _, v := range values {
		data, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkLengths(data); err != nil {
			t.Errorf("checkLengths(Marshal(%T)) = %v", v, err)
		}
		if err := checkLengths(append(data, 0xc1, 0xdd)); err != nil { // after the value: not read
			t.Errorf("checkLengths(Marshal(%T) + trailing bytes) = %v", v, err)
		}
		// And the codec decodes it as the library does.
		ptr := any(new(any))
		if v != nil {
			ptr = reflect.New(reflect.TypeOf(v)).Interface()
		}
		if err := Codec.Unmarshal(data, ptr); err != nil {
			t.Errorf("Unmarshal(Marshal(%T)): %v", v, err)
		}
	}
	// Extensions of every fixed and variable size.
	for _, data := range [][]byte{
		{0xd4, 0x01, 0x00}, {0xd5, 0x01, 0, 0}, {0xd6, 0x01, 0, 0, 0, 0}, {0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 0},
		append([]byte{0xd8, 0x01}, make([]byte, 16)...), {0xc7, 0x02, 0x01, 0, 0}, {0xc8, 0, 2, 0x01, 0, 0}, {0xc9, 0, 0, 0, 2, 0x01, 0, 0},
	} {
		if err := checkLengths(data); err != nil {
			t.Errorf("checkLengths(% x) = %v", data, err)
		}
	}
}

// TestRL3EveryHeaderIsMeasured: for a value of every MessagePack type the
// check reads the header's length or size as the format defines it: it
// accepts the value and refuses every prefix of it as truncated. A header
// read one byte short or long, or a container whose elements are not all
// counted, accepts a prefix that a decoder would then allocate for.
func TestRL3EveryHeaderIsMeasured(t *testing.T) {
	n := func(b byte, k int) []byte { return bytes.Repeat([]byte{b}, k) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for name, data := range map[string][]byte{
		"positive fixint":  {0x05},
		"negative fixint":  {0xe0},
		"nil, false, true": {0x93, 0xc0, 0xc2, 0xc3},
		"fixmap":           {0x82, 0x01, 0x02, 0x03, 0x04},
		"fixmap of 15":     cat([]byte{0x8f}, n(0x01, 30)),
		"fixarray":         {0x93, 0x01, 0x02, 0x03},
		"fixarray of 15":   cat([]byte{0x9f}, n(0x01, 15)),
		"fixstr of 31":     cat([]byte{0xbf}, n('x', 31)),
		"bin8":             {0xc4, 0x03, 'x', 'y', 'z'},
		"bin16":            {0xc5, 0x00, 0x03, 'x', 'y', 'z'},
		"bin32":            {0xc6, 0x00, 0x00, 0x00, 0x03, 'x', 'y', 'z'},
		"str8":             {0xd9, 0x03, 'x', 'y', 'z'},
		"str16 of 256":     cat([]byte{0xda, 0x01, 0x00}, n('x', 256)),
		"str32 of 65536":   cat([]byte{0xdb, 0x00, 0x01, 0x00, 0x00}, n('x', 65536)),
		"ext8":             {0xc7, 0x02, 0x01, 0xaa, 0xbb},
		"ext16":            {0xc8, 0x00, 0x02, 0x01, 0xaa, 0xbb},
		"ext32":            {0xc9, 0x00, 0x00, 0x00, 0x02, 0x01, 0xaa, 0xbb},
		"float32":          cat([]byte{0xca}, n(0, 4)),
		"float64":          cat([]byte{0xcb}, n(0, 8)),
		"uint8":            {0xcc, 0xff},
		"uint16":           {0xcd, 0xff, 0xff},
		"uint32":           cat([]byte{0xce}, n(0xff, 4)),
		"uint64":           cat([]byte{0xcf}, n(0xff, 8)),
		"int8":             {0xd0, 0x80},
		"int16":            {0xd1, 0x80, 0x00},
		"int32":            cat([]byte{0xd2}, n(0x80, 4)),
		"int64":            cat([]byte{0xd3}, n(0x80, 8)),
		"fixext1":          {0xd4, 0x01, 0xaa},
		"fixext2":          {0xd5, 0x01, 0xaa, 0xbb},
		"fixext4":          cat([]byte{0xd6, 0x01}, n(0xaa, 4)),
		"fixext8":          cat([]byte{0xd7, 0x01}, n(0xaa, 8)),
		"fixext16":         cat([]byte{0xd8, 0x01}, n(0xaa, 16)),
		"array16":          {0xdc, 0x00, 0x02, 0x01, 0x02},
		"array16 of 256":   cat([]byte{0xdc, 0x01, 0x00}, n(0x01, 256)),
		"array32":          {0xdd, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02},
		"array32 of 65536": cat([]byte{0xdd, 0x00, 0x01, 0x00, 0x00}, n(0x01, 65536)),
		"map16":            {0xde, 0x00, 0x02, 0x01, 0x02, 0x03, 0x04},
		"map32":            {0xdf, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02, 0x03, 0x04},
		"nested":           {0x92, 0x91, 0xa1, 'x', 0x81, 0xc4, 0x01, 'k', 0x90},
	} {
		t.Run(name, func(t *testing.T) {
			if err := checkLengths(data); err != nil {
				t.Fatalf("checkLengths(% x) = %v", data, err)
			}
			for i := range len(data) {
				if err := checkLengths(data[:i]); !errors.Is(err, errTruncated) {
					t.Fatalf("checkLengths of the first %d of %d bytes = %v, want errTruncated", i, len(data), err)
				}
			}
		})
	}
}
