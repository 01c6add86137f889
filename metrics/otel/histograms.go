package otel

import (
	"context"
	"time"

	"github.com/dogpile-go/dogpile"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// NewProducer returns a producer of the regions' latency histograms (see the
// package documentation), for an SDK reader:
//
//	sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithProducer(dogpileotel.NewProducer(users)))
//
// The regions must be made dogpile.WithMetrics (a region without it reports
// empty histograms) and should have distinct names.
func NewProducer(regions ...*dogpile.Region) sdkmetric.Producer {
	ds := dogpile.LatencyBounds()
	bounds := make([]float64, len(ds))
	for i, d := range ds {
		bounds[i] = d.Seconds()
	}
	return &producer{regions: regions, bounds: bounds, start: time.Now()}
}

type producer struct {
	regions []*dogpile.Region
	bounds  []float64
	start   time.Time
}

// histograms are the latency histograms: name, description and which of a
// region's.
var histograms = []struct {
	name, help string
	of         func(dogpile.Latencies) dogpile.Histogram
}{
	{"dogpile.hit.duration", "Time GetOrCreate and Cached.Call took to return a fresh value (sampled on the in-process memory backends).", func(l dogpile.Latencies) dogpile.Histogram { return l.Hit }},
	{"dogpile.creation.duration", "Time creator calls that returned a value ran.", func(l dogpile.Latencies) dogpile.Histogram { return l.Creation }},
	{"dogpile.lock_wait.duration", "Time spent waiting for another caller's creation or for a cross-process lock.", func(l dogpile.Latencies) dogpile.Histogram { return l.LockWait }},
}

// Produce returns the histograms' current values.
func (p *producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	lats := make([]dogpile.Latencies, len(p.regions))
	for i, r := range p.regions {
		lats[i] = r.Latencies()
	}
	ms := make([]metricdata.Metrics, len(histograms))
	for j, h := range histograms {
		points := make([]metricdata.HistogramDataPoint[float64], len(p.regions))
		for i, r := range p.regions {
			l := h.of(lats[i])
			points[i] = metricdata.HistogramDataPoint[float64]{
				Attributes:   attribute.NewSet(attribute.String("dogpile.region", r.Name())),
				StartTime:    p.start,
				Time:         now,
				Count:        l.Count,
				Bounds:       p.bounds,
				BucketCounts: l.Counts,
				Sum:          l.Sum.Seconds(),
			}
		}
		ms[j] = metricdata.Metrics{Name: h.name, Description: h.help, Unit: "s",
			Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality, DataPoints: points}}
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: ScopeName}, Metrics: ms}}, nil
}
