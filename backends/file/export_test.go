package file

import "time"

// SetClock makes b read the time from now, so that tests can age entries
// without waiting.
func SetClock(b *Backend, now func() time.Time) { b.now = now }

// Polls is how many times a Lock of this process has polled a lock held by
// another process, rather than waiting in the OS.
func Polls() int64 { return polls.Load() }

// MaxOSWaits is how many locks held by other processes a process waits for
// in the OS at once.
const MaxOSWaits = maxOSWaits
