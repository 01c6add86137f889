// Package metricstest makes the regions that the tests of the metrics
// exporters (metrics/prometheus, metrics/otel) read: each has metrics on
// and has served a known set of calls, so that both exporters are held to
// the same counts.
package metricstest

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// Region returns a region with metrics on the named backend, made with opts
// too.
func Region(t testing.TB, backend string, opts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(append(opts, dogpile.WithMetrics())...).Configure(backend)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Hits returns a region named name, on memory, that has served three reads
// of one key: one miss, one regeneration, two hits.
func Hits(t testing.TB, name string) *dogpile.Region {
	t.Helper()
	r := Region(t, "memory", dogpile.WithName(name))
	read(r, "k", 3, func(context.Context) (int, error) { return 1, nil })
	return r
}

// NegativeHits returns a region named name, on memory and made with opts
// too, that has served three reads of a key whose creator says
// dogpile.ErrNotFound: one creation, two negative hits.
func NegativeHits(t testing.TB, name string, opts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r := Region(t, "memory", append(opts, dogpile.WithName(name))...)
	read(r, "missing", 3, func(context.Context) (int, error) { return 0, dogpile.ErrNotFound })
	return r
}

// SlowCreation returns a region named name, on memory_serialized, that has
// served n reads of one key: one creation that took at least 2 ms, then
// n-1 hits (of which the histograms time the first: one in 1024 is timed).
func SlowCreation(t testing.TB, name string, n int) *dogpile.Region {
	t.Helper()
	r := Region(t, "memory_serialized", dogpile.WithName(name))
	read(r, "k", n, func(context.Context) (int, error) { time.Sleep(2 * time.Millisecond); return 1, nil })
	return r
}

// read makes n GetOrCreate calls of key; the tests read their counts, not
// their results.
func read(r *dogpile.Region, key string, n int, create func(context.Context) (int, error)) {
	for range n {
		dogpile.GetOrCreate(context.Background(), r, key, create) //nolint:errcheck
	}
}
