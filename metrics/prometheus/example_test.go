package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dogpile-go/dogpile"
	dogpileprom "github.com/dogpile-go/dogpile/metrics/prometheus"
)

// A region's counters and latency histograms served over HTTP for Prometheus to scrape. This
// package is called prometheus too: import it under another name
// (dogpileprom) beside client_golang's.
func Example() {
	users, err := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithMetrics()).Configure("memory")
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(dogpileprom.NewCollector(users))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// go http.ListenAndServe(":9090", mux)

	ctx := context.Background()
	for range 3 {
		dogpile.GetOrCreate(ctx, users, "user:42", func(context.Context) (string, error) { return "Ada", nil }) //nolint:errcheck
	}

	srv := httptest.NewServer(mux) // a scrape, as Prometheus makes it
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "dogpile_hits_total") || strings.HasPrefix(line, "dogpile_misses_total") || strings.HasPrefix(line, "dogpile_creation_duration_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// dogpile_creation_duration_seconds_count{region="users"} 1
	// dogpile_hits_total{region="users"} 2
	// dogpile_misses_total{region="users"} 1
}
