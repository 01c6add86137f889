package otel

import (
	"context"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/statsexport"
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
	return &producer{regions: regions, bounds: statsexport.Bounds(), start: time.Now()}
}

type producer struct {
	regions []*dogpile.Region
	bounds  []float64
	start   time.Time
}

// Produce returns the histograms' current values.
func (p *producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	lats := make([]dogpile.Latencies, len(p.regions))
	for i, r := range p.regions {
		lats[i] = r.Latencies()
	}
	ms := make([]metricdata.Metrics, len(statsexport.Histograms))
	for j, h := range statsexport.Histograms {
		points := make([]metricdata.HistogramDataPoint[float64], len(p.regions))
		for i, r := range p.regions {
			l := h.Of(lats[i])
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
		ms[j] = metricdata.Metrics{Name: h.OTel, Description: h.Help, Unit: "s",
			Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality, DataPoints: points}}
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: ScopeName}, Metrics: ms}}, nil
}
