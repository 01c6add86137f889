package dogpile_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/startgate"
)

// baseline is the hand-written cache every Go programmer starts with: a map
// under a RWMutex, misses created once under the write lock. GetOrCreate's
// hit path is measured against it in the same run.
type baseline struct {
	mu sync.RWMutex
	m  map[string]string
}

func (c *baseline) get(key string, create func() (string, error)) (string, error) {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok {
		return v, nil
	}
	v, err := create()
	if err == nil {
		c.m[key] = v
	}
	return v, err
}

func benchRegion(b *testing.B, opts ...dogpile.RegionOption) *dogpile.Region {
	r, err := dogpile.NewRegion(opts...).Configure("memory", dogpile.WithExpiration(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func create(context.Context) (string, error) { return "value", nil }

func BenchmarkHit(b *testing.B) {
	for _, mode := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel", true}} {
		b.Run("impl=dogpile/mode="+mode.name, func(b *testing.B) {
			regionHits(b, benchRegion(b), mode.parallel)
		})
		b.Run("impl=dogpile+metrics/mode="+mode.name, func(b *testing.B) {
			regionHits(b, benchRegion(b, dogpile.WithMetrics()), mode.parallel)
		})
		b.Run("impl=baseline/mode="+mode.name, func(b *testing.B) {
			baselineHits(b, mode.parallel)
		})
	}
}

// regionHits measures GetOrCreate's reads of a present key in r, in one
// goroutine or in parallel ones.
func regionHits(b *testing.B, r *dogpile.Region, parallel bool) {
	ctx := context.Background()
	dogpile.GetOrCreate(ctx, r, "key", create) //nolint:errcheck
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			if _, err := dogpile.GetOrCreate(ctx, r, "key", create); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := dogpile.GetOrCreate(ctx, r, "key", create); err != nil {
				b.Error(err)
			}
		}
	})
}

// baselineHits measures the baseline's reads of a present key, as
// regionHits does GetOrCreate's.
func baselineHits(b *testing.B, parallel bool) {
	c := &baseline{m: map[string]string{}}
	mk := func() (string, error) { return "value", nil }
	c.get("key", mk) //nolint:errcheck
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			if _, err := c.get("key", mk); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.get("key", mk); err != nil {
				b.Error(err)
			}
		}
	})
}

// stampede runs n concurrent GetOrCreate calls on one key whose creator
// takes creatorTime, and reports creator calls and caller latency quantiles.
func stampede(b *testing.B, stale bool) {
	const n = 1000
	const creatorTime = 50 * time.Millisecond
	ctx := context.Background()
	var lat []time.Duration
	var calls atomic.Int64
	for b.Loop() {
		b.StopTimer()
		r := benchRegion(b)
		var opts []dogpile.Option
		if stale {
			r.Set(ctx, "key", "stale") //nolint:errcheck
			opts = append(opts, dogpile.ExpirationTime(time.Nanosecond))
		}
		creator := func(context.Context) (string, error) {
			calls.Add(1)
			time.Sleep(creatorTime)
			return "fresh", nil
		}
		durations := make([]time.Duration, n)
		gate := startgate.New(n, func(i int) {
			t0 := time.Now()
			if _, err := dogpile.GetOrCreate(ctx, r, "key", creator, opts...); err != nil {
				b.Error(err)
			}
			durations[i] = time.Since(t0)
		})
		b.StartTimer()
		gate.Open()
		lat = append(lat, durations...)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(float64(calls.Load())/float64(b.N), "creator-calls/op")
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// BenchmarkStampede: 1,000 goroutines ask for one key whose creator takes
// 50ms. Cold: nobody has a value, everyone waits for the one creator.
// Expired: a stale value is there, everyone but the regenerating caller gets
// it at once.
func BenchmarkStampede(b *testing.B) {
	b.Run("key=cold", func(b *testing.B) { stampede(b, false) })
	b.Run("key=expired", func(b *testing.B) { stampede(b, true) })
}
