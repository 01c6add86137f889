package memcached

import "github.com/dogpile-go/dogpile"

// KeyMangler returns the key mangler a region on this backend uses unless it
// is given its own (dogpile.WithKeyMangler; WithKeyMangler(nil) for none):
// keys Memcached accepts stay as they are, readable with any Memcached
// client, and the others — longer than 250 bytes, holding a space or a
// control character, or beginning with the lock prefix — are replaced by
// their SHA-1 (dogpile.SHA1Mangler), so that a region stores any key. A
// region's key prefix (dogpile.WithKeyPrefix) comes before the mangled key
// and must leave room for the 40 characters of a hash.
func (b *Backend) KeyMangler() func(key string) string {
	return func(key string) string {
		if b.acceptsKey(key) {
			return key
		}
		return dogpile.SHA1Mangler(key)
	}
}
