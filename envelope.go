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
}

// InspectEntry reads the metadata of stored bytes without decoding the value,
// for tools that show what a key holds. Bytes that are not a dogpile entry are
// an error.
func InspectEntry(b []byte) (Metadata, error) {
	e, err := envelope.Open(b)
	if err != nil {
		return Metadata{}, err
	}
	return Metadata{Created: time.Unix(0, e.Created), Version: e.Version, Codec: e.Codec, Size: len(b), Signed: e.Signed}, nil
}
