package dogpile

import (
	"crypto/sha1"
	"encoding/hex"
)

// SHA1Mangler turns any key into 40 hexadecimal characters: a key every store
// accepts (Memcached's 250-byte, no-space keys included). Use it with
// WithKeyMangler.
func SHA1Mangler(key string) string {
	sum := sha1.Sum([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LengthConditionalMangler returns a mangler that leaves keys of at most
// maxLen bytes as they are, readable in the store, and passes longer ones to
// mangle (SHA1Mangler if nil).
func LengthConditionalMangler(maxLen int, mangle func(string) string) func(string) string {
	if mangle == nil {
		mangle = SHA1Mangler
	}
	return func(key string) string {
		if len(key) <= maxLen {
			return key
		}
		return mangle(key)
	}
}
