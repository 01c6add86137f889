package redis_test

// A creator that panics or fails in one process releases its keys'
// distributed locks at once: waiters in other processes are woken by the
// release's message (their lock_sleep is a minute, the lock_timeout a
// minute too), one of them creates each key, and no lock is left behind.

import (
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/internal/xproctest"
)

// failLockTimeout and failLockSleep are the lock_timeout of every process
// of these tests, and the lock_sleep of the waiters: long enough that a
// waiter that returns within failWakeBound was woken by a release.
const (
	failLockTimeout = time.Minute
	failLockSleep   = time.Minute
	failWakeBound   = 20 * time.Second
)

// TestDL2CreatorPanicReleasesLockAcrossProcesses: a process's creator
// panics; two other processes wait for its lock. The panicking caller
// re-panics with a *dogpile.PanicError, the lock is gone as soon as it
// does, and the waiters return at once with the value one of them created.
func TestDL2CreatorPanicReleasesLockAcrossProcesses(t *testing.T) {
	testFailedCreationReleases(t, "panic", 1)
}

// TestDL2CreatorErrorReleasesLockAcrossProcesses: as the panic, for a
// creator that returns an error: its caller gets the error.
func TestDL2CreatorErrorReleasesLockAcrossProcesses(t *testing.T) {
	testFailedCreationReleases(t, "error", 1)
}

// TestDL2MultiCreatorFailureReleasesEveryLock: a GetOrCreateMulti creator
// of three keys panics (or fails); a waiter in another process on each of
// the keys returns at once with the value it created: every key's lock was
// released.
func TestDL2MultiCreatorFailureReleasesEveryLock(t *testing.T) {
	for _, fail := range []string{"panic", "error"} {
		t.Run(fail, func(t *testing.T) { testFailedCreationReleases(t, fail, 3) })
	}
}

// testFailedCreationReleases runs xproctest's test of a creator of n keys
// that fails (fail: "panic" or "error") on Redis, the waiters' lock_sleep a
// minute: only a release's message wakes them within the bound.
func testFailedCreationReleases(t *testing.T, fail string, n int) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	env := []string{childAddrEnv + "=" + addr, childLockEnv + "=" + failLockTimeout.String()}
	xproctest.Store{
		StartPanicker: func(t *testing.T, keys []string, fail string) *testutil.Child {
			return testutil.StartChild(t, "panicker", append(env, childKeysEnv+"="+strings.Join(keys, ","), childFailEnv+"="+fail)...)
		},
		StartWaiter: func(t *testing.T, key, value string) *testutil.Child {
			return testutil.StartChild(t, "waiter", append(env, childKeyEnv+"="+key, childSleepEnv+"="+failLockSleep.String(), childValueEnv+"="+value)...)
		},
		// Held: the lock key is there, with a TTL within lock_timeout.
		LockHeld: func(t *testing.T, key string) bool {
			ttl := raw.PTTL(testutil.Context(t), redis.LockKey(key)).Val()
			return ttl > 0 && ttl <= failLockTimeout
		},
		Count: func(t *testing.T, name string) int {
			n, _ := raw.Get(testutil.Context(t), name).Int()
			return n
		},
		Region: func(t *testing.T) *dogpile.Region {
			return regionOn(t, "redis", dogpile.Args{"url": "redis://" + addr})
		},
		Bound: failWakeBound,
	}.FailedCreationReleases(t, fail, n)
}
