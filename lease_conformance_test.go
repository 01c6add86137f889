package dogpile_test

import (
	"os"
	"os/exec"
	"strings"
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

// brokenLeaseEnv names the bug a child run of TestB1SuiteFindsBrokenLeases
// gives the lease store.
const brokenLeaseEnv = "DOGPILE_TEST_BROKEN_LEASE"

// B1: the suite's checks of leases, fenced writes, probes and swaps fail on
// an implementation with any of these bugs, in the check named. Each runs
// in a child process (this test run again), as a failing suite fails its
// test.
func TestB1SuiteFindsBrokenLeases(t *testing.T) {
	if broken := os.Getenv(brokenLeaseEnv); broken != "" {
		newBackend, short := leaseStores(broken)
		dogpiletest.TestBackend(t, newBackend, short)
		return
	}
	for broken, check := range map[string]string{
		"renew always succeeds":     "Lease",
		"renew does not extend":     "LeaseLapse/RenewKeepsHold",
		"hold shorter than its TTL": "LeaseLapse/Lapses",
		"fenced write unchecked":    "Fenced",
		"locked is always false":    "MutexProber",
		"swap ignores old":          "CompareAndSwap",
	} {
		t.Run(strings.ReplaceAll(broken, " ", "_"), func(t *testing.T) {
			t.Parallel()
			top, _, _ := strings.Cut(check, "/")
			cmd := exec.Command(os.Args[0], "-test.run=^TestB1SuiteFindsBrokenLeases$/^"+top+"$", "-test.v")
			cmd.Env = append(os.Environ(), brokenLeaseEnv+"="+broken)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a lease store whose %s:\n%s", broken, out)
			}
			if want := "--- FAIL: TestB1SuiteFindsBrokenLeases/" + check + " "; !strings.Contains(string(out), want) {
				t.Fatalf("the suite did not fail %s for a lease store whose %s:\n%s", check, broken, out)
			}
		})
	}
}
