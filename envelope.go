package dogpile

import (
	"encoding/binary"
	"errors"
	"time"
)

// FormatVersion is the version of the envelope that byte-storing backends
// hold. An entry of another version reads as a miss, so a change of format
// never serves misread bytes: it costs one regeneration per key.
const FormatVersion = 1

// The envelope around every value in a byte-storing backend:
//
//	offset  size  field
//	0       2     magic "dp"
//	2       1     format version
//	3       1     flags: bit 0 set when the entry is signed (WithSigning)
//	4       8     creation time, Unix nanoseconds, big-endian
//	12      1     length n of the codec name
//	13      n     codec name
//	13+n    …     payload, as the codec encoded it
//	end-32  32    signed entries only: HMAC-SHA256 of the storage key, a zero
//	              byte and everything before it
const envelopeHeader = 13

var errNotEnvelope = errors.New("dogpile: not a dogpile entry")

// Metadata describes a stored value.
type Metadata struct {
	// Created is when the value was stored.
	Created time.Time
	// Version is the format version of the entry (FormatVersion).
	Version int
	// Codec names the codec of a byte-stored value; empty for values held as
	// Go values by the memory backend.
	Codec string
	// Size is the stored size in bytes (0 for values held as Go values).
	Size int
	// Signed reports whether the entry carries a signature (WithSigning).
	Signed bool
}

func appendEnvelope(dst []byte, created int64, codecName string, payload []byte) []byte {
	dst = append(dst, 'd', 'p', FormatVersion, 0)
	dst = binary.BigEndian.AppendUint64(dst, uint64(created))
	dst = append(dst, byte(len(codecName)))
	dst = append(dst, codecName...)
	return append(dst, payload...)
}

// openEnvelope splits an entry into its metadata and payload. Bytes that are
// not an entry of this format version are an error (the caller treats them as
// a miss).
func openEnvelope(b []byte) (created int64, codecName string, payload []byte, err error) {
	if len(b) < envelopeHeader || b[0] != 'd' || b[1] != 'p' {
		return 0, "", nil, errNotEnvelope
	}
	if b[2] != FormatVersion {
		return 0, "", nil, errors.New("dogpile: entry of another format version")
	}
	created = int64(binary.BigEndian.Uint64(b[4:12]))
	n := int(b[12])
	if len(b) < envelopeHeader+n {
		return 0, "", nil, errNotEnvelope
	}
	payload = b[envelopeHeader+n:]
	if b[3]&flagSigned != 0 {
		if len(payload) < macSize {
			return 0, "", nil, errNotEnvelope
		}
		payload = payload[:len(payload)-macSize]
	}
	return created, string(b[envelopeHeader : envelopeHeader+n]), payload, nil
}

// InspectEntry reads the metadata of stored bytes without decoding the value,
// for tools that show what a key holds. Bytes that are not a dogpile entry are
// an error.
func InspectEntry(b []byte) (Metadata, error) {
	created, codecName, _, err := openEnvelope(b)
	if err != nil {
		return Metadata{}, err
	}
	return Metadata{Created: time.Unix(0, created), Version: int(b[2]), Codec: codecName, Size: len(b), Signed: b[3]&flagSigned != 0}, nil
}
