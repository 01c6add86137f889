package prometheus_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	dogpileprom "github.com/dogpile-go/dogpile/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectorExportsRegionCounters(t *testing.T) {
	ctx := context.Background()
	r, err := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithMetrics()).Configure("memory")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { return 1, nil }) //nolint:errcheck
	}
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
