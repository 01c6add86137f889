package clock

import (
	"testing"
	"time"
)

// setOffset replaces the clock's offset for one test and restores it after.
func setOffset(t *testing.T, off int64) {
	t.Helper()
	old := offset.Load()
	offset.Store(off)
	t.Cleanup(func() { offset.Store(old) })
}

// The clock follows a wall-clock step forward at once, and never goes back
// after a step backward: it keeps the monotonic pace from where it was.
func TestFollowsWallClockStepsNeverGoesBack(t *testing.T) {
	const base = int64(1_700_000_000) * int64(time.Second)
	setOffset(t, base)
	s := int64(time.Second)
	if got := reading(1*s, base+1*s); got != base+1*s {
		t.Fatalf("no step: %d, want %d", got-base, 1*s)
	}
	// NTP steps the wall clock 10 minutes forward.
	step := int64(10 * time.Minute)
	if got := reading(2*s, base+2*s+step); got != base+2*s+step {
		t.Fatalf("after a forward step: %d, want %d", got-base, 2*s+step)
	}
	if got := reading(3*s, base+3*s+step); got != base+3*s+step {
		t.Fatalf("after the forward step, a second later: %d, want %d", got-base, 3*s+step)
	}
	// And 10 minutes back: the reading goes on a second later, not back.
	if got := reading(4*s, base+4*s); got != base+4*s+step {
		t.Fatalf("after a backward step: %d, want %d (never back)", got-base, 4*s+step)
	}
	// Once the wall clock has caught up, it follows the wall clock again.
	if got := reading(5*s, base+5*s+2*step); got != base+5*s+2*step {
		t.Fatalf("after the wall clock passed it: %d, want %d", got-base, 5*s+2*step)
	}
}

// Readings never decrease, whatever the wall clock does in between.
func TestNowIsMonotonic(t *testing.T) {
	prev := Now()
	for range 10000 {
		now := Now()
		if now < prev {
			t.Fatalf("Now went back from %d to %d", prev, now)
		}
		prev = now
	}
}

// The coarse clock follows the precise one, steps included.
func TestCoarseFollowsSteps(t *testing.T) {
	Coarse() // starts it
	step := int64(time.Hour)
	setOffset(t, offset.Load()+step)
	want := Now()
	deadline := time.Now().Add(10 * time.Second)
	for Coarse() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the coarse clock never followed a step: %d < %d", Coarse(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// A Func replaces the clock; a nil one is the process clock.
func TestFunc(t *testing.T) {
	var none Func
	if d := none.Now() - Now(); d > int64(time.Second) || d < -int64(time.Second) {
		t.Fatalf("a nil Func is %v away from Now", time.Duration(d))
	}
	fixed := Func(func() int64 { return 100 })
	if fixed.Now() != 100 || fixed.Coarse() != 100 {
		t.Fatal("a Func's readings are not its own")
	}
	if fixed.Expired(50, 60) || !fixed.Expired(39, 60) {
		t.Fatal("Func.Expired does not compare with the Func's reading")
	}
}

// The coarse clock's goroutine stops after a second unread, and the next
// read starts it again with a fresh reading — never the stale one it
// stopped at.
func TestCoarseStopsWhenIdleAndRestarts(t *testing.T) {
	Coarse()
	if s := coarseState.Load(); s == coarseStopped {
		t.Fatal("a read left the coarse clock stopped")
	}
	deadline := time.Now().Add(10 * time.Second)
	for coarseState.Load() != coarseStopped { // nothing reads it now
		if time.Now().After(deadline) {
			t.Fatal("the coarse clock kept running unread")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stale := coarseNow.Load()
	time.Sleep(5 * time.Millisecond) // the precise clock moves past the last tick
	before := Now()
	if got := Coarse(); got < before || got <= stale {
		t.Fatalf("first read after the stop = %d, want ≥ %d (Now before it), not the stale %d", got, before, stale)
	}
	if s := coarseState.Load(); s != coarseUsed {
		t.Fatalf("state after a restart = %d, want coarseUsed", s)
	}
}

// On a Func's clock a value exactly exp old is not yet expired: it expires
// once it is older than exp.
func TestFuncExpiredAtExactlyTheExpiration(t *testing.T) {
	fixed := Func(func() int64 { return 100 })
	if fixed.Expired(40, 60) {
		t.Fatal("a value exactly 60ns old is expired under an expiration of 60ns")
	}
}
