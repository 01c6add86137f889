package prometheus_test

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	dogpileprom "github.com/dogpile-go/dogpile/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// TestDocListsEveryMetric: the package documentation names every metric the
// collector exports.
func TestDocListsEveryMetric(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "prometheus.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	r, err := dogpile.NewRegion(dogpile.WithMetrics()).Configure("memory")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(dogpileprom.NewCollector(r))
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
