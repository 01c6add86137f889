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
//	              found nothing: no payload), bit 4 it carries its own
//	              expiration; bit 3 is reserved (tags); an entry with a
//	              flag this version does not know is not read
//	4       8     creation time, Unix nanoseconds, big-endian
//	12      4     type tag: FNV-1a (32 bits) of the canonical name of the Go
//	              type the value was encoded from (see TypeName), big-endian
//	16      1     length n of the codec name
//	17      n     codec name
//	17+n    …     with flag bit 1: the hard and the soft generation, each an
//	              unsigned varint (encoding/binary's Uvarint)
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
	// Bit 3 (tags for invalidation by tag) is reserved. A reader refuses
	// flags it does not know, so that adding one never has an older reader
	// misread an entry that uses it.
	flagExpiration = 1 << 4 // the header carries the entry's own expiration
	knownFlags     = flagSigned | flagGenerations | flagNegative | flagExpiration
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

// Meta is an entry's metadata: what Append writes before the payload.
type Meta struct {
	Created int64  // Unix nanoseconds
	Type    uint32 // TypeTag of the type the value was encoded from
	Codec   string // at most 255 bytes
	// HasGens reports whether the entry carries Gens.
	HasGens bool
	Gens    Generations
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
	e.Codec = string(b[Header : Header+n])
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
