package memcached

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// BenchmarkHit compares a cache hit through a region on memcached with a
// raw gomemcache Get of the same stored bytes, on one local server: the
// region's overhead over the client it is built on.
//
//	go test -run '^$' -bench . -benchmem ./backends/memcached/
func BenchmarkHit(b *testing.B) {
	p := testserver.Memcached(b, testserver.MemcachedOptions{})
	be, err := New(Options{Servers: []string{p.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	r := newRegion(b, be)
	ctx := context.Background()
	const key = "bench:hit"
	value := strings.Repeat("v", 100)
	if err := r.Set(ctx, key, value); err != nil {
		b.Fatal(err)
	}
	raw := memcache.New(p.Addr())
	raw.MaxIdleConns = DefaultMaxIdleConns
	create := func(context.Context) (string, error) { return "", fmt.Errorf("miss in a hit benchmark") }

	b.Run("raw-gomemcache-Get", func(b *testing.B) {
		for b.Loop() {
			if _, err := raw.Get(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("region-GetOrCreate", func(b *testing.B) {
		for b.Loop() {
			if _, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-gomemcache-Get-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := raw.Get(key); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("region-GetOrCreate-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkHitPaired times a raw gomemcache Get and a region hit
// alternately, one after the other in each iteration, and reports both and
// their ratio: on a busy machine the two then see the same load, and the
// ratio is steadier than two separate benchmarks' quotient.
func BenchmarkHitPaired(b *testing.B) {
	p := testserver.Memcached(b, testserver.MemcachedOptions{})
	be, err := New(Options{Servers: []string{p.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	r := newRegion(b, be)
	ctx := context.Background()
	const key = "bench:hit"
	if err := r.Set(ctx, key, strings.Repeat("v", 100)); err != nil {
		b.Fatal(err)
	}
	raw := memcache.New(p.Addr())
	create := func(context.Context) (string, error) { return "", fmt.Errorf("miss in a hit benchmark") }
	var rawT, regionT time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := raw.Get(key); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := dogpile.GetOrCreate(ctx, r, key, create); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		rawT += t1.Sub(t0)
		regionT += t2.Sub(t1)
	}
	b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N), "raw-ns/get")
	b.ReportMetric(float64(regionT.Nanoseconds())/float64(b.N), "region-ns/get")
	b.ReportMetric(float64(regionT)/float64(rawT), "region/raw")
}

// BenchmarkMulti100 compares one GetOrCreateMulti of 100 cached keys (one
// get-multi round trip) with 100 GetOrCreate calls (100 round trips).
func BenchmarkMulti100(b *testing.B) {
	p := testserver.Memcached(b, testserver.MemcachedOptions{})
	be, err := New(Options{Servers: []string{p.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	r := newRegion(b, be)
	ctx := context.Background()
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:multi:%d", i)
		if err := r.Set(ctx, keys[i], strings.Repeat("v", 100)); err != nil {
			b.Fatal(err)
		}
	}
	createMulti := func(context.Context, []string) ([]string, error) { return nil, fmt.Errorf("miss in a hit benchmark") }
	create := func(context.Context) (string, error) { return "", fmt.Errorf("miss in a hit benchmark") }

	b.Run("GetOrCreateMulti-100", func(b *testing.B) {
		for b.Loop() {
			if _, err := dogpile.GetOrCreateMulti(ctx, r, keys, createMulti); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetOrCreate-x100", func(b *testing.B) {
		for b.Loop() {
			for _, k := range keys {
				if _, err := dogpile.GetOrCreate(ctx, r, k, create); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
