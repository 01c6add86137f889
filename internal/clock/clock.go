// Package clock is the library's clock: wall time in Unix nanoseconds, read
// precisely on slow paths and coarsely (an atomic load) on hit paths. Regions
// and the local tier of package tiered share it.
package clock

import (
	"sync/atomic"
	"time"
)

// Reading the clock is the largest cost of a memory hit: time.Now reads two
// clocks (about 60ns on a KVM guest), time.Since on a monotonic reading reads
// one (about 30ns). So the expiry check on a hit reads a coarse clock instead
// — an atomic load of a value a background goroutine refreshes every
// millisecond — whenever the expiration is long enough (≥ coarseMinExpiration,
// one second) for the coarse clock's lag not to matter. The lag is about a
// millisecond, but more when the process is starved of CPU (the refreshing
// goroutine waits its turn behind every runnable goroutine), so shorter
// expirations always read the precise clock. Creation and invalidation times, which are
// on slow paths, always read the precise clock, so that a value created just
// after an invalidation is never taken for one created before it.
//
// The refreshing goroutine starts on first use and stops after a second in
// which nobody read the coarse clock, so an idle program has no timer
// running. Tests that check for leaked goroutines (go.uber.org/goleak) can
// ignore it with goleak.IgnoreTopFunction("github.com/dogpile-go/dogpile/internal/clock.runCoarse").
var (
	clockStart     = time.Now()
	clockStartUnix = clockStart.UnixNano()

	coarseRunning atomic.Bool
	coarseUsed    atomic.Bool
	coarseNow     atomic.Int64
)

const (
	coarseTick          = time.Millisecond
	coarseIdleTicks     = 1000 // stop after a second unused
	coarseMinExpiration = time.Second
)

// Now reads the precise clock: wall time through the monotonic clock,
// so one clock read, and wall-clock steps after start are not followed (an
// expiry check wants elapsed time anyway).
func Now() int64 { return clockStartUnix + int64(time.Since(clockStart)) }

// Coarse reads the coarse clock: at most about a millisecond behind.
func Coarse() int64 {
	if coarseRunning.Load() {
		if !coarseUsed.Load() {
			coarseUsed.Store(true)
		}
		return coarseNow.Load()
	}
	now := Now()
	if coarseRunning.CompareAndSwap(false, true) {
		coarseNow.Store(now)
		coarseUsed.Store(true)
		go runCoarse()
	}
	return now
}

func runCoarse() {
	t := time.NewTicker(coarseTick)
	defer t.Stop()
	idle := 0
	for range t.C {
		coarseNow.Store(Now())
		if coarseUsed.Swap(false) {
			idle = 0
		} else if idle++; idle >= coarseIdleTicks {
			coarseRunning.Store(false)
			return
		}
	}
}

// For reads the clock precisely enough for an expiration of d: coarsely for
// d of a second or more, precisely otherwise.
func For(d time.Duration) int64 {
	if d >= coarseMinExpiration {
		return Coarse()
	}
	return Now()
}

// Expired reports whether a value created at created is older than exp
// (exp > 0).
func Expired(created int64, exp time.Duration) bool {
	return For(exp)-created > int64(exp)
}
