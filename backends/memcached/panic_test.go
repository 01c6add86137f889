package memcached

// A creator that panics or fails in one process releases its keys'
// distributed locks at once: waiters in other processes, which poll,
// find them free long before lock_timeout (a minute), one of them creates
// each key, and no lock is left held.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/internal/xproctest"
)

// failLockTimeout is the lock_timeout of every process of these tests (in
// seconds, as MC_LOCK_TIMEOUT); a waiter that returns within failBound was
// let in by a release, not by the lock's expiry.
const (
	failLockTimeout = 60
	failBound       = 20 * time.Second
)

// TestDL2CreatorPanicReleasesLockAcrossProcesses: a process's creator
// panics; two other processes wait for its lock. The panicking caller
// re-panics with a *dogpile.PanicError, the lock is free as soon as it
// does, and the waiters return at once with the value one of them created.
func TestDL2CreatorPanicReleasesLockAcrossProcesses(t *testing.T) {
	t.Parallel() // mostly waiting for child processes
	testFailedCreationReleases(t, "panic", 1)
}

// TestDL2CreatorErrorReleasesLockAcrossProcesses: as the panic, for a
// creator that returns an error: its caller gets the error.
func TestDL2CreatorErrorReleasesLockAcrossProcesses(t *testing.T) {
	t.Parallel()
	testFailedCreationReleases(t, "error", 1)
}

// TestDL2MultiCreatorFailureReleasesEveryLock: a GetOrCreateMulti creator
// of three keys panics (or fails); a waiter in another process on each of
// the keys returns at once with the value it created: every key's lock was
// released.
func TestDL2MultiCreatorFailureReleasesEveryLock(t *testing.T) {
	t.Parallel()
	for _, fail := range []string{"panic", "error"} {
		t.Run(fail, func(t *testing.T) { testFailedCreationReleases(t, fail, 3) })
	}
}

// testFailedCreationReleases runs xproctest's test of a creator of n keys
// that fails (fail: "panic" or "error") on a Memcached server.
func testFailedCreationReleases(t *testing.T, fail string, n int) {
	b, srv := lockingBackend(t, failLockTimeout)
	raw := rawClient(srv)
	env := []string{"MC_SERVERS=" + srv, fmt.Sprintf("MC_LOCK_TIMEOUT=%d", failLockTimeout)}
	xproctest.Store{
		StartPanicker: func(t *testing.T, keys []string, fail string) *testutil.Child {
			zeroCounters(t, b, xproctest.PanickerCounter(keys[0]))
			for _, k := range keys {
				zeroCounters(t, b, xproctest.CreatorsCounter(k))
			}
			return testutil.StartChild(t, "panicker", append(env, "MC_KEYS="+strings.Join(keys, ","), "MC_FAIL="+fail)...)
		},
		StartWaiter: func(t *testing.T, key, value string) *testutil.Child {
			return testutil.StartChild(t, "waiter", append(env, "MC_KEY="+key, "MC_VALUE="+value)...)
		},
		// Held: its item is there and is not a released lock.
		LockHeld: func(t *testing.T, key string) bool {
			t.Helper()
			it, err := raw.Get(b.lockKey(key))
			if errors.Is(err, memcache.ErrCacheMiss) {
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
			return !bytes.Equal(it.Value, releasedValue)
		},
		Count:  func(t *testing.T, name string) int { return int(counter(t, b, name)) },
		Region: func(t *testing.T) *dogpile.Region { return newRegion(t, b) },
		Bound:  failBound,
	}.FailedCreationReleases(t, fail, n)
}
