// Package otel exports dogpile region metrics to OpenTelemetry as observable
// counters, read from regions made WithMetrics at each collection. It is a
// package of its own so that the core does not depend on OpenTelemetry.
//
//	users := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithMetrics())
//	reg, err := dogpileotel.Register(otel.Meter("myapp"), users)
//	defer reg.Unregister()
package otel

import (
	"context"

	"github.com/dogpile-go/dogpile"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Register creates the dogpile counters on meter and reports the regions'
// stats at each collection, with the attribute dogpile.region = the region's
// name. Unregister the returned registration to stop.
func Register(meter metric.Meter, regions ...*dogpile.Region) (metric.Registration, error) {
	type counter struct {
		name, unit, help string
		value            func(dogpile.Stats) float64
	}
	counters := []counter{
		{"dogpile.hits", "{read}", "Reads that found a usable value.", func(s dogpile.Stats) float64 { return float64(s.Hits) }},
		{"dogpile.misses", "{read}", "Reads that found no usable value.", func(s dogpile.Stats) float64 { return float64(s.Misses) }},
		{"dogpile.stale_served", "{read}", "Stale values returned while their key was being regenerated.", func(s dogpile.Stats) float64 { return float64(s.StaleServed) }},
		{"dogpile.regenerations", "{call}", "Creator calls that returned a value.", func(s dogpile.Stats) float64 { return float64(s.Regenerations) }},
		{"dogpile.regeneration.time", "s", "Time spent in creator calls that returned a value.", func(s dogpile.Stats) float64 { return s.RegenerationTime.Seconds() }},
		{"dogpile.lock_waits", "{wait}", "Waits for another caller's creation or a cross-process lock.", func(s dogpile.Stats) float64 { return float64(s.LockWaits) }},
		{"dogpile.lock_wait.time", "s", "Time spent in those waits.", func(s dogpile.Stats) float64 { return s.LockWaitTime.Seconds() }},
		{"dogpile.creator_errors", "{call}", "Creator calls that failed or panicked.", func(s dogpile.Stats) float64 { return float64(s.CreatorErrors) }},
		{"dogpile.backend_errors", "{call}", "Backend calls that failed.", func(s dogpile.Stats) float64 { return float64(s.BackendErrors) }},
		{"dogpile.decode_failures", "{read}", "Stored values that could not be decoded.", func(s dogpile.Stats) float64 { return float64(s.DecodeFailures) }},
		{"dogpile.rejected", "{read}", "Stored values without an accepted signature.", func(s dogpile.Stats) float64 { return float64(s.Rejected) }},
		{"dogpile.locks_lost", "{creation}", "Creations whose distributed lock was lost before they stored their value.", func(s dogpile.Stats) float64 { return float64(s.LocksLost) }},
		{"dogpile.negative_hits", "{read}", "Cached \"not found\" answers returned without running the creator.", func(s dogpile.Stats) float64 { return float64(s.NegativeHits) }},
		{"dogpile.soft_timeouts", "{read}", "Stale values served because a regeneration outlasted the soft timeout.", func(s dogpile.Stats) float64 { return float64(s.SoftTimeouts) }},
		{"dogpile.values_refused", "{write}", "Values the store (or the region's size limit) refused to hold.", func(s dogpile.Stats) float64 { return float64(s.ValuesRefused) }},
		{"dogpile.breaker_trips", "{trip}", "Times the fail-open circuit breaker opened.", func(s dogpile.Stats) float64 { return float64(s.BreakerTrips) }},
		{"dogpile.recovery.queued", "{operation}", "Writes, deletes and invalidations queued while the backend was down.", func(s dogpile.Stats) float64 { return float64(s.RecoveryQueued) }},
		{"dogpile.recovery.replayed", "{operation}", "Queued operations replayed once the backend was back.", func(s dogpile.Stats) float64 { return float64(s.RecoveryReplayed) }},
		{"dogpile.recovery.overflow", "{operation}", "Operations refused by a full recovery queue.", func(s dogpile.Stats) float64 { return float64(s.RecoveryOverflow) }},
	}
	instruments := make([]metric.Observable, len(counters))
	fcs := make([]metric.Float64ObservableCounter, len(counters))
	for i, c := range counters {
		fc, err := meter.Float64ObservableCounter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.help))
		if err != nil {
			return nil, err
		}
		fcs[i], instruments[i] = fc, fc
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, r := range regions {
			s := r.Stats()
			attrs := metric.WithAttributes(attribute.String("dogpile.region", r.Name()))
			for i, c := range counters {
				o.ObserveFloat64(fcs[i], c.value(s), attrs)
			}
		}
		return nil
	}, instruments...)
}
