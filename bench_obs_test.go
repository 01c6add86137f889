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
// one run: a plain GetOrCreate hit (a region without metrics or tracer, a
// call without options) against the same hit on a value with two tags, in
// a region with metrics (counters and latency histograms) and a no-op
// tracer. The two are interleaved in batches of 256 calls (a clock read
// costs more than one hit), so that both see the same machine; x-observed
// is the observed hit's time over the plain one's.
func BenchmarkObservedHit(b *testing.B) {
	ctx := context.Background()
	region := func(opts ...dogpile.RegionOption) *dogpile.Region {
		r, err := dogpile.NewRegion(opts...).Configure("memory", dogpile.WithExpiration(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	plain := region()
	observed := region(dogpile.WithMetrics(), dogpile.WithTracer(nopTracer{}))
	tags := dogpile.Tags("user:42", "org:7")
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
	b.ReportAllocs()
	b.ReportMetric(testutil.PairedBatches(b, 256, hit(observed, tags), hit(plain)), "x-observed")
	if s := observed.Stats(); s.Hits == 0 || observed.Latencies().Hit.Count == 0 {
		b.Fatalf("the observed region counted %d hits and timed %d", s.Hits, observed.Latencies().Hit.Count)
	}
}
