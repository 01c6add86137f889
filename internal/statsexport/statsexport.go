// Package statsexport lists the counters of dogpile.Stats and the latency
// histograms of dogpile.Latencies as the metrics exporters publish them, so
// that metrics/prometheus and metrics/otel export the same metrics with the
// same meaning, and a metric added to the core is added to both in one
// place.
package statsexport

import "github.com/dogpile-go/dogpile"

// Counter is one counter of dogpile.Stats.
type Counter struct {
	// Prometheus is the Prometheus name, after the "dogpile_" prefix.
	Prometheus string
	// OTel is the OpenTelemetry instrument name and Unit its unit (UCUM).
	OTel, Unit string
	// Help is the description both exporters give.
	Help string
	// Value reads the counter, in seconds for the times.
	Value func(dogpile.Stats) float64
}

// Counters is every counter of dogpile.Stats, in the order the exporters list
// them.
var Counters = []Counter{
	{"hits_total", "dogpile.hits", "{read}", "Reads that found a usable value.", func(s dogpile.Stats) float64 { return float64(s.Hits) }},
	{"misses_total", "dogpile.misses", "{read}", "Reads that found no usable value.", func(s dogpile.Stats) float64 { return float64(s.Misses) }},
	{"stale_served_total", "dogpile.stale_served", "{read}", "Stale values returned while their key was being regenerated.", func(s dogpile.Stats) float64 { return float64(s.StaleServed) }},
	{"regenerations_total", "dogpile.regenerations", "{call}", "Creator calls that returned a value.", func(s dogpile.Stats) float64 { return float64(s.Regenerations) }},
	{"regeneration_seconds_total", "dogpile.regeneration.time", "s", "Time spent in creator calls that returned a value.", func(s dogpile.Stats) float64 { return s.RegenerationTime.Seconds() }},
	{"lock_waits_total", "dogpile.lock_waits", "{wait}", "Waits for another caller's creation or for a cross-process lock.", func(s dogpile.Stats) float64 { return float64(s.LockWaits) }},
	{"lock_wait_seconds_total", "dogpile.lock_wait.time", "s", "Time spent in those waits.", func(s dogpile.Stats) float64 { return s.LockWaitTime.Seconds() }},
	{"creator_errors_total", "dogpile.creator_errors", "{call}", "Creator calls that failed or panicked.", func(s dogpile.Stats) float64 { return float64(s.CreatorErrors) }},
	{"backend_errors_total", "dogpile.backend_errors", "{call}", "Backend calls that failed.", func(s dogpile.Stats) float64 { return float64(s.BackendErrors) }},
	{"decode_failures_total", "dogpile.decode_failures", "{read}", "Stored values that could not be decoded (read as misses).", func(s dogpile.Stats) float64 { return float64(s.DecodeFailures) }},
	{"rejected_total", "dogpile.rejected", "{read}", "Stored values without an accepted signature (read as misses).", func(s dogpile.Stats) float64 { return float64(s.Rejected) }},
	{"locks_lost_total", "dogpile.locks_lost", "{creation}", "Creations whose distributed lock was lost before they stored their value.", func(s dogpile.Stats) float64 { return float64(s.LocksLost) }},
	{"negative_hits_total", "dogpile.negative_hits", "{read}", "Cached \"not found\" answers returned without running the creator.", func(s dogpile.Stats) float64 { return float64(s.NegativeHits) }},
	{"soft_timeouts_total", "dogpile.soft_timeouts", "{read}", "Stale values served because a regeneration outlasted the soft timeout.", func(s dogpile.Stats) float64 { return float64(s.SoftTimeouts) }},
	{"values_refused_total", "dogpile.values_refused", "{write}", "Values the store (or the region's size limit) refused to hold.", func(s dogpile.Stats) float64 { return float64(s.ValuesRefused) }},
	{"breaker_trips_total", "dogpile.breaker_trips", "{trip}", "Times the fail-open circuit breaker opened.", func(s dogpile.Stats) float64 { return float64(s.BreakerTrips) }},
	{"recovery_queued_total", "dogpile.recovery.queued", "{operation}", "Writes, deletes and invalidations queued while the backend was down.", func(s dogpile.Stats) float64 { return float64(s.RecoveryQueued) }},
	{"recovery_replayed_total", "dogpile.recovery.replayed", "{operation}", "Queued operations replayed once the backend was back.", func(s dogpile.Stats) float64 { return float64(s.RecoveryReplayed) }},
	{"recovery_overflow_total", "dogpile.recovery.overflow", "{operation}", "Operations refused by a full recovery queue.", func(s dogpile.Stats) float64 { return float64(s.RecoveryOverflow) }},
}

// Histogram is one latency histogram of dogpile.Latencies, in seconds.
type Histogram struct {
	// Prometheus is the Prometheus name, after the "dogpile_" prefix; OTel
	// is the OpenTelemetry name.
	Prometheus, OTel string
	// Help is the description both exporters give.
	Help string
	// Of picks the histogram from a region's latencies.
	Of func(dogpile.Latencies) dogpile.Histogram
}

// Histograms is every latency histogram, in the order the exporters list
// them.
var Histograms = []Histogram{
	{"hit_duration_seconds", "dogpile.hit.duration", "Time GetOrCreate and Cached.Call took to return a fresh value (sampled on the in-process memory backends).", func(l dogpile.Latencies) dogpile.Histogram { return l.Hit }},
	{"creation_duration_seconds", "dogpile.creation.duration", "Time creator calls that returned a value ran.", func(l dogpile.Latencies) dogpile.Histogram { return l.Creation }},
	{"lock_wait_duration_seconds", "dogpile.lock_wait.duration", "Time spent waiting for another caller's creation or for a cross-process lock.", func(l dogpile.Latencies) dogpile.Histogram { return l.LockWait }},
}

// Bounds returns the histograms' bucket bounds, dogpile.LatencyBounds, in
// seconds.
func Bounds() []float64 {
	ds := dogpile.LatencyBounds()
	bounds := make([]float64, len(ds))
	for i, d := range ds {
		bounds[i] = d.Seconds()
	}
	return bounds
}
