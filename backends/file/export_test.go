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

// OSWaits is how many bytes of b's lock file this process now waits for in
// the OS.
func OSWaits(b *Backend) int {
	lf := b.locks
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return len(lf.waits)
}

// OSWaiters is how many Lock calls of this process wait on the OS wait for
// key's byte in b's lock file (0 when there is none).
func OSWaiters(b *Backend, key string) int {
	lf := b.locks
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if w := lf.waits[keyOffset(key)]; w != nil {
		return w.waiters
	}
	return 0
}
