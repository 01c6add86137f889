package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Quantile returns the q-quantile (0 ≤ q ≤ 1, nearest rank) of sorted.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)) + 0.5)
	if i > 0 {
		i-- // nearest rank: the ⌈q·n⌉-th value, 1-based
	}
	return sorted[min(i, len(sorted)-1)]
}

// Micros is d in microseconds, as a float for b.ReportMetric.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// LatencyDir is where workloads write raw latencies for the plots
// ($BENCH_LATENCY_DIR); empty means don't.
func LatencyDir() string { return os.Getenv("BENCH_LATENCY_DIR") }

// AppendLatencies appends lat (microseconds, one per line) to
// dir/<workload>/<lib>.txt, so that the report can plot the distribution
// over every run.
func AppendLatencies(dir, workload, lib string, lat []time.Duration) error {
	if dir == "" {
		return nil
	}
	d := filepath.Join(dir, workload)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(d, FileName(lib)+".txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lat {
		fmt.Fprintf(w, "%.1f\n", Micros(l))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadLatencies reads a file written by AppendLatencies, sorted.
func ReadLatencies(path string) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, line := range strings.Fields(string(b)) {
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// FileName turns a library name into a file name ("go-redis/cache" →
// "go-redis_cache").
func FileName(lib string) string {
	return strings.NewReplacer("/", "_", "+", "_", " ", "_").Replace(lib)
}
