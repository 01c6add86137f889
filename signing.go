package dogpile

import (
	"fmt"
)

// WithSigning makes the region sign every entry it writes with HMAC-SHA256
// and refuse entries it reads that are not signed by one of keys: bytes
// written to a shared cache by anyone without a key read as misses (counted
// as EventRejected) and are replaced by the creator's value. The signature
// covers the storage key too, so a signed entry copied under another key is
// refused as well. The shared invalidation record (SharedInvalidation) is
// signed and checked the same way.
//
// keys[0] signs; every key verifies, so keys can be rotated: deploy the new
// key second everywhere, then first, then drop the old one. Keys should be
// 32 random bytes; Configure refuses a region given no key, or a key shorter
// than 16 bytes — an empty key is usually an environment variable that is
// not set, and would turn verification off. Signing applies to byte-storing
// backends; the memory backend holds Go values that no other process can
// write.
func WithSigning(keys ...[]byte) RegionOption {
	return func(r *Region) {
		r.signingKeys, r.signingErr = nil, nil
		if len(keys) == 0 {
			r.signingErr = &ArgError{Name: "signing keys", Reason: "WithSigning is given no key"}
			return
		}
		for i, k := range keys {
			if len(k) < minSigningKey {
				// The length, never the bytes: the key is a secret.
				r.signingErr = &ArgError{Name: fmt.Sprintf("signing key %d", i), Reason: fmt.Sprintf(
					"%d bytes; a signing key must have at least %d (32 random bytes are best; an empty key is often an unset environment variable)", len(k), minSigningKey)}
				r.signingKeys = nil
				return
			}
			r.signingKeys = append(r.signingKeys, append([]byte(nil), k...))
		}
	}
}

// minSigningKey is the shortest signing key WithSigning accepts.
const minSigningKey = 16

// WithMaxValueSize refuses to store an entry (value, metadata and signature)
// larger than n bytes: Set and GetOrCreate return an error matching
// ErrValueTooLarge and nothing is stored. It applies to byte-storing
// backends, where the size is known.
func WithMaxValueSize(n int) RegionOption { return func(r *Region) { r.maxValueSize = n } }

// ErrValueTooLarge is matched by the error for an entry over the region's
// WithMaxValueSize. It also matches ErrInvalidArgument.
var ErrValueTooLarge = fmt.Errorf("%w: value too large", ErrInvalidArgument)
