package dogpile_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// recoveringPair is two processes sharing a store under shared
// invalidation: a, whose view of the store is b (switchable: the test
// takes it down), fail-open with auto-recovery; other, which always reaches
// the store.
func recoveringPair(t *testing.T, cooldown time.Duration, ropts ...dogpile.RegionOption) (a, other *dogpile.Region, b *switchable) {
	t.Helper()
	b = newSwitchable(t)
	shared := func() dogpile.ConfigOption {
		return dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0))
	}
	a = regionFor(t, b, append([]dogpile.RegionOption{dogpile.WithName("rec"), dogpile.WithFailOpen(cooldown), dogpile.WithAutoRecovery(0), dogpile.WithMetrics()}, ropts...), shared())
	other = regionFor(t, b.next, []dogpile.RegionOption{dogpile.WithName("rec")}, shared())
	t.Cleanup(func() { a.Close() })
	return a, other, b
}

// Issue 17, auto-recovery: writes, deletes and an invalidation made while
// the backend is down are queued and replayed in order once it is back,
// before the breaker closes; the other process then honours them.
func TestAutoRecoveryReplaysInOrderBeforeTheBreakerCloses(t *testing.T) {
	ctx := context.Background()
	a, other, b := recoveringPair(t, 20*time.Millisecond)
	mustSet(t, other, "old", "from before the outage")
	mustSet(t, other, "a", "from before the outage")

	b.down.Store(true)
	for _, step := range []func() error{
		func() error { return a.Set(ctx, "a", "1") },
		func() error { return a.Set(ctx, "b", "1") },
		func() error { return a.Delete(ctx, "a") },
		func() error { return a.Invalidate(ctx, dogpile.Hard) },
		func() error { return a.Set(ctx, "c", "1") },
		func() error { return a.Set(ctx, "b", "2") }, // replaces b's first write, after the invalidation
	} {
		if err := step(); err != nil {
			t.Fatalf("a write with the backend down, under auto-recovery: %v; want it queued", err)
		}
	}
	if v, ok := mustGet[string](t, other, "old"); !ok || v != "from before the outage" {
		t.Fatal("the other process lost the old value before the invalidation reached the store")
	}

	// The backend is back. Hold the replay at its first operation: the
	// region must not read the backend until the queue is replayed.
	replaying, resume := make(chan struct{}), make(chan struct{})
	b.setBefore(func(op, key string) {
		if op == "delete" && key == "a" {
			close(replaying)
			<-resume
		}
	})
	b.calls()
	b.down.Store(false)
	recv(t, replaying, "the replay to begin")
	if _, ok, err := dogpile.Get[string](ctx, a, "c"); ok || err != nil {
		t.Fatalf("a's Get during the replay = %v, %v; want a miss without the backend", ok, err)
	}
	close(resume)
	testutil.Eventually(t, "the replay to end and the breaker to close", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, a, "c")
		return ok
	})

	// The order of the replay, as the store saw it: the probe, then each
	// key's latest operation in the order it was made.
	var order []string
	for _, c := range b.calls() {
		if c == "get dogpile:probe" || strings.HasPrefix(c, "delete ") || strings.HasPrefix(c, "set ") || strings.HasPrefix(c, "swap ") {
			order = append(order, c)
		}
	}
	if i := slices.Index(order, "get dogpile:probe"); i != 0 {
		t.Fatalf("replay order %q; want the probe first", order)
	}
	want := []string{"delete a", "swap dogpile:invalidated:rec", "set c", "set b"}
	if got := order[1:min(len(order), 1+len(want))]; !slices.Equal(got, want) {
		t.Fatalf("replay order %q; want the probe then %q", order, want)
	}

	// The other process honours all of it.
	if _, ok := mustGet[string](t, other, "old"); ok {
		t.Fatal("the other process still serves a value from before the invalidation made during the outage")
	}
	if _, ok := mustGet[string](t, other, "a"); ok {
		t.Fatal("the delete made during the outage was lost")
	}
	for k, want := range map[string]string{"b": "2", "c": "1"} {
		if v, ok := mustGet[string](t, other, k); !ok || v != want {
			t.Fatalf("other's Get(%q) = %q, %v; want %q, written after the invalidation", k, v, ok, want)
		}
	}
	if st := a.Stats(); st.RecoveryQueued != 6 || st.RecoveryReplayed != 4 {
		t.Fatalf("RecoveryQueued = %d, RecoveryReplayed = %d; want 6 queued, 4 replayed after coalescing", st.RecoveryQueued, st.RecoveryReplayed)
	}
}

// While the breaker is open, writes are queued without reaching the
// backend; the queue is bounded by its number of keys (a key already in it
// is coalesced), an overflow is an error and counted; invalidations are
// always queued.
func TestAutoRecoveryBoundedAndCoalesced(t *testing.T) {
	ctx := context.Background()
	a, _, b := recoveringPair(t, time.Hour, dogpile.WithAutoRecovery(2))
	b.down.Store(true)
	if err := a.Set(ctx, "a", "1"); err != nil { // trips the breaker
		t.Fatal(err)
	}
	b.calls()
	for _, k := range []string{"b", "a", "b"} {
		if err := a.Set(ctx, k, "2"); err != nil {
			t.Fatalf("Set(%q) with %d keys queued: %v", k, 2, err)
		}
	}
	err := a.Set(ctx, "c", "1")
	if !errors.Is(err, dogpile.ErrBackend) {
		t.Fatalf("a write over the queue's bound = %v; want a backend error", err)
	}
	if err := a.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatalf("Invalidate with the queue full: %v; want it queued", err)
	}
	if got := b.calls(); len(got) != 0 {
		t.Fatalf("with the breaker open, writes reached the backend: %q", got)
	}
	if st := a.Stats(); st.RecoveryOverflow != 1 || st.RecoveryQueued != 5 {
		t.Fatalf("RecoveryOverflow = %d, RecoveryQueued = %d; want 1 and 5", st.RecoveryOverflow, st.RecoveryQueued)
	}
}

// Auto-recovery needs fail-open with a cooldown.
func TestAutoRecoveryNeedsFailOpen(t *testing.T) {
	for _, opts := range [][]dogpile.RegionOption{
		{dogpile.WithAutoRecovery(10)},
		{dogpile.WithAutoRecovery(10), dogpile.WithFailOpen(0)},
	} {
		if _, err := dogpile.NewRegion(opts...).Configure("memory"); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Fatalf("Configure = %v; want an invalid argument", err)
		}
	}
}

// A region closed with operations queued drops them: nothing is replayed.
func TestAutoRecoveryCloseDropsTheQueue(t *testing.T) {
	ctx := context.Background()
	a, other, b := recoveringPair(t, 5*time.Millisecond)
	b.down.Store(true)
	if err := a.Set(ctx, "k", "lost"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.down.Store(false)
	time.Sleep(50 * time.Millisecond) // ten cooldowns: a probe, if any, would have replayed
	if _, ok := mustGet[string](t, other, "k"); ok {
		t.Fatal("a closed region replayed its queue")
	}
}

// A write the backend refuses is not queued: its error is returned.
func TestAutoRecoveryDoesNotQueueARefusedValue(t *testing.T) {
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := regionFor(t, &refusing{Backend: store, limit: 10}, []dogpile.RegionOption{dogpile.WithFailOpen(time.Hour), dogpile.WithAutoRecovery(0), dogpile.WithMetrics()})
	defer r.Close()
	if err := r.Set(context.Background(), "k", strings.Repeat("x", 100)); !errors.Is(err, dogpile.ErrValueRefused) {
		t.Fatalf("Set of a refused value = %v; want the refusal", err)
	}
	if st := r.Stats(); st.RecoveryQueued != 0 || st.BreakerTrips != 0 {
		t.Fatalf("%+v; want nothing queued, no trip", st)
	}
}

// The default invalidation strategy needs no backend: under an open
// breaker it applies at once, and a value queued before it is invalidated
// by it when replayed (it keeps its creation time).
func TestAutoRecoveryInProcessInvalidationAppliesAtOnce(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(5 * time.Millisecond), dogpile.WithAutoRecovery(0), dogpile.WithMetrics()})
	defer r.Close()
	b.down.Store(true)
	if err := r.Set(ctx, "before", "v"); err != nil {
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "after", "v"); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.RecoveryQueued != 2 {
		t.Fatalf("RecoveryQueued = %d; want the two writes, not the in-process invalidation", st.RecoveryQueued)
	}
	b.down.Store(false)
	testutil.Eventually(t, "the replay", func() bool { return r.Stats().RecoveryReplayed == 2 })
	testutil.Eventually(t, "the breaker to close", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, r, "after")
		return ok
	})
	if _, ok := mustGet[string](t, r, "before"); ok {
		t.Fatal("a write made before the invalidation is valid after its replay")
	}
}

// An invalidation of a tag made while the backend is down is queued and
// replayed too: the other process then honours it.
func TestAutoRecoveryReplaysATagInvalidation(t *testing.T) {
	ctx := context.Background()
	a, other, b := recoveringPair(t, 10*time.Millisecond)
	if err := other.Set(ctx, "tagged", "v", dogpile.Tags("user:42")); err != nil {
		t.Fatal(err)
	}
	b.down.Store(true)
	if err := a.InvalidateTags(ctx, dogpile.Hard, "user:42"); err != nil {
		t.Fatalf("InvalidateTags with the backend down: %v; want it queued", err)
	}
	if _, ok := mustGet[string](t, other, "tagged"); !ok {
		t.Fatal("the tag was invalidated before the backend was back")
	}
	b.down.Store(false)
	testutil.Eventually(t, "the replayed tag invalidation to reach the other process", func() bool {
		_, ok := mustGet[string](t, other, "tagged")
		return !ok
	})
}

// A write queued during an outage keeps its tags: once it is replayed, an
// invalidation of its tag reaches it.
func TestAutoRecoveryReplayedSetKeepsItsTags(t *testing.T) {
	ctx := context.Background()
	a, other, b := recoveringPair(t, 10*time.Millisecond)
	b.down.Store(true)
	if err := a.Set(ctx, "k", "v", dogpile.Tags("user:42")); err != nil {
		t.Fatalf("a tagged Set with the backend down: %v; want it queued", err)
	}
	b.down.Store(false)
	testutil.Eventually(t, "the replay", func() bool { return a.Stats().RecoveryReplayed == 1 })
	if v, ok := mustGet[string](t, other, "k"); !ok || v != "v" {
		t.Fatalf("other reads %q, %v after the replay; want the value", v, ok)
	}
	if err := other.InvalidateTags(ctx, dogpile.Hard, "user:42"); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet[string](t, other, "k", dogpile.IgnoreExpiration()); ok {
		t.Fatalf("other reads the replayed %q after its tag's hard invalidation: the replay lost its tags", v)
	}
}

// Tags invalidated in this process need no backend: under an open breaker
// the invalidation applies at once rather than being queued, so a value
// written after it, replayed later, is valid.
func TestAutoRecoveryInProcessTagInvalidationAppliesAtOnce(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(5 * time.Millisecond), dogpile.WithAutoRecovery(0), dogpile.WithMetrics()})
	defer r.Close()
	tags := dogpile.Tags("t")
	b.down.Store(true)
	if err := r.Set(ctx, "before", "v", tags); err != nil {
		t.Fatal(err)
	}
	if err := r.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "after", "v", tags); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.RecoveryQueued != 2 {
		t.Fatalf("RecoveryQueued = %d; want the two writes, not the in-process tag invalidation", st.RecoveryQueued)
	}
	b.down.Store(false)
	testutil.Eventually(t, "the replay and the breaker to close", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, r, "after", tags)
		return ok
	})
	if _, ok := mustGet[string](t, r, "before", tags); ok {
		t.Fatal("a write made before its tag's invalidation is valid after its replay")
	}
}

// The queue's bound counts keys only: invalidations queued beside them take
// no room, and replaying them frees none.
func TestAutoRecoveryBoundCountsKeysOnly(t *testing.T) {
	ctx := context.Background()
	a, _, b := recoveringPair(t, 10*time.Millisecond, dogpile.WithAutoRecovery(2))
	outage := func(keys ...string) []error {
		t.Helper()
		errs := make([]error, len(keys))
		for i, k := range keys {
			errs[i] = a.Set(ctx, k, "v")
		}
		return errs
	}
	wantQueuedThenRefused := func(errs []error) {
		t.Helper()
		for i, err := range errs[:2] {
			if err != nil {
				t.Fatalf("write %d of 2 with a bound of 2 keys: %v; want it queued", i+1, err)
			}
		}
		if !errors.Is(errs[2], dogpile.ErrBackend) {
			t.Fatalf("a third key over a bound of 2: %v; want it refused", errs[2])
		}
	}
	b.down.Store(true)
	if err := a.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	if err := a.InvalidateTags(ctx, dogpile.Soft, "t1", "t2"); err != nil {
		t.Fatal(err)
	}
	wantQueuedThenRefused(outage("a", "b", "c"))
	b.down.Store(false)
	testutil.Eventually(t, "the replay and the breaker to close", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, a, "b")
		return ok
	})
	if st := a.Stats(); st.RecoveryReplayed != 5 {
		t.Fatalf("RecoveryReplayed = %d; want 5 (3 invalidations, 2 writes)", st.RecoveryReplayed)
	}
	b.down.Store(true)
	wantQueuedThenRefused(outage("x", "y", "z"))
}

// A queued write the backend refuses when it is replayed (a value over the
// size limit) is dropped: the replay goes on with the rest, and the breaker
// closes.
func TestAutoRecoveryDropsAWriteRefusedOnReplay(t *testing.T) {
	ctx := context.Background()
	a, other, b := recoveringPair(t, 10*time.Millisecond, dogpile.WithMaxValueSize(100))
	b.down.Store(true)
	for k, v := range map[string]string{"first": "1", "big": strings.Repeat("x", 1000)} {
		if err := a.Set(ctx, k, v); err != nil {
			t.Fatalf("Set(%q) with the backend down: %v; want it queued", k, err)
		}
	}
	if err := a.Set(ctx, "last", "1"); err != nil {
		t.Fatal(err)
	}
	b.down.Store(false)
	testutil.Eventually(t, "the replay past the refused write, and the breaker to close", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, a, "last")
		return ok
	})
	for k, want := range map[string]bool{"first": true, "big": false, "last": true} {
		if _, ok := mustGet[string](t, other, k); ok != want {
			t.Fatalf("after the replay other's Get(%q) is a hit: %v; want %v", k, ok, want)
		}
	}
	if st := a.Stats(); st.RecoveryReplayed != 2 {
		t.Fatalf("RecoveryReplayed = %d; want 2, the refused write not counted", st.RecoveryReplayed)
	}
}

// A soft invalidation queued during an outage is replayed as a soft one:
// the other process then serves the values stale, not as misses.
func TestAutoRecoveryReplaysSoftInvalidationsAsSoft(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		invalidate func(r *dogpile.Region) error
	}{
		{"region", func(r *dogpile.Region) error { return r.Invalidate(ctx, dogpile.Soft) }},
		{"tag", func(r *dogpile.Region) error { return r.InvalidateTags(ctx, dogpile.Soft, "t") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, other, b := recoveringPair(t, 10*time.Millisecond)
			if err := other.Set(ctx, "k", "v", dogpile.Tags("t")); err != nil {
				t.Fatal(err)
			}
			b.down.Store(true)
			if err := tc.invalidate(a); err != nil {
				t.Fatalf("a soft invalidation with the backend down: %v; want it queued", err)
			}
			b.down.Store(false)
			testutil.Eventually(t, "the replay", func() bool { return a.Stats().RecoveryReplayed == 1 })
			if _, ok := mustGet[string](t, other, "k"); ok {
				t.Fatal("other reads the value as fresh after the replayed soft invalidation")
			}
			if v, ok := mustGet[string](t, other, "k", dogpile.IgnoreExpiration()); !ok || v != "v" {
				t.Fatalf("other reads %q, %v after the replayed soft invalidation; want the value, stale", v, ok)
			}
		})
	}
}

// A probe that finds the backend still down schedules the next one itself:
// the queue is replayed once the backend is back though this process makes
// no further call.
func TestAutoRecoveryRetriesAfterAFailedProbeWithoutCalls(t *testing.T) {
	ctx := context.Background()
	a, other, b := recoveringPair(t, 5*time.Millisecond)
	probed := make(chan struct{})
	var once sync.Once
	b.setBefore(func(_, key string) {
		if strings.HasSuffix(key, "probe") {
			once.Do(func() { close(probed) })
		}
	})
	b.down.Store(true)
	if err := a.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	errs := a.Stats().BackendErrors
	recv(t, probed, "the first probe")
	testutil.Eventually(t, "the first probe to fail", func() bool { return a.Stats().BackendErrors > errs })
	b.down.Store(false)
	testutil.Eventually(t, "a later probe to replay the write", func() bool {
		_, ok := mustGet[string](t, other, "k")
		return ok
	})
}

// With nothing queued, a failed probe schedules none of its own: the next
// call after the cooldown probes, and an idle region sends the backend
// nothing. A write queued while down does schedule one.
func TestAutoRecoveryNoProbeWithoutCallsWhenNothingIsQueued(t *testing.T) {
	ctx := context.Background()
	a, _, b := recoveringPair(t, time.Hour)
	b.down.Store(true)
	if _, _, err := dogpile.Get[string](ctx, a, "k"); err != nil { // opens the breaker; nothing to queue
		t.Fatal(err)
	}
	errs := a.Stats().BackendErrors
	dogpile.EndBreakerCooldown(a)
	if _, _, err := dogpile.Get[string](ctx, a, "k"); err != nil { // starts the probe, which fails
		t.Fatal(err)
	}
	testutil.Eventually(t, "the probe to fail", func() bool {
		return a.Stats().BackendErrors > errs && !dogpile.BreakerProbing(a)
	})
	if dogpile.RecoveryProbeScheduled(a) {
		t.Fatal("a failed probe with nothing queued scheduled another probe")
	}
	if err := a.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if !dogpile.RecoveryProbeScheduled(a) {
		t.Fatal("a write queued while the backend is down scheduled no probe")
	}
}

// A write that runs out of time on a hung backend (a server paused, say)
// finds it down as surely as one refused: it trips the breaker and is
// queued for replay, not returned as its deadline. (The region has the
// default invalidation, so the write's first call to the backend is the
// write itself, not a read of a shared record.)
func TestAutoRecoveryQueuesAWriteThatTimedOut(t *testing.T) {
	ctx := context.Background()
	b := newSwitchable(t)
	a := regionFor(t, b, []dogpile.RegionOption{dogpile.WithFailOpen(20 * time.Millisecond), dogpile.WithAutoRecovery(0), dogpile.WithMetrics()})
	t.Cleanup(func() { a.Close() })
	other := regionFor(t, b.next, nil)
	b.hang()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := a.Set(tctx, "k", "v"); err != nil {
		t.Fatalf("Set that timed out on a hung backend, under auto-recovery: %v; want it queued", err)
	}
	if st := a.Stats(); st.RecoveryQueued != 1 || st.BreakerTrips != 1 {
		t.Fatalf("RecoveryQueued = %d, BreakerTrips = %d; want the write queued and the breaker open", st.RecoveryQueued, st.BreakerTrips)
	}
	b.unhang()
	testutil.Eventually(t, "the queued write to be replayed", func() bool {
		v, ok := mustGet[string](t, other, "k")
		return ok && v == "v"
	})
}

// A write made while an earlier write of the same key is being replayed
// takes that key's place in the queue: it is replayed after it (the store
// ends with the later value), and the key counts once against the bound,
// during the replay and after it.
func TestAutoRecoveryWriteDuringItsKeysReplay(t *testing.T) {
	ctx := context.Background()
	a, other, b := recoveringPair(t, 10*time.Millisecond, dogpile.WithAutoRecovery(2))
	b.down.Store(true)
	if err := a.Set(ctx, "k", "1"); err != nil {
		t.Fatalf("a write with the backend down: %v; want it queued", err)
	}

	replaying, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.setBefore(func(op, key string) {
		if op == "set" && key == "k" {
			once.Do(func() { close(replaying); <-resume })
		}
	})
	b.down.Store(false)
	recv(t, replaying, "the replay of k's first write")
	if err := a.Set(ctx, "k", "2"); err != nil {
		t.Fatalf("a write of k during its replay: %v; want it queued", err)
	}
	if err := a.Set(ctx, "j", "1"); err != nil { // k and j: two keys, the bound
		t.Fatalf("a second key during the replay, with a bound of 2: %v; want it queued", err)
	}
	close(resume)
	testutil.Eventually(t, "the replay and the breaker to close", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, a, "j")
		return ok
	})
	if v, ok := mustGet[string](t, other, "k"); !ok || v != "2" {
		t.Fatalf("other's Get(k) = %q, %v; want the write made during the replay, 2", v, ok)
	}

	// The queue is empty again: two keys fit, a third does not.
	b.down.Store(true)
	for i, k := range []string{"x", "y", "z"} {
		err := a.Set(ctx, k, "v")
		if i < 2 && err != nil {
			t.Fatalf("write %d of 2 with a bound of 2 keys: %v; want it queued", i+1, err)
		}
		if i == 2 && !errors.Is(err, dogpile.ErrBackend) {
			t.Fatalf("a third key over a bound of 2: %v; want it refused (a replayed key taken off the count twice?)", err)
		}
	}
}
