package dogpile

import (
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
