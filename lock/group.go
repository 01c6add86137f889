package lock

import (
	"context"
	"sync"
)

// A Group holds the flights in progress, one per key at most. Callers of one
// key in one process meet in its flight; flights of different keys never wait
// for each other. The zero Group is ready to use; a Group must not be copied
// after first use.
type Group struct {
	mu      sync.Mutex
	flights map[string]*Flight
}

// A Flight is the creation of one key's value in progress. Its leader (the
// caller that started it) publishes the outcome with [Flight.Finish]; every
// caller in it reads the outcome with [Flight.Wait].
type Flight struct {
	g    *Group
	key  string
	done chan struct{}

	// Written once by Finish before done is closed.
	value any
	fresh bool
	err   error
}

// Join returns the key's flight, starting one if none is in progress.
// leader reports whether this call started it; the leader must call Finish.
func (g *Group) Join(key string) (f *Flight, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[key]; ok {
		return f, false
	}
	return g.start(key), true
}

// Begin starts a flight for key only if none is in progress and reports
// whether it did. It is how a caller holding a stale value asks "is anyone
// regenerating this already?" without waiting.
func (g *Group) Begin(key string) (*Flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.flights[key]; ok {
		return nil, false
	}
	return g.start(key), true
}

// InFlight reports whether a flight for key is in progress.
func (g *Group) InFlight(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.flights[key]
	return ok
}

func (g *Group) start(key string) *Flight {
	if g.flights == nil {
		g.flights = make(map[string]*Flight)
	}
	f := &Flight{g: g, key: key, done: make(chan struct{})}
	g.flights[key] = f
	return f
}

// Finish publishes the flight's outcome and ends it: the key is free for a new
// flight, and every Wait returns. fresh reports whether value is newly created
// or newly loaded, rather than the stale value handed back because another
// process is regenerating. Finish must be called exactly once.
func (f *Flight) Finish(value any, fresh bool, err error) {
	f.g.mu.Lock()
	if f.g.flights[f.key] == f {
		delete(f.g.flights, f.key)
	}
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
