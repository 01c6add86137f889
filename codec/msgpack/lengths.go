package msgpack

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errTruncated is returned for data that ends before the value it starts.
var errTruncated = errors.New("msgpack: data ends inside a value")

// checkLengths walks the first MessagePack value in data and refuses it if
// any array, map, string, binary or extension declares more content than
// data holds. Every element takes at least one byte, so after this check a
// decoder can allocate at most one element per byte of input.
//
// Why it exists: vmihailenco/msgpack v5.4.0 and v5.4.1 allocate a typed
// slice of the declared length before reading its elements, without the
// library's own limit (decode_slice.go compares its flag with 1 instead of
// 0; upstream issue #401). A five-byte cache entry, 0xdd ff ff ff ff, then
// makes the process allocate tens of gigabytes and die: a poisoned cache
// must not take an application down. Found by FuzzRegionDecode.
func checkLengths(data []byte) error {
	pos, pending := 0, 1 // values still to read, counting the top one
	need := func(n uint64) error {
		if n > uint64(len(data)-pos) {
			return fmt.Errorf("%w: %d more bytes declared at offset %d, %d left", errTruncated, n, pos, len(data)-pos)
		}
		return nil
	}
	// length reads a big-endian length of size bytes at pos.
	length := func(size int) (uint64, error) {
		if err := need(uint64(size)); err != nil {
			return 0, err
		}
		var n uint64
		switch size {
		case 1:
			n = uint64(data[pos])
		case 2:
			n = uint64(binary.BigEndian.Uint16(data[pos:]))
		case 4:
			n = uint64(binary.BigEndian.Uint32(data[pos:]))
		}
		pos += size
		return n, nil
	}
	for pending > 0 {
		if err := need(1); err != nil {
			return err
		}
		c := data[pos]
		pos++
		pending--
		var (
			skip     uint64 // bytes of content after the header
			children uint64 // values contained
			err      error
		)
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixints, nil, bools
		case c >= 0x80 && c <= 0x8f: // fixmap
			children = 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f: // fixarray
			children = uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf: // fixstr
			skip = uint64(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			skip, err = length(1)
		case c == 0xc5 || c == 0xda: // bin16, str16
			skip, err = length(2)
		case c == 0xc6 || c == 0xdb: // bin32, str32
			skip, err = length(4)
		case c == 0xc7: // ext8: length, type, data
			skip, err = length(1)
			skip++
		case c == 0xc8:
			skip, err = length(2)
			skip++
		case c == 0xc9:
			skip, err = length(4)
			skip++
		case c == 0xca: // float32
			skip = 4
		case c == 0xcb: // float64
			skip = 8
		case c == 0xcc || c == 0xd0:
			skip = 1
		case c == 0xcd || c == 0xd1:
			skip = 2
		case c == 0xce || c == 0xd2:
			skip = 4
		case c == 0xcf || c == 0xd3:
			skip = 8
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16: type, data
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc:
			children, err = length(2)
		case c == 0xdd:
			children, err = length(4)
		case c == 0xde:
			children, err = length(2)
			children *= 2
		case c == 0xdf:
			children, err = length(4)
			children *= 2
		default: // 0xc1: never used
			return fmt.Errorf("msgpack: invalid code %#x at offset %d", c, pos-1)
		}
		if err != nil {
			return err
		}
		if err := need(skip); err != nil {
			return err
		}
		pos += int(skip)
		if err := need(uint64(pending) + children); err != nil {
			return err
		}
		pending += int(children)
	}
	return nil
}
