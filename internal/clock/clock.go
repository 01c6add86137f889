// Package clock is the library's clock: wall time in Unix nanoseconds, read
// precisely on slow paths and coarsely (an atomic load) on hit paths. Regions
// and the local tier of package tiered share it.
//
// The clock follows the wall clock, steps included, but never goes backwards
// within a process: a reading is the monotonic clock plus the largest offset
// between the wall clock and the monotonic clock seen so far. A step forward
// (NTP correcting a slow clock, a VM resumed) raises the offset, and readings
// follow the wall clock at once; a step backward leaves the offset where it
// was, and readings go on at the monotonic clock's pace, ahead of the wall
// clock by the step, rather than freezing or running back. Creation times
// taken from it therefore never go backwards, and elapsed times between two
// readings are never negative.
package clock

import (
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/internal/atomicmax"
)

// Reading the clock is the largest cost of a memory hit: time.Now reads two
// clocks (about 60ns on a KVM guest). So the expiry check on a hit reads a
// coarse clock instead — an atomic load of a value a background goroutine
// refreshes every millisecond — whenever the expiration is long enough
// (≥ CoarseMin, one second) for the coarse clock's lag not to
// matter. The lag is about a millisecond, but more when the process is
// starved of CPU (the refreshing goroutine waits its turn behind every
// runnable goroutine), so shorter expirations always read the precise clock.
// Creation and invalidation times, which are on slow paths, always read the
// precise clock, so that a value created just after an invalidation is never
// taken for one created before it.
//
// The refreshing goroutine starts on first use and stops after a second in
// which nobody read the coarse clock, so an idle program has no timer
// running. Tests that check for leaked goroutines (go.uber.org/goleak) can
// ignore it with goleak.IgnoreTopFunction("github.com/dogpile-go/dogpile/internal/clock.runCoarse").
var (
	clockStart = time.Now()
	// offset is the largest wall-minus-monotonic difference seen: a reading
	// is the monotonic time since clockStart plus offset.
	offset atomic.Int64

	coarseState atomic.Int32 // coarseStopped, coarseIdle or coarseUsed
	coarseNow   atomic.Int64
)

func init() { offset.Store(clockStart.UnixNano()) }

const (
	coarseTick      = time.Millisecond
	coarseIdleTicks = 1000 // stop after a second unused
	// CoarseMin is the shortest expiration checked with the coarse clock:
	// for d ≥ CoarseMin, For(d) is Coarse().
	CoarseMin = time.Second
)

// Now reads the precise clock: wall time, following steps forward at once
// and never going backwards (see the package documentation).
func Now() int64 { return at(time.Now()) }

// at is the reading for t, a time.Now() with its monotonic reading.
func at(t time.Time) int64 {
	// t.Sub uses the monotonic readings of both: no wall clock involved.
	return reading(int64(t.Sub(clockStart)), t.UnixNano())
}

// reading is the clock's reading at mono nanoseconds of monotonic time since
// clockStart, when the wall clock says wall.
func reading(mono, wall int64) int64 {
	atomicmax.Raise(&offset, wall-mono)
	return mono + offset.Load()
}

// Coarse reads the coarse clock: at most about a millisecond behind Now.
// It is small enough to inline: a hit pays two atomic loads of words that
// only change once a millisecond.
func Coarse() int64 {
	if coarseState.Load() == coarseUsed {
		return coarseNow.Load()
	}
	return coarseSlow()
}

// The coarse clock's states. One word holds both whether the refreshing
// goroutine runs and whether the clock was read since its last tick, so
// that the goroutine can stop (coarseIdle to coarseStopped) only if no
// reader marked the clock used in between.
const (
	coarseStopped = iota // no goroutine: readers start one
	coarseIdle           // running, not read since the last tick
	coarseUsed           // running, read since the last tick
)

// coarseSlow is Coarse's first read after a tick, which marks the coarse
// clock used so that it keeps running, or while it is stopped, which starts
// it. Kept out of Coarse, which inlines only while it stays a call.
//
//go:noinline
func coarseSlow() int64 {
	for {
		switch coarseState.Load() {
		case coarseUsed:
			return coarseNow.Load()
		case coarseIdle:
			if coarseState.CompareAndSwap(coarseIdle, coarseUsed) {
				return coarseNow.Load()
			}
		case coarseStopped:
			now := Now()
			coarseNow.Store(now)
			if coarseState.CompareAndSwap(coarseStopped, coarseUsed) {
				go runCoarse()
				return now
			}
		}
	}
}

func runCoarse() {
	t := time.NewTicker(coarseTick)
	defer t.Stop()
	idle := 0
	for range t.C {
		// Now, not the tick's time: the coarse clock follows the precise
		// one, wall-clock steps included, and never runs ahead of it.
		coarseNow.Store(Now())
		if coarseState.CompareAndSwap(coarseUsed, coarseIdle) {
			idle = 0
		} else if idle++; idle >= coarseIdleTicks && coarseState.CompareAndSwap(coarseIdle, coarseStopped) {
			return
		}
	}
}

// For reads the clock precisely enough for an expiration of d: coarsely for
// d of a second or more, precisely otherwise.
func For(d time.Duration) int64 {
	if d >= CoarseMin {
		return Coarse()
	}
	return Now()
}

// Expired reports whether a value created at created is older than exp
// (exp > 0).
func Expired(created int64, exp time.Duration) bool {
	return For(exp)-created > int64(exp)
}

// Func is a clock that replaces the process clock, for tests that run
// regions as hosts whose clocks disagree. Its methods read the process clock
// when the Func is nil, so a nil Func costs a comparison.
type Func func() int64

// Now is Now of f's clock.
func (f Func) Now() int64 {
	if f == nil {
		return Now()
	}
	return f()
}

// Expired is Expired on f's clock.
func (f Func) Expired(created int64, exp time.Duration) bool {
	if f == nil {
		return Expired(created, exp)
	}
	return f()-created > int64(exp)
}

// Coarse is Coarse on f's clock.
func (f Func) Coarse() int64 {
	if f == nil {
		return Coarse()
	}
	return f()
}
