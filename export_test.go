package dogpile

// Hooks for the package's external tests (package dogpile_test): reachable
// only from test binaries.

// WithClock makes the region read the time from now (Unix nanoseconds)
// instead of the process clock, for every creation time, expiry check and
// in-process invalidation: a test runs two regions as two hosts whose clocks
// disagree.
func WithClock(now func() int64) RegionOption {
	return func(r *Region) { r.clock = now }
}
