package otel_test

import (
	"testing"

	"github.com/dogpile-go/dogpile/internal/metricstest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The latency histograms reach a reader through the producer: one creation
// of at least 2 ms, in a bucket whose bound is at least that, and a hit (on
// the in-process memory_serialized, one in 1024 is timed: the first).
func TestProducerExportsHistograms(t *testing.T) {
	r := metricstest.SlowCreation(t, "users", 2)
	rm := readMetrics(t, r, false, true)
	got := map[string]metricdata.HistogramDataPoint[float64]{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok || len(h.DataPoints) != 1 || m.Unit != "s" {
				t.Fatalf("%s: %T %+v", m.Name, m.Data, m.Data)
			}
			dp := h.DataPoints[0]
			if v, _ := dp.Attributes.Value("dogpile.region"); v.AsString() != "users" {
				t.Fatalf("%s has region %q", m.Name, v.AsString())
			}
			got[m.Name] = dp
		}
	}
	if c := got["dogpile.creation.duration"]; c.Count != 1 || c.Sum < 0.002 || len(c.BucketCounts) != len(c.Bounds)+1 {
		t.Fatalf("creation histogram %+v", c)
	} else {
		for i, n := range c.BucketCounts {
			if n == 1 && c.Bounds[i] < 0.002 {
				t.Fatalf("a creation of %gs counted under %gs", c.Sum, c.Bounds[i])
			}
		}
	}
	if h := got["dogpile.hit.duration"]; h.Count != 1 {
		t.Fatalf("hit histogram %+v, want 1 hit", h)
	}
	if _, ok := got["dogpile.lock_wait.duration"]; !ok {
		t.Fatal("no lock wait histogram")
	}
}
