package memcached

// A creator that panics or fails in one process releases its keys'
// distributed locks at once: waiters in other processes, which poll,
// find them free long before lock_timeout (a minute), one of them creates
// each key, and no lock is left held.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
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

// testFailedCreationReleases runs a panicker child whose creator of n keys
// fails (fail: "panic" or "error"), first alone, then with waiters in
// other processes (two on the one key, or one per key).
func testFailedCreationReleases(t *testing.T, fail string, n int) {
	b, srv := lockingBackend(t, failLockTimeout)
	raw := rawClient(srv)
	keysOf := func(base string) []string {
		if n == 1 {
			return []string{base}
		}
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("%s-%d", base, i))
		}
		return keys
	}
	env := []string{"MC_SERVERS=" + srv, fmt.Sprintf("MC_LOCK_TIMEOUT=%d", failLockTimeout)}
	// lockHeld reports whether key's lock is held: its item is there and
	// is not a released lock.
	lockHeld := func(t *testing.T, key string) bool {
		t.Helper()
		it, err := raw.Get(b.lockKey(key))
		if errors.Is(err, memcache.ErrCacheMiss) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return !bytes.Equal(it.Value, releasedValue)
	}

	// startPanicker starts the panicker on keys and waits until its
	// creator runs, holding every key's lock.
	startPanicker := func(t *testing.T, keys []string) *testutil.Child {
		zeroCounters(t, b, keys[0]+"-panicker")
		for _, k := range keys {
			zeroCounters(t, b, k+"-creators")
		}
		p := testutil.StartChild(t, "panicker", append(env, "MC_KEYS="+strings.Join(keys, ","), "MC_FAIL="+fail)...)
		p.Expect("creating", time.Minute)
		for _, k := range keys {
			if !lockHeld(t, k) {
				t.Fatalf("while the panicker creates, the lock of %q is not held", k)
			}
		}
		return p
	}
	// checkPanicker reads the panicker's report: its call raised a
	// *PanicError of the creator's panic, or returned the creator's error.
	checkPanicker := func(t *testing.T, p *testutil.Child, keys []string) {
		var rep panickerReport
		if err := json.Unmarshal([]byte(p.Next(failBound)), &rep); err != nil {
			t.Fatal(err)
		}
		switch fail {
		case "panic":
			if !rep.PanicError || !rep.MatchesPE || rep.PanicValue != panickerValue || rep.Err != "" {
				t.Fatalf("the panicking caller: %+v; want it to panic with a *dogpile.PanicError of %q matching ErrCreatorPanicked", rep, panickerValue)
			}
		case "error":
			if rep.Recovered != "" || !rep.CreatorsErr {
				t.Fatalf("the failing caller: %+v; want it to return the creator's error", rep)
			}
		}
		if err := p.Wait(30 * time.Second); err != nil {
			t.Fatalf("panicker: %v", err)
		}
		if got := counter(t, b, keys[0]+"-panicker"); got != 1 {
			t.Fatalf("the panicker's creator ran %d times; want once", got)
		}
	}
	noLocks := func(t *testing.T, keys []string, when string) {
		t.Helper()
		for _, k := range keys {
			if lockHeld(t, k) {
				t.Fatalf("%s the lock of %q is still held", when, k)
			}
		}
	}

	t.Run("alone", func(t *testing.T) {
		// The caller re-raises the panic (or returns the error) only
		// once the locks are released: nothing else can have freed them.
		keys := keysOf(testutil.Unique("dl2-" + fail + "-alone"))
		p := startPanicker(t, keys)
		p.Send("finish")
		checkPanicker(t, p, keys)
		noLocks(t, keys, "once the panicker's call has returned,")
	})

	t.Run("waiters", func(t *testing.T) {
		keys := keysOf(testutil.Unique("dl2-" + fail))
		p := startPanicker(t, keys)
		waitKeys := keys
		if n == 1 {
			waitKeys = []string{keys[0], keys[0]} // two processes contend for the one key
		}
		var waiters []*testutil.Child
		for i, k := range waitKeys {
			w := testutil.StartChild(t, "waiter", append(env, "MC_KEY="+k, fmt.Sprintf("MC_VALUE=waiter %d's", i))...)
			w.Expect("waiting", time.Minute)
			waiters = append(waiters, w)
		}
		p.Send("finish")
		finished := time.Now()

		reps := make([]waiterReport, len(waiters))
		for i, w := range waiters {
			line := w.Next(max(failBound-time.Since(finished), time.Millisecond))
			if err := json.Unmarshal([]byte(line), &reps[i]); err != nil {
				t.Fatalf("waiter %d: %v", i, err)
			}
		}
		t.Logf("the waiters returned within %v of the creator's %s (lock_timeout %ds)", time.Since(finished).Round(time.Millisecond), fail, failLockTimeout)
		checkPanicker(t, p, keys)

		created := map[string]string{} // key → the value its creating waiter made
		for i, rep := range reps {
			if rep.Err != "" {
				t.Fatalf("waiter %d on %q failed: %s", i, waitKeys[i], rep.Err)
			}
			if rep.Created {
				if prev, ok := created[waitKeys[i]]; ok {
					t.Fatalf("two waiters created %q: %s and %s", waitKeys[i], prev, rep.Value)
				}
				created[waitKeys[i]] = rep.Value
			}
		}
		for i, rep := range reps {
			if want, ok := created[waitKeys[i]]; !ok || rep.Value != want {
				t.Fatalf("waiter %d on %q got %q; want the value a waiter created (%q, created: %v)", i, waitKeys[i], rep.Value, want, ok)
			}
		}
		for _, k := range keys {
			if got := counter(t, b, k+"-creators"); got != 1 {
				t.Fatalf("the waiters' creator of %q ran %d times; want once", k, got)
			}
		}
		for i, w := range waiters {
			if err := w.Wait(30 * time.Second); err != nil {
				t.Fatalf("waiter %d: %v", i, err)
			}
		}
		noLocks(t, keys, "once every process is done,")
		r := newRegion(t, b)
		for _, k := range keys {
			if v, ok, err := dogpile.Get[string](testutil.Context(t), r, k); err != nil || !ok || v != created[k] {
				t.Fatalf("Get(%q) = %q, %v, %v; want the waiter's %q", k, v, ok, err, created[k])
			}
		}
	})
}
