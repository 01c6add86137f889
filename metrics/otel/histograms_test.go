package otel_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/metricstest"
	"github.com/dogpile-go/dogpile/internal/statsexport"
	dogpileotel "github.com/dogpile-go/dogpile/metrics/otel"
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

// The producer's histograms are cumulative from the producer's start: two
// collections report the same start time, at or before each collection's
// time, and the buckets are dogpile.LatencyBounds in seconds. Each region's
// points carry its own name and its own counts and sum, in seconds; the
// histograms have this package's instrumentation scope and the documented
// descriptions.
func TestProducerHistogramsCumulativePerRegion(t *testing.T) {
	slow, idle := metricstest.SlowCreation(t, "slow", 2), metricstest.Region(t, "memory", dogpile.WithName("idle"))
	collect := metricsReader(t, false, true, slow, idle)
	var wantBounds []float64
	for _, d := range dogpile.LatencyBounds() {
		wantBounds = append(wantBounds, d.Seconds())
	}
	help := map[string]string{}
	for _, h := range statsexport.Histograms {
		help[h.OTel] = h.Help
	}
	var start time.Time
	for round := range 2 {
		rm := collect()
		if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != dogpileotel.ScopeName {
			t.Fatalf("scopes %+v; want the one scope %s", rm.ScopeMetrics, dogpileotel.ScopeName)
		}
		for _, m := range rm.ScopeMetrics[0].Metrics {
			if m.Description != help[m.Name] || m.Description == "" {
				t.Errorf("%s: description %q, want %q", m.Name, m.Description, help[m.Name])
			}
			h := m.Data.(metricdata.Histogram[float64])
			if h.Temporality != metricdata.CumulativeTemporality {
				t.Errorf("%s: temporality %v, want cumulative", m.Name, h.Temporality)
			}
			if len(h.DataPoints) != 2 {
				t.Fatalf("%s: %d points for two regions", m.Name, len(h.DataPoints))
			}
			for _, dp := range h.DataPoints {
				if start.IsZero() {
					start = dp.StartTime
				}
				if !dp.StartTime.Equal(start) || dp.Time.Before(dp.StartTime) {
					t.Errorf("collection %d, %s: start %v, time %v; want the producer's start %v, not after the time", round, m.Name, dp.StartTime, dp.Time, start)
				}
				if !slices.Equal(dp.Bounds, wantBounds) {
					t.Errorf("%s: bounds %v; want dogpile.LatencyBounds in seconds %v", m.Name, dp.Bounds, wantBounds)
				}
				if m.Name != "dogpile.creation.duration" {
					continue
				}
				region, _ := dp.Attributes.Value("dogpile.region")
				want := map[string]dogpile.Histogram{"slow": slow.Latencies().Creation, "idle": idle.Latencies().Creation}[region.AsString()]
				if dp.Count != want.Count || dp.Sum != want.Sum.Seconds() || !slices.Equal(dp.BucketCounts, want.Counts) {
					t.Errorf("%s of %s: count %d, sum %v, buckets %v; want the region's %d, %v s, %v", m.Name, region.AsString(), dp.Count, dp.Sum, dp.BucketCounts, want.Count, want.Sum.Seconds(), want.Counts)
				}
				if region.AsString() == "slow" && dp.Count != 1 || region.AsString() == "idle" && dp.Count != 0 {
					t.Errorf("%s of %s: %d creations", m.Name, region.AsString(), dp.Count)
				}
			}
		}
	}
}
