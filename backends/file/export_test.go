package file

import "time"

// SetClock makes b read the time from now, so that tests can age entries
// without waiting.
func SetClock(b *Backend, now func() time.Time) { b.now = now }
