package dogpile

import (
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/lock"
)

// Event is something a region did, reported to its Observer.
type Event uint8

const (
	// EventHit: a usable value was found.
	EventHit Event = iota
	// EventMiss: no usable value was found (missing, expired for Get, hard
	// invalidated, or undecodable).
	EventMiss
	// EventStaleServed: a stale value was returned while the key is being
	// regenerated.
	EventStaleServed
	// EventRegenerated: a creator returned a value; the duration is how long
	// it ran.
	EventRegenerated
	// EventLockWait: a caller waited for another caller's creation, or a
	// creation waited for the cross-process lock; the duration is the wait.
	EventLockWait
	// EventCreatorError: a creator returned an error or panicked; the
	// duration is how long it ran.
	EventCreatorError
	// EventBackendError: a backend call failed.
	EventBackendError
	// EventDecodeFailure: stored bytes could not be decoded (read as a miss).
	EventDecodeFailure
	// EventRejected: stored bytes were not signed by an accepted key (read as
	// a miss; see WithSigning).
	EventRejected
	// EventLockLost: a creation lost its distributed lock before it stored
	// its value (the lock expired while its holder was stalled, was evicted,
	// or was lost when the store restarted or failed over). Its value was
	// not written over a later holder's.
	EventLockLost
	// EventNegativeHit: a cached "not found" answer was returned (see
	// ErrNotFound) without running the creator.
	EventNegativeHit
	// EventSoftTimeout: a caller was served a stale value because its
	// regeneration outlasted the soft timeout (see WithSoftTimeout); the
	// duration is its wait. It is counted as EventStaleServed too.
	EventSoftTimeout
	// EventValueRefused: the store refused one value (too large, out of
	// memory; see ErrValueRefused), or the region's size limit did. Nothing
	// was stored under its key; the breaker was not tripped.
	EventValueRefused
	// EventBreakerOpen: a fail-open region's circuit breaker opened: the
	// backend is skipped until a probe finds it back (see WithFailOpen).
	EventBreakerOpen
	// EventRecoveryQueued: a write, delete or invalidation the backend could
	// not take was queued for replay (see WithAutoRecovery).
	EventRecoveryQueued
	// EventRecoveryReplayed: a queued operation was replayed on the backend.
	EventRecoveryReplayed
	// EventRecoveryOverflow: an operation could not be queued, the queue
	// being full; its error was returned.
	EventRecoveryOverflow
	numEvents
)

var eventNames = [numEvents]string{"hit", "miss", "stale_served", "regenerated", "lock_wait", "creator_error", "backend_error", "decode_failure", "rejected", "lock_lost",
	"negative_hit", "soft_timeout", "value_refused", "breaker_open", "recovery_queued", "recovery_replayed", "recovery_overflow"}

func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "unknown"
}

// Observer is told what a region does: the hook for metrics. A region with
// an observer calls Observe on every hit, so it must be cheap (an atomic add)
// and safe for concurrent use. d is zero for events without a duration.
type Observer interface {
	Observe(e Event, d time.Duration)
}

// WithObserver sets the region's observer (see WithMetrics for the built-in
// counters).
func WithObserver(o Observer) RegionOption { return func(r *Region) { r.obs = o } }

// WithMetrics makes the region count its events in a Metrics, read with
// Region.Stats (and exported by the metrics/prometheus and metrics/otel
// packages). Counting costs an atomic add per call; a region without it
// counts nothing.
func WithMetrics() RegionOption {
	return func(r *Region) {
		r.metrics = &Metrics{}
		r.obs = r.metrics
	}
}

// Metrics counts a region's events. The zero value is ready; it is safe for
// concurrent use.
type Metrics struct {
	counts [numEvents]paddedCounter
	nanos  [numEvents]paddedCounter
}

// paddedCounter keeps each counter on its own cache line, so that counting
// hits on one core does not slow counting misses on another.
type paddedCounter struct {
	atomic.Uint64
	_ [56]byte
}

// Observe counts e (and adds d to its total time).
func (m *Metrics) Observe(e Event, d time.Duration) {
	if e >= numEvents {
		return
	}
	m.counts[e].Add(1)
	if d > 0 {
		m.nanos[e].Add(uint64(d))
	}
}

// Stats is a snapshot of a region's counters.
type Stats struct {
	Hits             uint64
	Misses           uint64
	StaleServed      uint64
	Regenerations    uint64
	RegenerationTime time.Duration // total time creators ran, successful ones
	LockWaits        uint64
	LockWaitTime     time.Duration // total time spent waiting
	CreatorErrors    uint64
	BackendErrors    uint64
	DecodeFailures   uint64
	Rejected         uint64 // entries without an accepted signature
	LocksLost        uint64 // creations whose distributed lock was lost
	NegativeHits     uint64 // cached "not found" answers returned (ErrNotFound)
	SoftTimeouts     uint64 // stale values served after the soft timeout
	ValuesRefused    uint64 // values the store or the size limit refused
	BreakerTrips     uint64 // times the fail-open breaker opened
	RecoveryQueued   uint64 // operations queued while the backend was down
	RecoveryReplayed uint64 // queued operations replayed
	RecoveryOverflow uint64 // operations refused by a full recovery queue
}

// Snapshot returns the current counts.
func (m *Metrics) Snapshot() Stats {
	return Stats{
		Hits:             m.counts[EventHit].Load(),
		Misses:           m.counts[EventMiss].Load(),
		StaleServed:      m.counts[EventStaleServed].Load(),
		Regenerations:    m.counts[EventRegenerated].Load(),
		RegenerationTime: time.Duration(m.nanos[EventRegenerated].Load()),
		LockWaits:        m.counts[EventLockWait].Load(),
		LockWaitTime:     time.Duration(m.nanos[EventLockWait].Load()),
		CreatorErrors:    m.counts[EventCreatorError].Load(),
		BackendErrors:    m.counts[EventBackendError].Load(),
		DecodeFailures:   m.counts[EventDecodeFailure].Load(),
		Rejected:         m.counts[EventRejected].Load(),
		LocksLost:        m.counts[EventLockLost].Load(),
		NegativeHits:     m.counts[EventNegativeHit].Load(),
		SoftTimeouts:     m.counts[EventSoftTimeout].Load(),
		ValuesRefused:    m.counts[EventValueRefused].Load(),
		BreakerTrips:     m.counts[EventBreakerOpen].Load(),
		RecoveryQueued:   m.counts[EventRecoveryQueued].Load(),
		RecoveryReplayed: m.counts[EventRecoveryReplayed].Load(),
		RecoveryOverflow: m.counts[EventRecoveryOverflow].Load(),
	}
}

// Stats returns a snapshot of the region's counters; zero unless the region
// was made WithMetrics.
func (r *Region) Stats() Stats {
	if r.metrics == nil {
		return Stats{}
	}
	return r.metrics.Snapshot()
}

func (r *Region) observe(e Event, d time.Duration) {
	if r.obs != nil {
		r.obs.Observe(e, d)
	}
}

// lockObserver maps the lock's events to the region's observer. The
// lock's Created and CreateFailed are not among them: its Create stores the
// value too, and a store that failed is no creator error, so the region
// times its creators itself (runCreator).
func (r *Region) lockObserver() func(lock.Event, time.Duration) {
	if r.obs == nil {
		return nil
	}
	return func(e lock.Event, d time.Duration) {
		switch e {
		case lock.ServedStale:
			r.obs.Observe(EventStaleServed, 0)
		case lock.Waited, lock.MutexWaited:
			r.obs.Observe(EventLockWait, d)
		case lock.SoftTimedOut:
			r.obs.Observe(EventSoftTimeout, d)
		case lock.LeaseLost:
			r.obs.Observe(EventLockLost, 0)
		case lock.MutexFailed:
			r.obs.Observe(EventBackendError, 0)
		}
	}
}
