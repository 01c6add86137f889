package prometheus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/metricstest"
	dogpileprom "github.com/dogpile-go/dogpile/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestCollectorExportsRegionCounters(t *testing.T) {
	r := metricstest.Hits(t, "users")
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(dogpileprom.NewCollector(r)); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP dogpile_hits_total Reads that found a usable value.
# TYPE dogpile_hits_total counter
dogpile_hits_total{region="users"} 2
# HELP dogpile_misses_total Reads that found no usable value.
# TYPE dogpile_misses_total counter
dogpile_misses_total{region="users"} 1
# HELP dogpile_regenerations_total Creator calls that returned a value.
# TYPE dogpile_regenerations_total counter
dogpile_regenerations_total{region="users"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dogpile_hits_total", "dogpile_misses_total", "dogpile_regenerations_total"); err != nil {
		t.Fatal(err)
	}
}

// One collector exports every region it was given, each under its own
// label.
func TestCollectorExportsEveryRegion(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(dogpileprom.NewCollector(metricstest.Hits(t, "users"), metricstest.SlowCreation(t, "orders", 1))); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP dogpile_hits_total Reads that found a usable value.
# TYPE dogpile_hits_total counter
dogpile_hits_total{region="orders"} 0
dogpile_hits_total{region="users"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dogpile_hits_total"); err != nil {
		t.Fatal(err)
	}
}

// The resilience counters: a cached "not found" and a soft timeout.
func TestCollectorExportsResilienceCounters(t *testing.T) {
	ctx := context.Background()
	r := metricstest.NegativeHits(t, "res", dogpile.WithSoftTimeout(time.Millisecond))
	r.Set(ctx, "slow", 1) //nolint:errcheck
	release := make(chan struct{})
	defer close(release)
	dogpile.GetOrCreate(ctx, r, "slow", func(context.Context) (int, error) { <-release; return 2, nil }, dogpile.ExpirationTime(0)) //nolint:errcheck
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(dogpileprom.NewCollector(r)); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP dogpile_negative_hits_total Cached "not found" answers returned without running the creator.
# TYPE dogpile_negative_hits_total counter
dogpile_negative_hits_total{region="res"} 2
# HELP dogpile_soft_timeouts_total Stale values served because a regeneration outlasted the soft timeout.
# TYPE dogpile_soft_timeouts_total counter
dogpile_soft_timeouts_total{region="res"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dogpile_negative_hits_total", "dogpile_soft_timeouts_total"); err != nil {
		t.Fatal(err)
	}
}

// The latency histograms: one creation of at least 2 ms, counted in the
// buckets at and above its latency only; hits on the in-process
// memory_serialized, one in 1024 timed (the first).
func TestCollectorExportsLatencyHistograms(t *testing.T) {
	r := metricstest.SlowCreation(t, "users", 3)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(dogpileprom.NewCollector(r)); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.Histogram{}
	for _, f := range families {
		if f.GetType() == dto.MetricType_HISTOGRAM {
			if l := f.GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetName() != "region" || l[0].GetValue() != "users" {
				t.Fatalf("%s: labels %v", f.GetName(), l)
			}
			got[f.GetName()] = f.GetMetric()[0].GetHistogram()
		}
	}
	if len(got) != 3 {
		t.Fatalf("histograms %v, want 3", got)
	}
	c := got["dogpile_creation_duration_seconds"]
	if c.GetSampleCount() != 1 || c.GetSampleSum() < 0.002 {
		t.Fatalf("creation histogram %v", c)
	}
	for _, b := range c.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= c.GetSampleSum() {
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Fatalf("bucket le=%g has %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if h := got["dogpile_hit_duration_seconds"]; h.GetSampleCount() != 1 {
		t.Fatalf("hit histogram %v, want 1 of the 2 hits", h)
	}
}
