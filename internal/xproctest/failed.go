// Package xproctest holds what the backends' tests of a guarantee across
// processes share: a creator that fails in one process — it panics or
// returns an error — releases its keys' distributed locks at once for the
// others. A backend's test supplies how to start its child processes and
// look at its store; the children's work and the checks are here.
package xproctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// The panicker's creator fails with these: the panic's value, or the error
// it returns.
const PanicValue = "the panicker's creator blew up"

// ErrCreator is the error the panicker's creator returns.
var ErrCreator = errors.New("the panicker's creator failed")

// PanickerCounter and CreatorsCounter name the counters on the server of
// the panicker's creator (by its first key) and of the waiters' creators of
// key.
func PanickerCounter(key string) string { return key + "-panicker" }

// CreatorsCounter: see PanickerCounter.
func CreatorsCounter(key string) string { return key + "-creators" }

// PanickerReport is what a panicker child prints when its call has
// returned or panicked.
type PanickerReport struct {
	Recovered   string // the type of what the call panicked with ("" if it did not)
	PanicError  bool   // it was a *dogpile.PanicError…
	PanicValue  string // … with this Value …
	MatchesPE   bool   // … matching dogpile.ErrCreatorPanicked
	Err         string // the error the call returned, if any
	CreatorsErr bool   // it matches ErrCreator
}

// WaiterReport is what a waiter child prints when its call has returned.
type WaiterReport struct {
	Value   string // what GetOrCreate returned
	Err     string // its error, if any
	Created bool   // this process's creator ran
}

// Panicker is a panicker child's work: GetOrCreate of keys on r
// (GetOrCreateMulti when there are several), whose creator counts its run
// (count, of PanickerCounter(keys[0])), says "creating", and once the
// parent writes "finish" panics with PanicValue or returns ErrCreator (fail:
// "panic" or "error"). It recovers what the call raises and prints a
// PanickerReport.
func Panicker(r *dogpile.Region, keys []string, fail string, count func(counter string) error) error {
	if fail != "panic" && fail != "error" {
		return fmt.Errorf("fail %q; want panic or error", fail)
	}
	create := func(_ context.Context, keys []string) ([]string, error) {
		if err := count(PanickerCounter(keys[0])); err != nil {
			return nil, err
		}
		fmt.Println("creating")
		if line, err := testutil.ReadLine(); err != nil || line != "finish" {
			return nil, fmt.Errorf("waiting for finish: %q, %v", line, err)
		}
		if fail == "panic" {
			panic(PanicValue)
		}
		return nil, ErrCreator
	}
	var rep PanickerReport
	var err error
	func() {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			rep.Recovered = fmt.Sprintf("%T", p)
			if pe, ok := p.(*dogpile.PanicError); ok {
				rep.PanicError = true
				rep.PanicValue = fmt.Sprint(pe.Value)
				rep.MatchesPE = errors.Is(pe, dogpile.ErrCreatorPanicked)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if len(keys) == 1 {
			_, err = dogpile.GetOrCreate(ctx, r, keys[0], func(ctx context.Context) (string, error) {
				vs, err := create(ctx, keys)
				if err != nil {
					return "", err
				}
				return vs[0], nil
			})
		} else {
			_, err = dogpile.GetOrCreateMulti(ctx, r, keys, create)
		}
	}()
	if err != nil {
		rep.Err = err.Error()
		rep.CreatorsErr = errors.Is(err, ErrCreator)
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// Store is a backend's part of the test: how to start its children and
// look at its store. Every process's lock_timeout is long (a minute), so
// that a waiter that returns within Bound was let in by a release.
type Store struct {
	// StartPanicker starts a panicker child on keys (fail: "panic" or
	// "error"), whose counters it has zeroed where the store needs it.
	StartPanicker func(t *testing.T, keys []string, fail string) *testutil.Child
	// StartWaiter starts a waiter child on key, whose creator counts its
	// runs (CreatorsCounter) and returns value; it says "waiting" once it
	// waits for the held lock.
	StartWaiter func(t *testing.T, key, value string) *testutil.Child
	// LockHeld reports whether key's lock is held.
	LockHeld func(t *testing.T, key string) bool
	// Count reads a counter.
	Count func(t *testing.T, counter string) int
	// Region is a region on the store, for the final read.
	Region func(t *testing.T) *dogpile.Region
	// Bound is how long the waiters may take after the creator's failure.
	Bound time.Duration
}

// FailedCreationReleases runs a panicker whose creator of n keys fails
// (fail: "panic" or "error"), first alone — its call returns only once its
// locks are released — then with waiters in other processes (two on the one
// key, or one per key): they return within Bound with the value one of
// them created, each key created once, and no lock is left held.
func (s Store) FailedCreationReleases(t *testing.T, fail string, n int) {
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
	startPanicker := func(t *testing.T, keys []string) *testutil.Child {
		p := s.StartPanicker(t, keys, fail)
		p.Expect("creating", time.Minute)
		for _, k := range keys {
			if !s.LockHeld(t, k) {
				t.Fatalf("while the panicker creates, the lock of %q is not held", k)
			}
		}
		return p
	}
	checkPanicker := func(t *testing.T, p *testutil.Child, keys []string) {
		var rep PanickerReport
		if err := json.Unmarshal([]byte(p.Next(s.Bound)), &rep); err != nil {
			t.Fatal(err)
		}
		switch fail {
		case "panic":
			if !rep.PanicError || !rep.MatchesPE || rep.PanicValue != PanicValue || rep.Err != "" {
				t.Fatalf("the panicking caller: %+v; want it to panic with a *dogpile.PanicError of %q matching ErrCreatorPanicked", rep, PanicValue)
			}
		case "error":
			if rep.Recovered != "" || !rep.CreatorsErr {
				t.Fatalf("the failing caller: %+v; want it to return the creator's error", rep)
			}
		}
		if err := p.Wait(30 * time.Second); err != nil {
			t.Fatalf("panicker: %v", err)
		}
		if got := s.Count(t, PanickerCounter(keys[0])); got != 1 {
			t.Fatalf("the panicker's creator ran %d times; want once", got)
		}
	}
	noLocks := func(t *testing.T, keys []string, when string) {
		t.Helper()
		for _, k := range keys {
			if s.LockHeld(t, k) {
				t.Fatalf("%s the lock of %q is still held", when, k)
			}
		}
	}

	t.Run("alone", func(t *testing.T) {
		// The caller re-raises the panic (or returns the error) only once
		// the locks are released: nothing else can have freed them.
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
			w := s.StartWaiter(t, k, fmt.Sprintf("waiter %d's", i))
			w.Expect("waiting", time.Minute)
			waiters = append(waiters, w)
		}
		p.Send("finish")
		finished := time.Now()

		reps := make([]WaiterReport, len(waiters))
		for i, w := range waiters {
			line := w.Next(max(s.Bound-time.Since(finished), time.Millisecond))
			if err := json.Unmarshal([]byte(line), &reps[i]); err != nil {
				t.Fatalf("waiter %d: %v", i, err)
			}
		}
		t.Logf("the waiters returned within %v of the creator's %s", time.Since(finished).Round(time.Millisecond), fail)
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
			if got := s.Count(t, CreatorsCounter(k)); got != 1 {
				t.Fatalf("the waiters' creator of %q ran %d times; want once", k, got)
			}
		}
		for i, w := range waiters {
			if err := w.Wait(30 * time.Second); err != nil {
				t.Fatalf("waiter %d: %v", i, err)
			}
		}
		noLocks(t, keys, "once every process is done,")
		r := s.Region(t)
		for _, k := range keys {
			if v, ok, err := dogpile.Get[string](testutil.Context(t), r, k); err != nil || !ok || v != created[k] {
				t.Fatalf("Get(%q) = %q, %v, %v; want the waiter's %q", k, v, ok, err, created[k])
			}
		}
	})
}
