package main

import "strings"

// The library's own keys in a store.
//
// These stand for names of package dogpile that land beside this change
// (dogpile.ReservedKeyPrefix, and the storage key of a region's shared
// invalidation record): once they are in, the constants go and reserved
// asks dogpile instead of spelling the names here.
const (
	// reservedKeyPrefix begins the keys the library keeps for itself,
	// after a region's key prefix.
	reservedKeyPrefix = "dogpile:"
	// invalidationRecord is the name of a region's shared invalidation
	// record, before the region's key prefix and key mangler.
	invalidationRecord = reservedKeyPrefix + "invalidated:"
)

// reserved reports whether key, as the store holds it, is one of the
// library's own keys for this region's settings: under the region's key
// prefix, one that begins with the reserved prefix, or the region's
// invalidation record through its key mangler (a hash, with sha1).
func (t *target) reserved(key string) bool {
	return strings.HasPrefix(strings.TrimPrefix(key, t.cfg.KeyPrefix), reservedKeyPrefix) ||
		key == t.cfg.Mangle(invalidationRecord+t.region.Name())
}
