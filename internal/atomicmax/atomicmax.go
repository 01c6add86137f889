// Package atomicmax raises an atomic integer to a value and never lowers it:
// the one compare-and-swap loop behind every "the latest seen" the library
// keeps (invalidation times and generations, the clock's offset).
package atomicmax

// Integer is what Raise works on: sync/atomic's Int64 and Uint64.
type Integer[T int64 | uint64] interface {
	Load() T
	CompareAndSwap(old, new T) bool
}

// Raise makes a at least v and reports whether it raised it; a value already
// at v or above is left as it is, whatever other goroutines do meanwhile.
func Raise[T int64 | uint64](a Integer[T], v T) bool {
	for {
		old := a.Load()
		if v <= old {
			return false
		}
		if a.CompareAndSwap(old, v) {
			return true
		}
	}
}
