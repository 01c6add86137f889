package dogpile_test

import (
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/dogpiletest"
)

// shortLeaseTTL is the lock timeout of the in-process lease store when the
// suite lets holds lapse: short, yet long beside a renewal's pacing (a tenth
// of it) on a loaded machine.
const shortLeaseTTL = 300 * time.Millisecond

// leaseStores returns the factories of the in-process lease store for the
// conformance suite, with the deliberate bug broken ("" for none).
func leaseStores(broken string) (dogpiletest.Factory, dogpiletest.Option) {
	return func(*testing.T) dogpile.Backend {
			s := newLeaseStore()
			s.broken = broken
			return s
		}, dogpiletest.WithShortLease(func(*testing.T) dogpile.Backend {
			s := newLeaseStore()
			s.ttl, s.broken = shortLeaseTTL, broken
			return s
		})
}

// B1: the suite's checks of leases, fenced writes, probes and swaps pass on
// an implementation that is right.
func TestB1LeaseStoreConforms(t *testing.T) {
	newBackend, short := leaseStores("")
	dogpiletest.TestBackend(t, newBackend, short)
}

// B1: the suite's checks of leases, fenced writes, probes and swaps fail on
// an implementation with any of these bugs, in the check named.
func TestB1SuiteFindsBrokenLeases(t *testing.T) {
	suiteFinds(t, map[string]string{
		"renew always succeeds":           "Lease",
		"reports no TTL":                  "Lease",
		"renew takes over another's lock": "Lease",
		"renew does not extend":           "LeaseLapse/RenewKeepsHold",
		"hold shorter than its TTL":       "LeaseLapse/Lapses",
		"fenced write unchecked":          "Fenced",
		"locked is always false":          "MutexProber",
		"swap ignores old":                "CompareAndSwap",
	}, func(t *testing.T, broken string) {
		newBackend, short := leaseStores(broken)
		dogpiletest.TestBackend(t, newBackend, short)
	})
}
