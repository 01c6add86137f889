package dogpile

import "time"

// WithClock makes the region read the time from now instead of the system
// clock: for every creation time it stamps, expiry check and in-process
// invalidation. It is for tests — a test runs two regions as two hosts whose
// clocks disagree, or moves time on without waiting — and costs a call of now
// on every hit. (Shared invalidation compares no clocks, so a skewed host's
// invalidations and values are as good as any other's.)
func WithClock(now func() time.Time) RegionOption {
	return func(r *Region) { r.clock = func() int64 { return now().UnixNano() } }
}
