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

func benchRegion(b *testing.B) *dogpile.Region {
	r, err := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func create(context.Context) (string, error) { return "value", nil }

func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=dogpile/mode=serial", func(b *testing.B) {
		r := benchRegion(b)
		dogpile.GetOrCreate(ctx, r, "key", create) //nolint:errcheck
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dogpile.GetOrCreate(ctx, r, "key", create); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=dogpile+metrics/mode=serial", func(b *testing.B) {
		r, _ := dogpile.NewRegion(dogpile.WithMetrics()).Configure("memory", dogpile.WithExpiration(time.Hour))
		dogpile.GetOrCreate(ctx, r, "key", create) //nolint:errcheck
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dogpile.GetOrCreate(ctx, r, "key", create); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=baseline/mode=serial", func(b *testing.B) {
		c := &baseline{m: map[string]string{}}
		mk := func() (string, error) { return "value", nil }
		c.get("key", mk) //nolint:errcheck
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.get("key", mk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=dogpile/mode=parallel", func(b *testing.B) {
		r := benchRegion(b)
		dogpile.GetOrCreate(ctx, r, "key", create) //nolint:errcheck
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := dogpile.GetOrCreate(ctx, r, "key", create); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("impl=dogpile+metrics/mode=parallel", func(b *testing.B) {
		r, _ := dogpile.NewRegion(dogpile.WithMetrics()).Configure("memory", dogpile.WithExpiration(time.Hour))
		dogpile.GetOrCreate(ctx, r, "key", create) //nolint:errcheck
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := dogpile.GetOrCreate(ctx, r, "key", create); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("impl=baseline/mode=parallel", func(b *testing.B) {
		c := &baseline{m: map[string]string{}}
		mk := func() (string, error) { return "value", nil }
		c.get("key", mk) //nolint:errcheck
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.get("key", mk); err != nil {
					b.Error(err)
				}
			}
		})
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
