package otel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dogpile-go/dogpile"
	dogpileotel "github.com/dogpile-go/dogpile/metrics/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Spans of a region's work, on an OpenTelemetry tracer provider (here one
// that records them; in a service, the one otel.GetTracerProvider returns).
func ExampleNewTracer() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background()) //nolint:errcheck

	users, err := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithTracer(dogpileotel.NewTracer(tp))).
		Configure("memory_serialized", dogpile.WithExpiration(time.Hour))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 2 {
		dogpile.GetOrCreate(ctx, users, "user:42", func(context.Context) (string, error) { return "Ada", nil }) //nolint:errcheck
	}
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if a.Key == "dogpile.outcome" {
				fmt.Println(s.Name(), a.Value.AsString())
			}
		}
	}
	// Output:
	// dogpile.backend.get miss
	// dogpile.backend.get miss
	// dogpile.create ok
	// dogpile.backend.set ok
	// dogpile.get_or_create miss
	// dogpile.backend.get hit
	// dogpile.get_or_create hit
}

// The latency histograms, read by an SDK reader through a producer. (On the
// in-process memory backends one hit in 1024 is timed, here the first of the
// two; on a remote store every hit is.)
func ExampleNewProducer() {
	users, err := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithMetrics()).Configure("memory")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 3 {
		dogpile.GetOrCreate(ctx, users, "user:42", func(context.Context) (string, error) { return "Ada", nil }) //nolint:errcheck
	}

	// In a service: sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithProducer(...)).
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(dogpileotel.NewProducer(users)))
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx) //nolint:errcheck
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h := m.Data.(metricdata.Histogram[float64])
			fmt.Println(m.Name, h.DataPoints[0].Count)
		}
	}
	// Output:
	// dogpile.hit.duration 1
	// dogpile.creation.duration 1
	// dogpile.lock_wait.duration 0
}
