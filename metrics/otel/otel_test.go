package otel_test

import (
	"context"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/metricstest"
	"github.com/dogpile-go/dogpile/internal/statsexport"
	dogpileotel "github.com/dogpile-go/dogpile/metrics/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestRegisterReportsRegionCounters(t *testing.T) {
	r := metricstest.Hits(t, "users")
	got := collect(t, r)
	if got["dogpile.hits"] != 2 || got["dogpile.misses"] != 1 || got["dogpile.regenerations"] != 1 {
		t.Fatalf("exported %v; want 2 hits, 1 miss, 1 regeneration", got)
	}
}

// The resilience counters are exported too: a cached "not found".
func TestRegisterReportsResilienceCounters(t *testing.T) {
	r := metricstest.NegativeHits(t, "res")
	got := collect(t, r)
	for _, name := range []string{"dogpile.soft_timeouts", "dogpile.values_refused", "dogpile.breaker_trips", "dogpile.recovery.queued", "dogpile.recovery.replayed", "dogpile.recovery.overflow"} {
		if _, ok := got[name]; !ok {
			t.Fatalf("%s not exported", name)
		}
	}
	if got["dogpile.negative_hits"] != 2 {
		t.Fatalf("exported %v; want 2 negative hits", got)
	}
}

// Register reports each region's counters under its own name, every
// counter with the unit and description the package documents.
func TestRegisterReportsEachRegionWithUnits(t *testing.T) {
	users, sessions := metricstest.Hits(t, "users"), metricstest.NegativeHits(t, "sessions")
	rm := metricsReader(t, true, false, users, sessions)()
	want := map[string]statsexport.Counter{}
	for _, c := range statsexport.Counters {
		want[c.OTel] = c
	}
	hits := map[string]float64{}
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n++
			c, ok := want[m.Name]
			if !ok {
				t.Fatalf("%s is no dogpile counter", m.Name)
			}
			if m.Unit != c.Unit || m.Description != c.Help {
				t.Errorf("%s: unit %q, description %q; want %q, %q", m.Name, m.Unit, m.Description, c.Unit, c.Help)
			}
			points := m.Data.(metricdata.Sum[float64]).DataPoints
			if len(points) != 2 {
				t.Fatalf("%s: %d data points for two regions", m.Name, len(points))
			}
			if m.Name != "dogpile.hits" {
				continue
			}
			for _, dp := range points {
				v, _ := dp.Attributes.Value("dogpile.region")
				hits[v.AsString()] = dp.Value
			}
		}
	}
	if n != len(statsexport.Counters) {
		t.Errorf("%d counters exported, want %d", n, len(statsexport.Counters))
	}
	if hits["users"] != 2 || hits["sessions"] != 0 || len(hits) != 2 {
		t.Fatalf("dogpile.hits by region %v; want users 2, sessions 0", hits)
	}
}

// collect registers r's counters on a meter, collects them once and returns
// their values by name, checking that each is a float64 sum with r's name
// as its region.
func collect(t *testing.T, r *dogpile.Region) map[string]float64 {
	t.Helper()
	rm := readMetrics(t, r, true, false)
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[float64])
			if !ok {
				t.Fatalf("%s is a %T, want a float64 sum", m.Name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if v, _ := dp.Attributes.Value("dogpile.region"); v.AsString() != r.Name() {
					t.Fatalf("%s has region %q", m.Name, v.AsString())
				}
				got[m.Name] = dp.Value
			}
		}
	}
	return got
}

// readMetrics collects r's metrics once from a reader on a new meter
// provider: the counters if counters (Register), the latency histograms if
// histograms (NewProducer).
func readMetrics(t *testing.T, r *dogpile.Region, counters, histograms bool) metricdata.ResourceMetrics {
	t.Helper()
	return metricsReader(t, counters, histograms, r)()
}

// metricsReader is readMetrics for several regions, collected as often as
// the test calls the returned function, from one reader; the provider is
// shut down when the test ends.
func metricsReader(t *testing.T, counters, histograms bool, regions ...*dogpile.Region) func() metricdata.ResourceMetrics {
	t.Helper()
	ctx := context.Background()
	var opts []sdkmetric.ManualReaderOption
	if histograms {
		opts = append(opts, sdkmetric.WithProducer(dogpileotel.NewProducer(regions...)))
	}
	reader := sdkmetric.NewManualReader(opts...)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { provider.Shutdown(ctx) }) //nolint:errcheck
	if counters {
		reg, err := dogpileotel.Register(provider.Meter("test"), regions...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Unregister() }) //nolint:errcheck
	}
	return func() metricdata.ResourceMetrics {
		t.Helper()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		return rm
	}
}
