package dogpile

import (
	"time"

	"github.com/dogpile-go/dogpile/internal/envelope"
)

// FormatVersion is the version of the envelope that byte-storing backends
// hold. An entry of another version reads as a miss, so a change of format
// never serves misread bytes: it costs one regeneration per key.
const FormatVersion = envelope.Version

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
	// NotFound reports a cached "not found" answer (see ErrNotFound): the
	// entry holds no value.
	NotFound bool
	// Expiration is the entry's own expiration, set by its creator (see
	// SetExpiration) or for a "not found" (WithNegativeExpiration): how long
	// after Created it expires; NoExpiration: never. Zero: the entry has
	// none, the region's applies.
	Expiration time.Duration
}

// InspectEntry reads the metadata of stored bytes without decoding the value,
// for tools that show what a key holds. Bytes that are not a dogpile entry are
// an error.
func InspectEntry(b []byte) (Metadata, error) {
	e, err := envelope.Open(b)
	if err != nil {
		return Metadata{}, err
	}
	md := Metadata{Created: time.Unix(0, e.Created), Version: e.Version, Codec: e.Codec, Size: len(b), Signed: e.Signed, NotFound: e.Negative}
	if e.HasExpiration {
		md.Expiration = expirationOf(e.Expiration)
	}
	return md, nil
}

// expirationOf is the Metadata form of a stored expiration (see stamp.ttl).
func expirationOf(ttl int64) time.Duration {
	switch {
	case ttl < 0:
		return NoExpiration
	case ttl == 0:
		return ttlExpired
	}
	return time.Duration(ttl)
}
