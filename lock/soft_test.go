package lock_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// A caller holding a stale value is served it once the soft timeout has
// passed; the creation goes on, stores its value and ends its flight.
func TestSoftTimeoutServesStaleAndTheCreationCompletes(t *testing.T) {
	var g lock.Group
	s := &store{v: "old", state: lock.Stale}
	release := make(chan struct{})
	var timedOut atomic.Int32
	ended := make(chan struct{})
	l := newLock(&g, s, func(context.Context) (string, error) { <-release; return "new", nil })
	l.SoftTimeout = time.Millisecond
	l.Observe = func(e lock.Event, _ time.Duration) {
		switch e {
		case lock.SoftTimedOut:
			timedOut.Add(1)
		case lock.Created:
			close(ended)
		}
	}
	v, err := l.Get(context.Background())
	if err != nil || v != "old" {
		t.Fatalf("Get = %q, %v; want the stale value after the soft timeout", v, err)
	}
	if timedOut.Load() != 1 {
		t.Fatalf("SoftTimedOut observed %d times, want 1", timedOut.Load())
	}
	if !g.InFlight("k") {
		t.Fatal("the flight ended with the caller; it should go on in the background")
	}
	close(release)
	<-ended
	testutil.Eventually(t, "the flight to end", func() bool { return !g.InFlight("k") })
	if got, st, _ := s.load(context.Background()); got != "new" || st != lock.Fresh {
		t.Fatalf("stored %q (%v) once the creator ended; want the new value", got, st)
	}
}

// getPastSoftTimeout runs Get on a lock over s with a soft timeout of a
// millisecond, and lets the creator return "new" only well past it: a
// caller that gave up at the soft timeout would have returned the stale
// value, the zero value or an error instead.
func getPastSoftTimeout(t *testing.T, s *store, noStale bool) string {
	t.Helper()
	var g lock.Group
	started, release := make(chan struct{}), make(chan struct{})
	l := newLock(&g, s, func(context.Context) (string, error) { close(started); <-release; return "new", nil })
	l.SoftTimeout, l.NoStale = time.Millisecond, noStale
	got := make(chan string, 1)
	go func() {
		v, err := l.Get(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	<-started
	time.Sleep(20 * l.SoftTimeout)
	close(release)
	return <-got
}

// Without a value there is nothing to serve: the caller waits past the
// soft timeout for the creator's value.
func TestSoftTimeoutDoesNotApplyWithoutAValue(t *testing.T) {
	if v := getPastSoftTimeout(t, &store{}, false); v != "new" {
		t.Fatalf("Get = %q; want the creator's value (no stale value to serve)", v)
	}
}

// A creation that ends before the soft timeout is returned as usual.
func TestSoftTimeoutNotReachedReturnsTheNewValue(t *testing.T) {
	var g lock.Group
	s := &store{v: "old", state: lock.Stale}
	l := newLock(&g, s, func(context.Context) (string, error) { return "new", nil })
	l.SoftTimeout = time.Hour
	if v, err := l.Get(context.Background()); err != nil || v != "new" {
		t.Fatalf("Get = %q, %v; want the new value", v, err)
	}
}

// NoStale turns the soft timeout off: the caller waits for the new value.
func TestSoftTimeoutWithNoStaleWaits(t *testing.T) {
	if v := getPastSoftTimeout(t, &store{v: "old", state: lock.Stale}, true); v != "new" {
		t.Fatalf("Get = %q; want the new value (NoStale)", v)
	}
}

// In a batch the soft timeout serves the stale keys and waits for the
// missing ones, all created by one call of Create.
func TestBatchSoftTimeoutServesStaleKeysAndWaitsForMissingOnes(t *testing.T) {
	var g lock.Group
	s := newKV(map[string]kv{"s": {"S:old", lock.Stale}})
	release := make(chan struct{})
	c := &creates{}
	c.body = func(_ context.Context, keys []string) ([]string, error) {
		<-release
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k + ":new"
		}
		return out, nil
	}
	b := newBatch(&g, s, c, "s", "m")
	b.SoftTimeout = time.Millisecond
	var timedOut atomic.Int32
	b.Observe = func(e lock.Event, _ time.Duration) {
		if e == lock.SoftTimedOut {
			timedOut.Add(1)
		}
	}
	got := make(chan []string, 1)
	go func() {
		vs, err := b.Get(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- vs
	}()
	testutil.Eventually(t, "the stale key's soft timeout", func() bool { return timedOut.Load() == 1 })
	close(release)
	if vs := <-got; !slices.Equal(vs, []string{"S:old", "m:new"}) {
		t.Fatalf("Get = %q; want the stale value of s and the new value of m", vs)
	}
	if calls := c.got(); len(calls) != 1 || !slices.Equal(calls[0], []string{"s", "m"}) {
		t.Fatalf("Create calls = %q; want one with both keys", calls)
	}
}
