package prometheus_test

import (
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile/internal/metricstest"
	"github.com/dogpile-go/dogpile/internal/testutil"
	dogpileprom "github.com/dogpile-go/dogpile/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// TestDocListsEveryMetric: the package documentation names every metric the
// collector exports.
func TestDocListsEveryMetric(t *testing.T) {
	doc := testutil.PackageDoc(t, "prometheus.go")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(dogpileprom.NewCollector(metricstest.Region(t, "memory")))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if !strings.Contains(doc, "\t"+mf.GetName()+" ") {
			t.Errorf("the package documentation does not list %s", mf.GetName())
		}
	}
	if len(families) < 22 {
		t.Fatalf("%d metrics exported", len(families))
	}
}
