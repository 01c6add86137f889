// Package prometheus exports dogpile region metrics to Prometheus: a
// prometheus.Collector over regions made WithMetrics. It is a package of its
// own so that the core does not depend on the Prometheus client.
//
//	users := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithMetrics())
//	prometheus.MustRegister(dogpileprom.NewCollector(users))
package prometheus

import (
	"github.com/dogpile-go/dogpile"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector collects the counters of regions, labelled by region name.
type Collector struct {
	regions []*dogpile.Region
	descs   []metricDesc
}

type metricDesc struct {
	desc  *prometheus.Desc
	value func(dogpile.Stats) float64
}

// NewCollector returns a collector for regions. Each must have been made
// WithMetrics (a region without it reports zeros) and should have a distinct
// name (WithName).
func NewCollector(regions ...*dogpile.Region) *Collector {
	label := []string{"region"}
	counter := func(name, help string, value func(dogpile.Stats) float64) metricDesc {
		return metricDesc{desc: prometheus.NewDesc("dogpile_"+name, help, label, nil), value: value}
	}
	return &Collector{
		regions: regions,
		descs: []metricDesc{
			counter("hits_total", "Reads that found a usable value.", func(s dogpile.Stats) float64 { return float64(s.Hits) }),
			counter("misses_total", "Reads that found no usable value.", func(s dogpile.Stats) float64 { return float64(s.Misses) }),
			counter("stale_served_total", "Stale values returned while their key was being regenerated.", func(s dogpile.Stats) float64 { return float64(s.StaleServed) }),
			counter("regenerations_total", "Creator calls that returned a value.", func(s dogpile.Stats) float64 { return float64(s.Regenerations) }),
			counter("regeneration_seconds_total", "Time spent in creator calls that returned a value.", func(s dogpile.Stats) float64 { return s.RegenerationTime.Seconds() }),
			counter("lock_waits_total", "Waits for another caller's creation or for a cross-process lock.", func(s dogpile.Stats) float64 { return float64(s.LockWaits) }),
			counter("lock_wait_seconds_total", "Time spent in those waits.", func(s dogpile.Stats) float64 { return s.LockWaitTime.Seconds() }),
			counter("creator_errors_total", "Creator calls that failed or panicked.", func(s dogpile.Stats) float64 { return float64(s.CreatorErrors) }),
			counter("backend_errors_total", "Backend calls that failed.", func(s dogpile.Stats) float64 { return float64(s.BackendErrors) }),
			counter("decode_failures_total", "Stored values that could not be decoded (read as misses).", func(s dogpile.Stats) float64 { return float64(s.DecodeFailures) }),
			counter("rejected_total", "Stored values without an accepted signature (read as misses).", func(s dogpile.Stats) float64 { return float64(s.Rejected) }),
			counter("locks_lost_total", "Creations whose distributed lock was lost before they stored their value.", func(s dogpile.Stats) float64 { return float64(s.LocksLost) }),
			counter("negative_hits_total", "Cached \"not found\" answers returned without running the creator.", func(s dogpile.Stats) float64 { return float64(s.NegativeHits) }),
			counter("soft_timeouts_total", "Stale values served because a regeneration outlasted the soft timeout.", func(s dogpile.Stats) float64 { return float64(s.SoftTimeouts) }),
			counter("values_refused_total", "Values the store (or the region's size limit) refused to hold.", func(s dogpile.Stats) float64 { return float64(s.ValuesRefused) }),
			counter("breaker_trips_total", "Times the fail-open circuit breaker opened.", func(s dogpile.Stats) float64 { return float64(s.BreakerTrips) }),
			counter("recovery_queued_total", "Writes, deletes and invalidations queued while the backend was down.", func(s dogpile.Stats) float64 { return float64(s.RecoveryQueued) }),
			counter("recovery_replayed_total", "Queued operations replayed once the backend was back.", func(s dogpile.Stats) float64 { return float64(s.RecoveryReplayed) }),
			counter("recovery_overflow_total", "Operations refused by a full recovery queue.", func(s dogpile.Stats) float64 { return float64(s.RecoveryOverflow) }),
		},
	}
}

// Describe sends the descriptors of the collector's metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

// Collect sends the current value of every metric of every region.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.regions {
		s := r.Stats()
		for _, d := range c.descs {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, d.value(s), r.Name())
		}
	}
}
