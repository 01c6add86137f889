package lock

import (
	"context"
	"sync"
	"sync/atomic"
)

// A Group holds the flights in progress, one per key at most. Callers of one
// key in one process meet in its flight; flights of different keys never wait
// for each other. The zero Group is ready to use; a Group must not be copied
// after first use.
//
// Looking up a flight takes no lock, so a thousand callers that find a stale
// value while it is being regenerated do not queue on a mutex to learn that.
type Group struct {
	mu      sync.Mutex // serializes starting and ending flights
	flights sync.Map   // key → *Flight

	// beforeLock, if not nil, runs in Join and Begin between the lookup
	// that found no flight and taking mu: a test's way into the window in
	// which another caller may start the flight first.
	beforeLock func()
}

// A Flight is the creation of one key's value in progress. Its leader (the
// caller that started it) publishes the outcome with [Flight.Finish]; every
// caller in it reads the outcome with [Flight.Wait].
type Flight struct {
	g       *Group
	key     string
	done    chan struct{}
	waiters atomic.Int32 // callers that joined
	epoch   uint64       // the leader's Batch.Epoch; written before Finish

	// Written once by Finish before done is closed.
	value any
	fresh bool
	err   error
}

func (g *Group) lookup(key string) (*Flight, bool) {
	f, ok := g.flights.Load(key)
	if !ok {
		return nil, false
	}
	return f.(*Flight), true
}

// Join returns the key's flight, starting one if none is in progress.
// leader reports whether this call started it; the leader must call Finish.
func (g *Group) Join(key string) (f *Flight, leader bool) {
	if f, ok := g.lookup(key); ok {
		f.waiters.Add(1)
		return f, false
	}
	if g.beforeLock != nil {
		g.beforeLock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.lookup(key); ok {
		f.waiters.Add(1)
		return f, false
	}
	return g.start(key), true
}

// Begin starts a flight for key only if none is in progress and reports
// whether it did. It is how a caller holding a stale value asks "is anyone
// regenerating this already?" without waiting.
func (g *Group) Begin(key string) (*Flight, bool) {
	if _, ok := g.lookup(key); ok {
		return nil, false
	}
	if g.beforeLock != nil {
		g.beforeLock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.lookup(key); ok {
		return nil, false
	}
	return g.start(key), true
}

// InFlight reports whether a flight for key is in progress.
func (g *Group) InFlight(key string) bool {
	_, ok := g.lookup(key)
	return ok
}

// Waiters returns how many callers have joined key's flight in progress
// (not counting its leader); 0 when there is none.
func (g *Group) Waiters(key string) int {
	if f, ok := g.lookup(key); ok {
		return int(f.waiters.Load())
	}
	return 0
}

// start registers a new flight; g.mu is held.
func (g *Group) start(key string) *Flight {
	f := &Flight{g: g, key: key, done: make(chan struct{})}
	g.flights.Store(key, f)
	return f
}

// Finish publishes the flight's outcome and ends it: the key is free for a new
// flight, and every Wait returns. fresh reports whether value is newly created
// or newly loaded, rather than the stale value handed back because another
// process is regenerating. Finish must be called exactly once.
func (f *Flight) Finish(value any, fresh bool, err error) {
	f.g.mu.Lock()
	f.g.flights.CompareAndDelete(f.key, f)
	f.g.mu.Unlock()
	f.value, f.fresh, f.err = value, fresh, err
	close(f.done)
}

// Wait returns the flight's outcome once it is finished, or ctx.Err() as soon
// as ctx ends, whichever comes first. Ending the wait does not end the flight.
func (f *Flight) Wait(ctx context.Context) (value any, fresh bool, err error) {
	select {
	case <-f.done:
		return f.value, f.fresh, f.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// Done returns a channel that is closed when the flight is finished.
func (f *Flight) Done() <-chan struct{} { return f.done }
