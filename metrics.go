package dogpile

import (
	"slices"
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
// and safe for concurrent use. d is zero for events without a duration, hits
// included (a region made WithMetrics times a sample of its hits itself,
// see Latencies).
type Observer interface {
	// Observe is told that e happened, and how long it took where e has a
	// duration.
	Observe(e Event, d time.Duration)
}

// WithObserver sets the region's observer (see WithMetrics for the built-in
// counters).
func WithObserver(o Observer) RegionOption {
	return func(r *Region) {
		r.obs = o
		if r.metrics != nil && o != Observer(r.metrics) {
			// WithMetrics's counters, replaced: they would count nothing
			// (so Stats reads zero either way), and hitStart must not
			// time every hit by their hit count staying 0.
			r.metrics = nil
		}
	}
}

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

// Metrics counts a region's events, and keeps histograms of the latency of
// its hits, creations and lock waits (Latencies). The zero value is ready;
// it is safe for concurrent use.
type Metrics struct {
	counts [numEvents]paddedCounter
	nanos  [numEvents]paddedCounter
	hist   [numLatencies]histogram
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
		if l := latencyOf[e]; l != 0 {
			m.hist[l-1].observe(d)
		}
	}
}

// The histograms of Metrics, each one more than its index.
const (
	latencyHit = iota + 1
	latencyCreation
	latencyLockWait
	numLatencies = 3
)

// latencyOf maps the events whose durations are kept in a histogram to it
// (plus one: zero is none).
var latencyOf = [numEvents]uint8{EventHit: latencyHit, EventRegenerated: latencyCreation, EventLockWait: latencyLockWait}

// latencyBounds are the upper bounds of the buckets of the latency
// histograms: 100 ns to 10 s in steps of 1, 2.5, 5 per decade, so that a
// hit in process memory (sub-microsecond), a Redis round trip (a few hundred
// microseconds) and a creator's database query (milliseconds to seconds)
// each fall on buckets of their own.
var latencyBounds = [...]time.Duration{
	100 * time.Nanosecond, 250 * time.Nanosecond, 500 * time.Nanosecond,
	time.Microsecond, 2500 * time.Nanosecond, 5 * time.Microsecond,
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// LatencyBounds returns the upper bounds of the buckets of the latency
// histograms (Histogram.Counts has one more, for the latencies above the
// last): 100 ns to 10 s, in steps of 1, 2.5 and 5 per decade.
func LatencyBounds() []time.Duration { return slices.Clone(latencyBounds[:]) }

const numBuckets = len(latencyBounds) + 1

// histogram counts durations in the buckets of latencyBounds. Its counters
// are not padded: hits are timed one in hitSample, the rest are slow paths.
type histogram struct {
	buckets [numBuckets]atomic.Uint64
	sum     atomic.Uint64 // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	i, _ := slices.BinarySearch(latencyBounds[:], d) // the first bound at or above d
	h.buckets[i].Add(1)
	h.sum.Add(uint64(d))
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{Counts: make([]uint64, numBuckets), Sum: time.Duration(h.sum.Load())}
	for i := range h.buckets {
		out.Counts[i] = h.buckets[i].Load()
		out.Count += out.Counts[i]
	}
	return out
}

// Histogram is a snapshot of a latency histogram: Counts[i] latencies were
// at most LatencyBounds()[i] (and above the bound before), the last count
// those above every bound.
type Histogram struct {
	Counts []uint64
	Count  uint64        // the sum of Counts
	Sum    time.Duration // the sum of the latencies
}

// Latencies are a region's latency histograms.
type Latencies struct {
	// Hit is how long GetOrCreate and Cached.Call took to return a fresh
	// value. On the in-process memory backends (memory, memory_serialized)
	// one hit in 1024 is timed (reading the clock costs more than the hit),
	// so its Count is a sample of Hits; on every other backend each hit is.
	Hit Histogram
	// Creation is how long creators ran that returned a value (or a "not
	// found").
	Creation Histogram
	// LockWait is how long callers waited for another caller's creation,
	// and creations for the cross-process lock.
	LockWait Histogram
}

// Latencies returns a snapshot of the latency histograms.
func (m *Metrics) Latencies() Latencies {
	return Latencies{
		Hit:      m.hist[latencyHit-1].snapshot(),
		Creation: m.hist[latencyCreation-1].snapshot(),
		LockWait: m.hist[latencyLockWait-1].snapshot(),
	}
}

// Latencies returns a snapshot of the region's latency histograms; empty
// unless the region was made WithMetrics.
func (r *Region) Latencies() Latencies {
	if r.metrics == nil {
		var m Metrics
		return m.Latencies()
	}
	return r.metrics.Latencies()
}

// hitSample is how many memory hits go by for one that is timed: a power of
// two. Timing one costs two clock reads, ~120 ns on a KVM guest, about
// four times a hit: one in 1024 makes that 0.1 ns a hit, and still gives a
// histogram a thousand samples a second at a million hits a second.
const hitSample = 1024

// processStart is the origin of hitStart's monotonic clock.
var processStart = time.Now()

// hitStart is the time a read that may be a hit began, for Metrics's hit
// histogram, or 0 when the read is not timed: without Metrics, or on the
// in-process memory backends for all but one hit in hitSample (picked by
// the count of hits so far: a load of a counter the hit adds to anyway).
func (r *Region) hitStart(s *regionState) int64 {
	if r.metrics == nil || s.inProcess && r.metrics.counts[EventHit].Load()&(hitSample-1) != 0 {
		return 0
	}
	return int64(time.Since(processStart)) + 1 // never 0
}

// inProcess reports whether s's store is process memory, whose hits take
// less time than reading the clock twice (regionState.inProcess).
func inProcess(s *regionState) bool {
	if s.mem != nil {
		return true
	}
	switch s.real.(type) {
	case *MemoryBackend, serializedMemory:
		return true
	}
	return false
}

// observeHit counts a hit that began at start (hitStart). It calls the
// region's Metrics directly rather than through the Observer interface:
// a hit's count is most of what observability costs a memory hit.
func (r *Region) observeHit(start int64) {
	if m := r.metrics; m != nil { // then r.obs is m (WithObserver)
		m.counts[EventHit].Add(1)
		if start != 0 {
			m.hist[latencyHit-1].observe(hitTime(start))
		}
		return
	}
	if r.obs != nil {
		r.obs.Observe(EventHit, 0)
	}
}

// hitTime is how long the hit that began at start (hitStart) took; 0 when
// it was not timed.
func hitTime(start int64) time.Duration {
	if start == 0 {
		return 0
	}
	return time.Since(processStart) + 1 - time.Duration(start)
}

// Stats is a snapshot of a region's counters, one for each Event (the
// event named beside a field says exactly what it counts). The counts only
// grow: subtract two snapshots for a rate.
type Stats struct {
	Hits             uint64        // usable values found (EventHit)
	Misses           uint64        // lookups that found no usable value (EventMiss)
	StaleServed      uint64        // stale values returned during a regeneration (EventStaleServed)
	Regenerations    uint64        // creators that returned a value (EventRegenerated)
	RegenerationTime time.Duration // total time those creators ran
	LockWaits        uint64        // waits for another caller's creation or the distributed lock (EventLockWait)
	LockWaitTime     time.Duration // total time spent waiting
	CreatorErrors    uint64        // creators that returned an error or panicked (EventCreatorError)
	BackendErrors    uint64        // failed backend calls (EventBackendError)
	DecodeFailures   uint64        // stored bytes that could not be decoded (EventDecodeFailure)
	Rejected         uint64        // entries without an accepted signature (EventRejected)
	LocksLost        uint64        // creations whose distributed lock was lost (EventLockLost)
	NegativeHits     uint64        // cached "not found" answers returned (EventNegativeHit)
	SoftTimeouts     uint64        // stale values served after the soft timeout (EventSoftTimeout)
	ValuesRefused    uint64        // values the store or the size limit refused (EventValueRefused)
	BreakerTrips     uint64        // times the fail-open breaker opened (EventBreakerOpen)
	RecoveryQueued   uint64        // operations queued while the backend was down (EventRecoveryQueued)
	RecoveryReplayed uint64        // queued operations replayed (EventRecoveryReplayed)
	RecoveryOverflow uint64        // operations refused by a full recovery queue (EventRecoveryOverflow)
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
