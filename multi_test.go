package dogpile_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// Conformance tests of the multi-key calls (CONFORMANCE.md, lines M1–M4 and
// M6; M5, one round trip, is counted by each networked backend's tests).

// multiRegions returns regions for a multi-key test: the two value paths of
// the built-in memory backends, and user backends with and without the
// multi-key interface (so that the emulation is covered), which count calls.
func multiRegions(t *testing.T, ropts ...dogpile.RegionOption) map[string]struct {
	r     *dogpile.Region
	store *storeBackend // nil for the built-in backends
} {
	type entry = struct {
		r     *dogpile.Region
		store *storeBackend
	}
	out := map[string]entry{}
	for _, b := range valuePaths {
		out[b] = entry{r: regionWith(t, ropts, b, dogpile.WithExpiration(time.Hour))}
	}
	plain := newStore()
	out["user plain"] = entry{regionFor(t, plain, ropts, dogpile.WithExpiration(time.Hour)), plain}
	multi := newMultiStore()
	out["user multi"] = entry{regionFor(t, multi, ropts, dogpile.WithExpiration(time.Hour)), multi.storeBackend}
	return out
}

func TestM1GetMultiHitsOnlyEmptyListNoBackend(t *testing.T) {
	ctx := context.Background()
	for name, e := range multiRegions(t) {
		t.Run(name, func(t *testing.T) {
			r := e.r
			mustSet(t, r, "a", "A")
			mustSet(t, r, "c", "C")
			mustSet(t, r, "n", 5)

			m, err := dogpile.GetMulti[string](ctx, r, []string{"a", "b", "c"})
			if err != nil || !maps.Equal(m, map[string]string{"a": "A", "c": "C"}) {
				t.Fatalf("GetMulti = %v, %v; want the hits a and c only", m, err)
			}
			if _, ok := m["b"]; ok {
				t.Fatal("GetMulti has an entry for a missing key")
			}
			// A value that isn't a T is not a hit.
			if m, err := dogpile.GetMulti[int](ctx, r, []string{"a", "n"}); err != nil || !maps.Equal(m, map[string]int{"n": 5}) {
				t.Fatalf("GetMulti[int] = %v, %v; want only the int n", m, err)
			}
			if m, _ := dogpile.GetMulti[string](ctx, r, []string{"a", "c"}, expiredNow); len(m) != 0 {
				t.Fatalf("GetMulti of expired values = %v; want no hits", m)
			}

			before := 0
			if e.store != nil {
				before = e.store.total()
			}
			for _, keys := range [][]string{nil, {}} {
				m, err := dogpile.GetMulti[string](ctx, r, keys)
				if err != nil || m == nil || len(m) != 0 {
					t.Fatalf("GetMulti(%#v) = %#v, %v; want an empty, non-nil map", keys, m, err)
				}
				vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, func(context.Context, []string) ([]string, error) {
					t.Error("creator called for an empty key list")
					return nil, nil
				})
				if err != nil || len(vs) != 0 {
					t.Fatalf("GetOrCreateMulti(%#v) = %#v, %v; want empty", keys, vs, err)
				}
			}
			if e.store != nil && e.store.total() != before {
				t.Fatalf("an empty key list touched the backend: %d calls", e.store.total()-before)
			}
		})
	}
}

func TestM2SetMultiDeleteMulti(t *testing.T) {
	ctx := context.Background()
	for name, e := range multiRegions(t) {
		t.Run(name, func(t *testing.T) {
			r := e.r
			if err := r.SetMulti(ctx, map[string]any{"a": 1, "b": 2, "c": 3}); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]int{"a": 1, "b": 2, "c": 3} {
				if v, ok := mustGet[int](t, r, k); !ok || v != want {
					t.Fatalf("after SetMulti, Get(%q) = %d, %v; want %d", k, v, ok, want)
				}
			}
			if err := r.DeleteMulti(ctx, []string{"a", "b", "missing"}); err != nil {
				t.Fatalf("DeleteMulti with a missing key: %v", err)
			}
			if m, _ := dogpile.GetMulti[int](ctx, r, []string{"a", "b", "c"}, dogpile.IgnoreExpiration()); !maps.Equal(m, map[string]int{"c": 3}) {
				t.Fatalf("after DeleteMulti(a, b) the region holds %v; want only c", m)
			}

			before := 0
			if e.store != nil {
				before = e.store.total()
			}
			for _, err := range []error{
				r.SetMulti(ctx, nil),
				r.SetMulti(ctx, map[string]any{}),
				r.DeleteMulti(ctx, nil),
				r.DeleteMulti(ctx, []string{}),
			} {
				if err != nil {
					t.Fatalf("an empty SetMulti/DeleteMulti: %v", err)
				}
			}
			if e.store != nil && e.store.total() != before {
				t.Fatalf("empty SetMulti/DeleteMulti touched the backend: %d calls", e.store.total()-before)
			}
			if v, ok := mustGet[int](t, r, "c"); !ok || v != 3 {
				t.Fatal("an empty DeleteMulti removed something")
			}
		})
	}

	t.Run("one call on a multi-key backend", func(t *testing.T) {
		b := newMultiStore()
		r := regionFor(t, b, nil)
		if err := r.SetMulti(ctx, map[string]any{"a": 1, "b": 2, "c": 3}); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteMulti(ctx, []string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
		if b.count("set_multi") != 1 || b.count("delete_multi") != 1 || b.count("set") != 0 || b.count("delete") != 0 {
			t.Fatalf("calls: %v; want one set_multi and one delete_multi", b.seen())
		}
	})
}

// recordingCreator is a GetOrCreateMulti creator that makes value(k) for
// each key k and records the keys of every call, for the tests that check
// which keys reach the creator and in what order.
type recordingCreator struct {
	value func(key string) string
	calls [][]string
}

func (c *recordingCreator) create(_ context.Context, keys []string) ([]string, error) {
	c.calls = append(c.calls, slices.Clone(keys))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = c.value(k)
	}
	return out, nil
}

func TestM3GetOrCreateMultiOrderAndExactKeys(t *testing.T) {
	ctx := context.Background()
	// The mangler shows that the creator gets the caller's keys, not the
	// store's.
	for name, e := range multiRegions(t, dogpile.WithKeyMangler(func(k string) string { return "ns:" + k })) {
		t.Run(name, func(t *testing.T) {
			r := e.r
			mustSet(t, r, "b", "B")
			mustSet(t, r, "d", "D")
			c := &recordingCreator{value: func(k string) string { return "v:" + k }}
			create := c.create
			keys := []string{"e", "b", "a", "d", "c"}
			want := []string{"v:e", "B", "v:a", "D", "v:c"}
			vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, create)
			if err != nil || !slices.Equal(vs, want) {
				t.Fatalf("GetOrCreateMulti = %q, %v; want %q", vs, err, want)
			}
			if len(c.calls) != 1 || !slices.Equal(c.calls[0], []string{"e", "a", "c"}) {
				t.Fatalf("creator calls %q; want one call with [e a c], the missing keys in order", c.calls)
			}
			if !slices.Equal(keys, []string{"e", "b", "a", "d", "c"}) {
				t.Fatalf("GetOrCreateMulti modified the caller's keys: %q", keys)
			}
			for i, k := range keys {
				if v, ok := mustGet[string](t, r, k); !ok || v != want[i] {
					t.Fatalf("after GetOrCreateMulti Get(%q) = %q, %v; want %q stored", k, v, ok, want[i])
				}
			}
			// Everything is stored: no creator call the second time.
			if vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, create); err != nil || !slices.Equal(vs, want) || len(c.calls) != 1 {
				t.Fatalf("second GetOrCreateMulti = %q, %v after %d creator calls", vs, err, len(c.calls))
			}
			// Expired keys need values too, in order.
			if vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"d", "x", "b"}, create, expiredNow); err != nil || !slices.Equal(vs, []string{"v:d", "v:x", "v:b"}) {
				t.Fatalf("GetOrCreateMulti of expired keys = %q, %v", vs, err)
			}
			if len(c.calls) != 2 || !slices.Equal(c.calls[1], []string{"d", "x", "b"}) {
				t.Fatalf("creator calls %q; want a second call with [d x b]", c.calls)
			}
			// A key asked for twice is created once, and returned twice.
			if vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"p", "q", "p"}, create); err != nil || !slices.Equal(vs, []string{"v:p", "v:q", "v:p"}) {
				t.Fatalf("GetOrCreateMulti with a repeated key = %q, %v", vs, err)
			}
			if len(c.calls) != 3 || !slices.Equal(c.calls[2], []string{"p", "q"}) {
				t.Fatalf("creator calls %q; want a third call with [p q]", c.calls)
			}
			// A creator returning the wrong number of values is an error, not
			// a misassignment.
			_, err = dogpile.GetOrCreateMulti(ctx, r, []string{"y", "z"}, func(context.Context, []string) ([]string, error) {
				return []string{"only one"}, nil
			})
			if err == nil {
				t.Fatal("a creator returning 1 value for 2 keys: no error")
			}
			if m, _ := dogpile.GetMulti[string](ctx, r, []string{"y", "z"}); len(m) != 0 {
				t.Fatalf("a creator returning the wrong number of values stored %v", m)
			}
		})
	}
}

func TestM4GetOrCreateMultiShouldCachePerValue(t *testing.T) {
	ctx := context.Background()
	keep := dogpile.ShouldCache(func(v string) bool { return !strings.HasPrefix(v, "skip") })
	for name, e := range multiRegions(t) {
		t.Run(name, func(t *testing.T) {
			r := e.r
			c := &recordingCreator{value: func(k string) string {
				if k == "b" {
					return "skip-b"
				}
				return "v" + k
			}}
			create := c.create
			vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b", "c"}, create, keep)
			if err != nil || !slices.Equal(vs, []string{"va", "skip-b", "vc"}) {
				t.Fatalf("GetOrCreateMulti = %q, %v; want every created value returned", vs, err)
			}
			m, _ := dogpile.GetMulti[string](ctx, r, []string{"a", "b", "c"})
			if !maps.Equal(m, map[string]string{"a": "va", "c": "vc"}) {
				t.Fatalf("stored %v; want a and c, not the rejected b", m)
			}
			if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b", "c"}, create, keep); err != nil {
				t.Fatal(err)
			}
			if len(c.calls) != 2 || !slices.Equal(c.calls[1], []string{"b"}) {
				t.Fatalf("creator calls %q; want the second with only the uncached [b]", c.calls)
			}
			// Every value rejected: nothing stored, no error.
			none := dogpile.ShouldCache(func(string) bool { return false })
			if vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"x", "y"}, create, none); err != nil || !slices.Equal(vs, []string{"vx", "vy"}) {
				t.Fatalf("GetOrCreateMulti with every value rejected = %q, %v", vs, err)
			}
			if m, _ := dogpile.GetMulti[string](ctx, r, []string{"x", "y"}); len(m) != 0 {
				t.Fatalf("values ShouldCache rejected were stored: %v", m)
			}
		})
	}
}

func TestM6MultiConcurrencyCreatesOnce(t *testing.T) {
	ctx := context.Background()
	const (
		callers = 16
		nkeys   = 24
		perCall = 12
	)
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}

	// stampede runs callers concurrent GetOrCreateMulti calls, each for an
	// overlapping window of keys in its own order, and checks every value
	// (the new generation gen, or the stale one when stale is not "") and
	// that each key was created once. The creators are held until every
	// caller has started, so that the calls overlap.
	stampede := func(t *testing.T, r *dogpile.Region, gen, stale string) {
		t.Helper()
		var (
			mu      sync.Mutex
			created = map[string]int{}
			arrived atomic.Int32
			all     = make(chan struct{})
		)
		create := func(_ context.Context, ks []string) ([]string, error) {
			select {
			case <-all:
			case <-time.After(deadline):
				return nil, fmt.Errorf("not every caller started")
			}
			mu.Lock()
			defer mu.Unlock()
			out := make([]string, len(ks))
			for i, k := range ks {
				created[k]++
				out[i] = gen + k
			}
			return out, nil
		}
		errs := make(chan error, callers)
		for c := range callers {
			mine := make([]string, perCall)
			for i := range mine {
				mine[i] = keys[(c*5+i)%nkeys]
			}
			if c%2 == 1 {
				slices.Reverse(mine)
			}
			go func() {
				if arrived.Add(1) == callers {
					close(all)
				}
				vs, err := dogpile.GetOrCreateMulti(ctx, r, mine, create)
				if err == nil {
					for i, k := range mine {
						if vs[i] != gen+k && (stale == "" || vs[i] != stale+k) {
							err = fmt.Errorf("value for %q = %q; want %q", k, vs[i], gen+k)
							break
						}
					}
				}
				errs <- err
			}()
		}
		for range callers {
			if err := recv(t, errs, "a caller"); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range keys {
			if created[k] != 1 {
				t.Errorf("key %q was created %d times; want once", k, created[k])
			}
			if v, ok := mustGet[string](t, r, k); !ok || v != gen+k {
				t.Errorf("after the stampede Get(%q) = %q, %v; want %q", k, v, ok, gen+k)
			}
		}
	}

	for name, e := range multiRegions(t) {
		t.Run(name, func(t *testing.T) {
			stampede(t, e.r, "v1:", "")
			// Stale keys (soft-invalidated) are regenerated once each too.
			if err := e.r.Invalidate(ctx, dogpile.Soft); err != nil {
				t.Fatal(err)
			}
			stampede(t, e.r, "v2:", "v1:")
			// Hard-invalidated keys: callers wait for the one creation.
			if err := e.r.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			stampede(t, e.r, "v3:", "")
		})
	}
}

// TestMultiHitAllocatesItsValues (issue 19, remote multi-key hits): a
// GetOrCreateMulti whose keys are all present in a byte backend allocates
// one string per value (the codec's) and a few slices for the call, not a
// decode, a lock's state or a map per key.
func TestMultiHitAllocatesItsValues(t *testing.T) {
	store := newMultiStore()
	r, err := dogpile.NewRegion().ConfigureBackend(store, dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := make([]string, 100)
	items := map[string]any{}
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		items[keys[i]] = strings.Repeat("v", 100)
	}
	if err := r.SetMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	create := func(context.Context, []string) ([]string, error) { return nil, fmt.Errorf("the creator ran on hits") }
	allocs := testing.AllocsPerRun(50, func() {
		if vs, err := dogpile.GetOrCreateMulti(ctx, r, keys, create); err != nil || len(vs) != len(keys) || vs[99] != items[keys[99]] {
			t.Fatal(vs, err)
		}
	})
	// One string per value; the rest is per call (the backend's reply
	// slice and the keys it records among them).
	if limit := float64(len(keys) + 8); allocs > limit {
		t.Errorf("GetOrCreateMulti of %d hits: %.0f allocations, want at most %.0f", len(keys), allocs, limit)
	}
}

// GetOrCreateMulti counts a miss for each key it found no value for, and
// none for a key it found stale, as GetOrCreate does: a stale key is
// regenerated, not missed.
func TestGetOrCreateMultiCountsMissesOnlyForMissingKeys(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		r := regionWith(t, []dogpile.RegionOption{dogpile.WithMetrics()}, backend, dogpile.WithExpiration(time.Hour))
		mustSet(t, r, "stale", "old")
		vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"stale", "missing"}, func(_ context.Context, keys []string) ([]string, error) {
			return slices.Repeat([]string{"new"}, len(keys)), nil
		}, expiredNow)
		if err != nil || !slices.Equal(vals, []string{"new", "new"}) {
			t.Fatalf("GetOrCreateMulti = %q, %v", vals, err)
		}
		if s := r.Stats(); s.Misses != 1 || s.Regenerations != 1 {
			t.Fatalf("Stats: %d misses, %d regenerations; want 1 miss (the missing key) and 1 regeneration", s.Misses, s.Regenerations)
		}
	})
}
