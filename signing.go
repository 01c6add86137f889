package dogpile

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// WithSigning makes the region sign every entry it writes with HMAC-SHA256
// and refuse entries it reads that are not signed by one of keys: bytes
// written to a shared cache by anyone without a key read as misses (counted
// as EventRejected) and are replaced by the creator's value. The signature
// covers the storage key too, so a signed entry copied under another key is
// refused as well.
//
// keys[0] signs; every key verifies, so keys can be rotated: deploy the new
// key second everywhere, then first, then drop the old one. Keys should be at
// least 32 random bytes. Signing applies to byte-storing backends; the memory
// backend holds Go values that no other process can write.
func WithSigning(keys ...[]byte) RegionOption {
	return func(r *Region) {
		r.signingKeys = nil
		for _, k := range keys {
			if len(k) > 0 {
				r.signingKeys = append(r.signingKeys, append([]byte(nil), k...))
			}
		}
	}
}

// WithMaxValueSize refuses to store an entry (value, metadata and signature)
// larger than n bytes: Set and GetOrCreate return an error matching
// ErrValueTooLarge and nothing is stored. It applies to byte-storing
// backends, where the size is known.
func WithMaxValueSize(n int) RegionOption { return func(r *Region) { r.maxValueSize = n } }

// ErrValueTooLarge is matched by the error for an entry over the region's
// WithMaxValueSize. It also matches ErrInvalidArgument.
var ErrValueTooLarge = fmt.Errorf("%w: value too large", ErrInvalidArgument)

const (
	flagSigned = 1 << 0 // the entry ends with an HMAC-SHA256 of the rest
	macSize    = sha256.Size
)

var errUnsigned = errors.New("dogpile: entry is not signed by an accepted key")

// mac is the signature of entry stored under key, with secret.
func mac(secret []byte, key string, entry []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(entry)
	return h.Sum(nil)
}

// sign marks entry as signed and appends its signature.
func (r *Region) sign(key string, entry []byte) []byte {
	entry[3] |= flagSigned
	return append(entry, mac(r.signingKeys[0], key, entry)...)
}

// verify checks b's signature against every accepted key.
func (r *Region) verify(key string, b []byte) error {
	if len(b) < envelopeHeader+macSize || b[3]&flagSigned == 0 {
		return errUnsigned
	}
	body, sum := b[:len(b)-macSize], b[len(b)-macSize:]
	for _, k := range r.signingKeys {
		if hmac.Equal(sum, mac(k, key, body)) {
			return nil
		}
	}
	return errUnsigned
}
