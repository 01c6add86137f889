// Package otel exports dogpile regions to OpenTelemetry: their counters
// (Register), their latency histograms (NewProducer) and spans of their work
// (NewTracer). It is a package of its own so that the core does not depend
// on OpenTelemetry.
//
//	users := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithMetrics(),
//		dogpile.WithTracer(dogpileotel.NewTracer(otel.GetTracerProvider())))
//	reg, err := dogpileotel.Register(otel.Meter("myapp"), users)
//	defer reg.Unregister()
//	reader := sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithProducer(dogpileotel.NewProducer(users)))
//
// # Metrics
//
// Every metric has the attribute dogpile.region, the region's name
// (dogpile.WithName). Counters (Register; the regions must be made
// dogpile.WithMetrics), all cumulative sums:
//
//	dogpile.hits               {read}       reads that found a usable value
//	dogpile.misses             {read}       reads that found no usable value
//	dogpile.stale_served       {read}       stale values returned while their key was regenerated
//	dogpile.regenerations      {call}       creator calls that returned a value
//	dogpile.regeneration.time  s            time spent in those calls
//	dogpile.lock_waits         {wait}       waits for another caller's creation or a cross-process lock
//	dogpile.lock_wait.time     s            time spent in those waits
//	dogpile.creator_errors     {call}       creator calls that failed or panicked
//	dogpile.backend_errors     {call}       backend calls that failed
//	dogpile.decode_failures    {read}       stored values that could not be decoded
//	dogpile.rejected           {read}       stored values without an accepted signature
//	dogpile.locks_lost         {creation}   creations whose distributed lock was lost
//	dogpile.negative_hits      {read}       cached "not found" answers returned
//	dogpile.soft_timeouts      {read}       stale values served after the soft timeout
//	dogpile.values_refused     {write}      values the store or the size limit refused
//	dogpile.breaker_trips      {trip}       times the fail-open circuit breaker opened
//	dogpile.recovery.queued    {operation}  operations queued while the backend was down
//	dogpile.recovery.replayed  {operation}  queued operations replayed
//	dogpile.recovery.overflow  {operation}  operations refused by a full recovery queue
//
// Histograms (NewProducer), cumulative, in seconds, with the buckets of
// dogpile.LatencyBounds (100 ns to 10 s):
//
//	dogpile.hit.duration        GetOrCreate and Cached.Call hits (sampled on the memory backends, see dogpile.Latencies)
//	dogpile.creation.duration   creator calls that returned a value
//	dogpile.lock_wait.duration  waits for another caller's creation or a cross-process lock
//
// OpenTelemetry's metric API has no asynchronous histogram, so the
// histograms, which the regions keep themselves (nothing is recorded on the
// OpenTelemetry side at each hit), reach a reader as an SDK Producer.
//
// # Spans
//
// NewTracer makes a dogpile.Tracer. Its spans, named as the core's Span
// constants:
//
//	dogpile.get_or_create        a GetOrCreate or Cached.Call (not a hit on the in-process memory backend)
//	dogpile.get_or_create_multi  a GetOrCreateMulti
//	dogpile.create               a creator call; the creator's context carries it
//	dogpile.lock_wait            a wait for another caller's creation or the cross-process lock
//	dogpile.backend.<operation>  a call of a backend that stores bytes (get, set, delete,
//	                             get_multi, set_multi, delete_multi, compare_and_swap), of kind client
//
// and their attributes:
//
//	dogpile.region   the region's name
//	dogpile.backend  the backend's registered name ("redis", ...)
//	dogpile.outcome  hit, miss, stale, not_found, ok or error (the core's Outcome constants)
//	dogpile.keys     the number of keys, on multi-key spans
//	dogpile.lock     local or distributed, on dogpile.lock_wait
//	dogpile.key      the key, only with WithKeys
//	error.type       the Go type of the error, on a failed span (its status is Error)
//
// Key values are left out unless WithKeys is given, and so are error
// messages, which may quote keys.
package otel

import (
	"context"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/statsexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Register creates the dogpile counters on meter and reports the regions'
// stats at each collection, with the attribute dogpile.region = the region's
// name. Unregister the returned registration to stop.
func Register(meter metric.Meter, regions ...*dogpile.Region) (metric.Registration, error) {
	counters := statsexport.Counters
	instruments := make([]metric.Observable, len(counters))
	fcs := make([]metric.Float64ObservableCounter, len(counters))
	for i, c := range counters {
		fc, err := meter.Float64ObservableCounter(c.OTel, metric.WithUnit(c.Unit), metric.WithDescription(c.Help))
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
				o.ObserveFloat64(fcs[i], c.Value(s), attrs)
			}
		}
		return nil
	}, instruments...)
}
