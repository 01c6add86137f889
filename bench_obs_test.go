package dogpile_test

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// nopTracer is a Tracer that records nothing: what a region pays for
// tracing when every span is dropped.
type nopTracer struct{}

func (nopTracer) Start(ctx context.Context, _ string, _ dogpile.SpanInfo) (context.Context, dogpile.Span) {
	return ctx, nopSpan{}
}

type nopSpan struct{}

func (nopSpan) End(string, error) {}

// BenchmarkObservedHit measures what observability adds to a memory hit, in
// one run. Each sub-benchmark interleaves two GetOrCreate hits in batches of
// 256 calls (a clock read costs more than one hit), so that both see the
// same machine, and reports the first's time over the second's (x-ratio):
//
//   - tagged+observed/plain: a hit on a value with two tags, in a region with
//     metrics (counters and latency histograms) and a no-op tracer, against
//     a hit in a region with none of them, by a call without options;
//   - tagged+observed/tagged: the same against the tagged hit in a region
//     without metrics or tracer: what observability adds;
//   - observed/plain: metrics and the no-op tracer, no options;
//   - option/plain: a call passing an option (NoStale) against one
//     without, no metrics or tracer: what any option costs a hit.
func BenchmarkObservedHit(b *testing.B) {
	ctx := context.Background()
	region := func(opts ...dogpile.RegionOption) *dogpile.Region {
		r, err := dogpile.NewRegion(opts...).Configure("memory", dogpile.WithExpiration(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	hit := func(r *dogpile.Region, opts ...dogpile.Option) func() {
		if _, err := dogpile.GetOrCreate(ctx, r, "key", create, opts...); err != nil {
			b.Fatal(err)
		}
		return func() {
			if _, err := dogpile.GetOrCreate(ctx, r, "key", create, opts...); err != nil {
				b.Fatal(err)
			}
		}
	}
	tags := dogpile.Tags("user:42", "org:7")
	observed := func() *dogpile.Region { return region(dogpile.WithMetrics(), dogpile.WithTracer(nopTracer{})) }
	for _, tc := range []struct {
		name string
		a, c func() func()
	}{
		{"tagged+observed/plain", func() func() { return hit(observed(), tags) }, func() func() { return hit(region()) }},
		{"tagged+observed/tagged", func() func() { return hit(observed(), tags) }, func() func() { return hit(region(), tags) }},
		{"observed/plain", func() func() { return hit(observed()) }, func() func() { return hit(region()) }},
		{"option/plain", func() func() { return hit(region(), dogpile.NoStale()) }, func() func() { return hit(region()) }},
	} {
		b.Run("pair="+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(testutil.PairedBatches(b, 256, tc.a(), tc.c()), "x-ratio")
		})
	}
}
