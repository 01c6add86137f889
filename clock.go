package dogpile

import "time"

// The region's clock: wall time in Unix nanoseconds, read through the
// monotonic clock. time.Now reads two clocks; time.Since on a monotonic
// reading reads one, which halves the cost of the expiry check on every hit.
// The price is that wall-clock steps after start are not followed, which is
// what an expiry check wants anyway.
var (
	clockStart     = time.Now()
	clockStartUnix = clockStart.UnixNano()
)

func nowNanos() int64 { return clockStartUnix + int64(time.Since(clockStart)) }
