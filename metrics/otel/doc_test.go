package otel_test

import (
	"context"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	dogpileotel "github.com/dogpile-go/dogpile/metrics/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestDocListsEveryMetricAndSpan: the package documentation names every
// metric Register and NewProducer export, and every span a region starts.
func TestDocListsEveryMetricAndSpan(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "otel.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	ctx := context.Background()
	r, err := dogpile.NewRegion(dogpile.WithMetrics()).Configure("memory")
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(dogpileotel.NewProducer(r)))
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx) //nolint:errcheck
	reg, err := dogpileotel.Register(provider.Meter("test"), r)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister() //nolint:errcheck
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n++
			if !strings.Contains(doc, "\t"+m.Name+" ") {
				t.Errorf("the package documentation does not list %s", m.Name)
			}
		}
	}
	if n < 22 {
		t.Fatalf("%d metrics exported", n)
	}
	for _, span := range []string{dogpile.SpanGetOrCreate, dogpile.SpanGetOrCreateMulti, dogpile.SpanCreate, dogpile.SpanLockWait, dogpile.SpanBackendPrefix + "<operation>"} {
		if !strings.Contains(doc, "\t"+span+" ") {
			t.Errorf("the package documentation does not list the span %s", span)
		}
	}
}
