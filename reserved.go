package dogpile

import "strings"

// IsReservedKey reports whether key, as the store holds it, is one of the
// library's own keys of this region rather than a value's: a key that begins
// with ReservedKeyPrefix under the region's key prefix, or the region's
// shared invalidation record (which the region's key mangler may have made a
// hash). Tools that list a store's keys (the dogpile command) use it to tell
// values from the library's bookkeeping. Lock keys are the backend's: see its
// documentation.
func (r *Region) IsReservedKey(key string) bool {
	s := r.state.Load()
	if s == nil {
		return strings.HasPrefix(key, ReservedKeyPrefix)
	}
	rest, ok := strings.CutPrefix(key, s.keyPrefix)
	return ok && strings.HasPrefix(rest, ReservedKeyPrefix) || s.recordKey != "" && key == s.recordKey
}
