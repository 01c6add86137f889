// Package prometheus exports dogpile region metrics to Prometheus: a
// prometheus.Collector over regions made WithMetrics. It is a package of its
// own so that the core does not depend on the Prometheus client.
//
//	users := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithMetrics())
//	prometheus.MustRegister(dogpileprom.NewCollector(users))
//
// # Metrics
//
// Every metric has the label region, the region's name (dogpile.WithName).
// Counters:
//
//	dogpile_hits_total                  reads that found a usable value
//	dogpile_misses_total                reads that found no usable value
//	dogpile_stale_served_total          stale values returned while their key was regenerated
//	dogpile_regenerations_total         creator calls that returned a value
//	dogpile_regeneration_seconds_total  time spent in those calls
//	dogpile_lock_waits_total            waits for another caller's creation or a cross-process lock
//	dogpile_lock_wait_seconds_total     time spent in those waits
//	dogpile_creator_errors_total        creator calls that failed or panicked
//	dogpile_backend_errors_total        backend calls that failed
//	dogpile_decode_failures_total       stored values that could not be decoded
//	dogpile_rejected_total              stored values without an accepted signature
//	dogpile_locks_lost_total            creations whose distributed lock was lost
//	dogpile_negative_hits_total         cached "not found" answers returned
//	dogpile_soft_timeouts_total         stale values served after the soft timeout
//	dogpile_values_refused_total        values the store or the size limit refused
//	dogpile_breaker_trips_total         times the fail-open circuit breaker opened
//	dogpile_recovery_queued_total       operations queued while the backend was down
//	dogpile_recovery_replayed_total     queued operations replayed
//	dogpile_recovery_overflow_total     operations refused by a full recovery queue
//
// Histograms, in seconds, with the buckets of dogpile.LatencyBounds (100 ns
// to 10 s), which the regions keep themselves (collecting reads them; a hit
// records nothing on the Prometheus side):
//
//	dogpile_hit_duration_seconds        GetOrCreate and Cached.Call hits (sampled on the memory backends, see dogpile.Latencies)
//	dogpile_creation_duration_seconds   creator calls that returned a value
//	dogpile_lock_wait_duration_seconds  waits for another caller's creation or a cross-process lock
package prometheus

import (
	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/statsexport"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector collects the counters and latency histograms of regions,
// labelled by region name.
type Collector struct {
	regions    []*dogpile.Region
	descs      []metricDesc
	histograms []histogramDesc
	bounds     []float64 // dogpile.LatencyBounds, in seconds
}

type histogramDesc struct {
	desc *prometheus.Desc
	of   func(dogpile.Latencies) dogpile.Histogram
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
	descs := make([]metricDesc, len(statsexport.Counters))
	for i, c := range statsexport.Counters {
		descs[i] = metricDesc{desc: prometheus.NewDesc("dogpile_"+c.Prometheus, c.Help, label, nil), value: c.Value}
	}
	histograms := make([]histogramDesc, len(statsexport.Histograms))
	for i, h := range statsexport.Histograms {
		histograms[i] = histogramDesc{desc: prometheus.NewDesc("dogpile_"+h.Prometheus, h.Help, label, nil), of: h.Of}
	}
	return &Collector{regions: regions, bounds: statsexport.Bounds(), descs: descs, histograms: histograms}
}

// Describe sends the descriptors of the collector's metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
	for _, h := range c.histograms {
		ch <- h.desc
	}
}

// Collect sends the current value of every metric of every region.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.regions {
		s := r.Stats()
		for _, d := range c.descs {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, d.value(s), r.Name())
		}
		l := r.Latencies()
		for _, h := range c.histograms {
			ch <- c.constHistogram(h.desc, h.of(l), r.Name())
		}
	}
}

// constHistogram is h as Prometheus has histograms: cumulative buckets by
// upper bound (the last of h's counts, above every bound, is +Inf's, which
// is the total count).
func (c *Collector) constHistogram(desc *prometheus.Desc, h dogpile.Histogram, region string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(c.bounds))
	var n uint64
	for i, b := range c.bounds {
		n += h.Counts[i]
		buckets[b] = n
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum.Seconds(), buckets, region)
}
