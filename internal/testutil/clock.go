package testutil

import (
	"sync/atomic"
	"time"
)

// Clock is a time source for tests that moves only when told, so that
// expiry is decided without sleeping. Its Now fits the clock hooks
// (dogpile.WithClock, the file backend's); it is safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock standing at start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(start.UnixNano())
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
