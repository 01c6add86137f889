// Package envelope is the format of an entry in a byte-storing backend: the
// encoded value with its metadata (creation time, codec) in a small
// versioned header, optionally signed.
//
//	offset  size  field
//	0       2     magic "dp"
//	2       1     format version
//	3       1     flags: bit 0 set when the entry is signed
//	4       8     creation time, Unix nanoseconds, big-endian
//	12      1     length n of the codec name
//	13      n     codec name
//	13+n    …     payload, as the codec encoded it
//	end-32  32    signed entries only: HMAC-SHA256 of the storage key, a zero
//	              byte and everything before it
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
const Version = 1

const (
	// Header is the size of the fixed part of the header.
	Header     = 13
	flagSigned = 1 << 0 // the entry ends with an HMAC-SHA256 of the rest
	// MACSize is the size of a signature.
	MACSize = sha256.Size
)

var (
	// ErrNotEntry: the bytes are not an entry of this format.
	ErrNotEntry = errors.New("dogpile: not a dogpile entry")
	// ErrVersion: the bytes are an entry of another format version.
	ErrVersion = errors.New("dogpile: entry of another format version")
	// ErrUnsigned: the entry is not signed by an accepted key.
	ErrUnsigned = errors.New("dogpile: entry is not signed by an accepted key")
)

// Entry is an opened entry. Payload aliases the bytes it was opened from.
type Entry struct {
	Version int
	Created int64
	Codec   string
	Payload []byte
	Signed  bool
}

// Append appends the entry for payload, encoded by the codec named
// codecName, created at created, to dst. codecName must be at most 255
// bytes.
func Append(dst []byte, created int64, codecName string, payload []byte) []byte {
	dst = append(dst, 'd', 'p', Version, 0)
	dst = binary.BigEndian.AppendUint64(dst, uint64(created))
	dst = append(dst, byte(len(codecName)))
	dst = append(dst, codecName...)
	return append(dst, payload...)
}

// Size is the size of an entry of payloadLen bytes with the codec name
// codecName, signed: the capacity to give Append.
func Size(codecName string, payloadLen int) int {
	return Header + len(codecName) + payloadLen + MACSize
}

// Open splits an entry into its metadata and payload. Bytes that are not an
// entry of this format version are an error (the caller treats them as a
// miss).
func Open(b []byte) (Entry, error) {
	if len(b) < Header || b[0] != 'd' || b[1] != 'p' {
		return Entry{}, ErrNotEntry
	}
	if b[2] != Version {
		return Entry{}, ErrVersion
	}
	e := Entry{Version: int(b[2]), Created: int64(binary.BigEndian.Uint64(b[4:12])), Signed: b[3]&flagSigned != 0}
	n := int(b[12])
	if len(b) < Header+n {
		return Entry{}, ErrNotEntry
	}
	e.Codec = string(b[Header : Header+n])
	e.Payload = b[Header+n:]
	if e.Signed {
		if len(e.Payload) < MACSize {
			return Entry{}, ErrNotEntry
		}
		e.Payload = e.Payload[:len(e.Payload)-MACSize]
	}
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
