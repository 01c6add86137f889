package otel_test

import (
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/metricstest"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestDocListsEveryMetricAndSpan: the package documentation names every
// metric Register and NewProducer export, and every span a region starts.
func TestDocListsEveryMetricAndSpan(t *testing.T) {
	doc := testutil.PackageDoc(t, "otel.go")
	rm := readMetrics(t, metricstest.Region(t, "memory"), true, true)
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
