package dogpile

import "github.com/dogpile-go/dogpile/internal/atomicmax"

// Hooks for the external tests of get-or-create (package dogpile_test).

// InvalidateHardAt makes the default invalidation strategy of r (configured
// with it) date a hard invalidation at the Unix nanosecond at, as
// Invalidate(ctx, Hard) would at that instant: a test can date one at a
// value's own creation time, which no reading of the clock can.
func InvalidateHardAt(r *Region, at int64) {
	l := r.state.Load().localInv
	l.hard.Store(at)
	atomicmax.Raise(&l.latest, at)
}

// EndBreakerCooldown makes the cooldown of r's open breaker over, as if it
// had passed: the next call starts the probe.
func EndBreakerCooldown(r *Region) {
	if r.openUntil.Load() != 0 {
		r.openUntil.Store(1)
	}
}

// BreakerProbing reports whether the probe of r's breaker is running.
func BreakerProbing(r *Region) bool { return r.probing.Load() }

// RecoveryProbeScheduled reports whether r's auto-recovery queue has armed
// a timer to probe the backend when the breaker's cooldown ends.
func RecoveryProbeScheduled(r *Region) bool {
	q := r.recovery
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.timer != nil
}
