// Package envelope is the format of an entry in a byte-storing backend: the
// encoded value with its metadata (creation time, the Go type it was encoded
// from, codec, shared-invalidation generations) in a small versioned header,
// optionally signed.
//
//	offset  size  field
//	0       2     magic "dp"
//	2       1     format version (2)
//	3       1     flags: bit 0 the entry is signed, bit 1 it carries
//	              generations, bit 2 it is a negative entry (the creator
//	              found nothing: no payload), bit 3 it carries tags, bit 4
//	              its own expiration; an entry with a flag this version does
//	              not know is not read
//	4       8     creation time, Unix nanoseconds, big-endian
//	12      4     type tag: FNV-1a (32 bits) of the canonical name of the Go
//	              type the value was encoded from (see TypeName), big-endian
//	16      1     length n of the codec name
//	17      n     codec name
//	17+n    …     with flag bit 1: the hard and the soft generation, each an
//	              unsigned varint (encoding/binary's Uvarint)
//	…       …     with flag bit 3: the tags — their number, then for each its
//	              name's length, its name and, with flag bit 1, the hard and
//	              the soft generation of the tag's record; all numbers
//	              unsigned varints
//	…       …     with flag bit 4: the expiration, nanoseconds after the
//	              creation time (negative: never), a varint (Varint)
//	…       …     payload, as the codec encoded it
//	end-32  32    signed entries only: HMAC-SHA256 of the storage key, a zero
//	              byte and everything before it
//
// Version 1 had no type tag and no generations; its entries read as
// ErrVersion.
package envelope

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync/atomic"
)

// Version is the format version written. An entry of another version reads
// as a miss, so a change of format never serves misread bytes: it costs one
// regeneration per key.
const Version = 2

const (
	// Header is the size of the fixed part of the header.
	Header = 17
	// MACSize is the size of a signature.
	MACSize = sha256.Size
	// maxVarints is the most the generations and the expiration take:
	// three 64-bit varints.
	maxVarints = 3 * binary.MaxVarintLen64

	flagSigned      = 1 << 0 // the entry ends with an HMAC-SHA256 of the rest
	flagGenerations = 1 << 1 // the header carries the generations
	flagNegative    = 1 << 2 // a negative entry: "the creator found nothing", no payload
	flagTags        = 1 << 3 // the header carries the tags
	flagExpiration  = 1 << 4 // the header carries the entry's own expiration
	// A reader refuses flags it does not know, so that adding one never has
	// an older reader misread an entry that uses it.
	knownFlags = flagSigned | flagGenerations | flagNegative | flagTags | flagExpiration
)

var (
	// ErrNotEntry: the bytes are not an entry of this format.
	ErrNotEntry = errors.New("dogpile: not a dogpile entry")
	// ErrVersion: the bytes are an entry of another format version, or use
	// a flag this version does not read.
	ErrVersion = errors.New("dogpile: entry of another format version")
	// ErrUnsigned: the entry is not signed by an accepted key.
	ErrUnsigned = errors.New("dogpile: entry is not signed by an accepted key")
)

// Generations are the shared-invalidation generations an entry was written
// under: the hard and soft counters of its region's invalidation record, as
// its writer last read them.
type Generations struct {
	Hard, Soft uint64
}

// Tag is one of an entry's tags: its name and, in an entry that carries
// generations, the generations of the tag's record as the entry's writer
// last read them.
type Tag struct {
	Name string
	Gens Generations
}

// Meta is an entry's metadata: what Append writes before the payload.
type Meta struct {
	Created int64  // Unix nanoseconds
	Type    uint32 // TypeTag of the type the value was encoded from
	Codec   string // at most 255 bytes
	// HasGens reports whether the entry carries Gens, and its tags theirs.
	HasGens bool
	Gens    Generations
	// Tags are the entry's tags; none is written as no tag section.
	Tags []Tag
	// Negative marks an entry that records "not found": its payload is
	// empty.
	Negative bool
	// HasExpiration reports whether the entry carries Expiration: how
	// long after Created it expires, in nanoseconds; negative: never.
	HasExpiration bool
	Expiration    int64
}

// Entry is an opened entry. Payload aliases the bytes it was opened from.
type Entry struct {
	Meta
	Version int
	Payload []byte
	Signed  bool
}

// Append appends the entry for payload, with metadata m, to dst.
func Append(dst []byte, m *Meta, payload []byte) []byte {
	var flags byte
	if m.HasGens {
		flags |= flagGenerations
	}
	if len(m.Tags) > 0 {
		flags |= flagTags
	}
	if m.Negative {
		flags |= flagNegative
	}
	if m.HasExpiration {
		flags |= flagExpiration
	}
	dst = append(dst, 'd', 'p', Version, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Created))
	dst = binary.BigEndian.AppendUint32(dst, m.Type)
	dst = append(dst, byte(len(m.Codec)))
	dst = append(dst, m.Codec...)
	if m.HasGens {
		dst = binary.AppendUvarint(dst, m.Gens.Hard)
		dst = binary.AppendUvarint(dst, m.Gens.Soft)
	}
	if len(m.Tags) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(m.Tags)))
		for _, t := range m.Tags {
			dst = binary.AppendUvarint(dst, uint64(len(t.Name)))
			dst = append(dst, t.Name...)
			if m.HasGens {
				dst = binary.AppendUvarint(dst, t.Gens.Hard)
				dst = binary.AppendUvarint(dst, t.Gens.Soft)
			}
		}
	}
	if m.HasExpiration {
		dst = binary.AppendVarint(dst, m.Expiration)
	}
	return append(dst, payload...)
}

// Size is an upper bound on the size of an entry with metadata m and
// payloadLen bytes of payload, signed: the capacity to give Append.
func Size(m *Meta, payloadLen int) int {
	n := Header + len(m.Codec) + payloadLen + MACSize
	if m.HasGens || m.HasExpiration {
		n += maxVarints
	}
	if len(m.Tags) > 0 {
		n += binary.MaxVarintLen64
		for _, t := range m.Tags {
			n += binary.MaxVarintLen64 + len(t.Name)
			if m.HasGens {
				n += maxVarints
			}
		}
	}
	return n
}

// Open splits an entry into its metadata and payload. Bytes that are not an
// entry of this format version are an error (the caller treats them as a
// miss).
func Open(b []byte) (Entry, error) {
	if len(b) < 3 || b[0] != 'd' || b[1] != 'p' {
		return Entry{}, ErrNotEntry
	}
	if b[2] != Version {
		return Entry{}, ErrVersion
	}
	if len(b) < Header {
		return Entry{}, ErrNotEntry
	}
	flags := b[3]
	if flags&^knownFlags != 0 {
		return Entry{}, ErrVersion
	}
	e := Entry{Version: int(b[2]), Signed: flags&flagSigned != 0}
	e.Created = int64(binary.BigEndian.Uint64(b[4:12]))
	e.Type = binary.BigEndian.Uint32(b[12:16])
	n := int(b[16])
	if len(b) < Header+n {
		return Entry{}, ErrNotEntry
	}
	e.Codec = codecName(b[Header : Header+n])
	rest := b[Header+n:]
	if e.Signed {
		if len(rest) < MACSize {
			return Entry{}, ErrNotEntry
		}
		rest = rest[:len(rest)-MACSize]
	}
	if flags&flagGenerations != 0 {
		e.HasGens = true
		var k int
		if e.Gens.Hard, k = binary.Uvarint(rest); k <= 0 {
			return Entry{}, ErrNotEntry
		}
		rest = rest[k:]
		if e.Gens.Soft, k = binary.Uvarint(rest); k <= 0 {
			return Entry{}, ErrNotEntry
		}
		rest = rest[k:]
	}
	if flags&flagTags != 0 {
		var err error
		if e.Tags, rest, err = readTags(rest, e.HasGens); err != nil {
			return Entry{}, err
		}
	}
	if flags&flagExpiration != 0 {
		e.HasExpiration = true
		var k int
		if e.Expiration, k = binary.Varint(rest); k <= 0 {
			return Entry{}, ErrNotEntry
		}
		rest = rest[k:]
	}
	if flags&flagNegative != 0 {
		if len(rest) != 0 {
			return Entry{}, ErrNotEntry
		}
		e.Negative = true
	}
	e.Payload = rest
	return e, nil
}

// readTags reads the tag section at the start of b and returns the rest.
// The names share one string, so that opening an entry allocates twice for
// its tags however many it has.
func readTags(b []byte, gens bool) ([]Tag, []byte, error) {
	n, k := binary.Uvarint(b)
	// Each tag takes at least one byte (its name's length), so a count
	// beyond what is left is corrupt, not a reason to allocate.
	if k <= 0 || n == 0 || n > uint64(len(b)-k) {
		return nil, nil, ErrNotEntry
	}
	section := b
	b = b[k:]
	tags := make([]Tag, n)
	spans := make([][2]int, 0, 8)[:0] // the names' offsets in section
	for i := range tags {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, nil, ErrNotEntry
		}
		at := len(section) - len(b) + k
		spans = append(spans, [2]int{at, at + int(l)})
		b = b[k+int(l):]
		if gens {
			if tags[i].Gens.Hard, k = binary.Uvarint(b); k <= 0 {
				return nil, nil, ErrNotEntry
			}
			b = b[k:]
			if tags[i].Gens.Soft, k = binary.Uvarint(b); k <= 0 {
				return nil, nil, ErrNotEntry
			}
			b = b[k:]
		}
	}
	all := string(section[:len(section)-len(b)])
	for i, sp := range spans {
		tags[i].Name = all[sp[0]:sp[1]]
	}
	return tags, b, nil
}

// lastCodec is the codec name Open returned last. A process reads entries
// of one codec, or of a few, so Open hands out that string again rather than
// allocating a copy of the name for every entry read.
var lastCodec atomic.Pointer[string]

// codecName returns name as a string, without allocating when it is the
// name seen last.
func codecName(name []byte) string {
	if p := lastCodec.Load(); p != nil && *p == string(name) {
		return *p
	}
	s := string(name)
	lastCodec.Store(&s)
	return s
}

// mac is the signature of entry stored under key, with secret.
func mac(secret []byte, key string, entry []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(entry)
	return h.Sum(nil)
}

// Sign marks entry, to be stored under key, as signed and appends its
// signature with secret.
func Sign(entry []byte, key string, secret []byte) []byte {
	entry[3] |= flagSigned
	return append(entry, mac(secret, key, entry)...)
}

// Verify checks that b, stored under key, is signed by one of secrets.
func Verify(b []byte, key string, secrets [][]byte) error {
	if len(b) < Header+MACSize || b[3]&flagSigned == 0 {
		return ErrUnsigned
	}
	body, sum := b[:len(b)-MACSize], b[len(b)-MACSize:]
	for _, k := range secrets {
		if hmac.Equal(sum, mac(k, key, body)) {
			return nil
		}
	}
	return ErrUnsigned
}
