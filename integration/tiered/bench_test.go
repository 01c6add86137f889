package tiered_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/tiered"
)

// The value every hit benchmark reads: a short string, so that the numbers
// show the cost of the path rather than of copying.
const benchValue = "a cached value of 32 bytes......."

func createBenchValue(context.Context) (string, error) { return benchValue, nil }

// benchHit measures GetOrCreate hits on a warm key of r; warm is called
// once the key is warm, before the timed loop.
func benchHit(b *testing.B, r *dogpile.Region, warm func()) {
	ctx := context.Background()
	k := testutil.Unique("hit")
	for range 2 { // create, then read (the tier keeps a copy on reads)
		if v, err := dogpile.GetOrCreate(ctx, r, k, createBenchValue); err != nil || v != benchValue {
			b.Fatalf("GetOrCreate = %q, %v", v, err)
		}
	}
	if warm != nil {
		warm()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := dogpile.GetOrCreate(ctx, r, k, createBenchValue); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRegion(b *testing.B, backend dogpile.Backend) *dogpile.Region {
	r, err := dogpile.NewRegion().ConfigureBackend(backend, dogpile.WithExpiration(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkMemoryHit: a hit on the memory backend, which holds Go values
// (no decoding): the yardstick of the tier's goal (at most 2x).
func BenchmarkMemoryHit(b *testing.B) {
	m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchHit(b, benchRegion(b, m), nil)
}

// BenchmarkSerializedMemoryHit: a hit on memory_serialized, which holds
// bytes as the tier does: the region decodes every hit.
func BenchmarkSerializedMemoryHit(b *testing.B) {
	m, err := dogpile.NewSerializedMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchHit(b, benchRegion(b, m), nil)
}

// BenchmarkBoundedMemoryHit: a hit on a memory backend bounded by
// MaxEntries, which, like the tier, keeps its entries in otter.
func BenchmarkBoundedMemoryHit(b *testing.B) {
	m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{MaxEntries: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	benchHit(b, benchRegion(b, m), nil)
}

// BenchmarkTieredHit: a hit served by the local tier in front of Redis.
func BenchmarkTieredHit(b *testing.B) {
	n := newNode(b, testserver.SharedRedis(b).Addr(), testutil.Unique("bench"), nodeConfig{})
	var before int64
	benchHit(b, benchRegion(b, n.tier), func() { before = n.trips.Count() })
	b.StopTimer()
	if d := n.trips.Count() - before; d != 0 {
		b.Fatalf("%d round trips to Redis during the benchmark: hits were not local", d)
	}
}

// BenchmarkTieredHitSharedInvalidation: a tier hit with
// SharedInvalidation(0), whose invalidation times are a second local copy.
func BenchmarkTieredHitSharedInvalidation(b *testing.B) {
	n := newNode(b, testserver.SharedRedis(b).Addr(), testutil.Unique("bench"), nodeConfig{})
	r, err := dogpile.NewRegion(dogpile.WithName(testutil.Unique("region"))).ConfigureBackend(n.tier,
		dogpile.WithExpiration(time.Hour), dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err != nil {
		b.Fatal(err)
	}
	var before int64
	benchHit(b, r, func() { before = n.trips.Count() })
	b.StopTimer()
	if d := n.trips.Count() - before; d != 0 {
		b.Fatalf("%d round trips to Redis during the benchmark: hits were not local", d)
	}
}

// BenchmarkTieredHitDecodeEveryHit: the same with DecodeEveryHit, so that
// the region decodes the local copy's bytes at every hit.
func BenchmarkTieredHitDecodeEveryHit(b *testing.B) {
	n := newNode(b, testserver.SharedRedis(b).Addr(), testutil.Unique("bench"), nodeConfig{})
	tb, err := tiered.New(n.remote, tiered.Options{Notifier: n.obs, DecodeEveryHit: true})
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	n.obs.state(b, true)
	benchHit(b, benchRegion(b, tb), nil)
}

// BenchmarkRedisHit: the same hit without the tier, for scale.
func BenchmarkRedisHit(b *testing.B) {
	n := newNode(b, testserver.SharedRedis(b).Addr(), testutil.Unique("bench"), nodeConfig{})
	benchHit(b, benchRegion(b, n.remote), nil)
}

// BenchmarkPropagation: how long a change made by one process's tier takes
// to reach another's, which has the old value as a local copy: from the
// writer's Set returning to the reader's Get returning the new value (the
// message, then one read from Redis). Reported as p50, p99 and max over b.N
// changes (and evict-p50-ns: until the reader's tier had dropped its copy);
// the two tiers have clients (connections) of their own, as two processes
// would. ns/op is the whole round: Set, PUBLISH, propagation, Get.
func BenchmarkPropagation(b *testing.B) {
	ctx := context.Background()
	addr, ch := testserver.SharedRedis(b).Addr(), testutil.Unique("prop")
	w, r := newNode(b, addr, ch, nodeConfig{}), newNode(b, addr, ch, nodeConfig{})
	k := testutil.Unique("k")
	if err := w.tier.Set(ctx, k, []byte("v0")); err != nil {
		b.Fatal(err)
	}
	r.obs.message(b)
	if v, _, err := r.tier.Get(ctx, k); err != nil || string(v) != "v0" {
		b.Fatalf("reader: Get = %q, %v", v, err)
	}
	var seen, evicted []time.Duration
	i := 0
	for b.Loop() {
		i++
		want := "v" + strconv.Itoa(i)
		if err := w.tier.Set(ctx, k, []byte(want)); err != nil {
			b.Fatal(err)
		}
		set := time.Now()
		select {
		case <-r.obs.msgs: // the reader's tier has dropped its copy
		case <-time.After(5 * time.Second):
			b.Fatalf("change %d: no message within 5s", i)
		}
		evicted = append(evicted, time.Since(set))
		v, _, err := r.tier.Get(ctx, k)
		if err != nil || string(v) != want {
			b.Fatalf("change %d: reader's Get = %q, %v; want %q", i, v, err, want)
		}
		seen = append(seen, time.Since(set))
	}
	b.StopTimer()
	q := func(lat []time.Duration, p float64) float64 {
		slices.Sort(lat)
		return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds())
	}
	b.ReportMetric(q(seen, 0.5), "p50-ns")
	b.ReportMetric(q(seen, 0.99), "p99-ns")
	b.ReportMetric(q(seen, 1), "max-ns")
	b.ReportMetric(q(evicted, 0.5), "evict-p50-ns")
}
