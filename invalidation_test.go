package dogpile_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// Conformance tests of invalidation (CONFORMANCE.md, lines I1–I5).

// staleServedWhileRegenerating checks that while one caller regenerates key
// (whose stored value is old), every other caller — GetOrCreate and
// GetOrCreateMulti alike — gets old at once, and that the creator runs once.
// The creator is blocked until the others have returned, so none of them can
// have waited for it.
func staleServedWhileRegenerating(t *testing.T, r *dogpile.Region, key, old, fresh string) {
	t.Helper()
	ctx := context.Background()
	var calls atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	regenerate := func(context.Context) (string, error) {
		calls.Add(1)
		once.Do(func() { close(entered) })
		<-release
		return fresh, nil
	}
	leader := goGetOrCreate(ctx, r, key, regenerate)
	recv(t, entered, "the regeneration to start")

	const others = 20
	results := make(chan result[string], others+1)
	for range others {
		go func() {
			v, err := dogpile.GetOrCreate(ctx, r, key, regenerate)
			results <- result[string]{v, err}
		}()
	}
	go func() {
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{key}, func(ctx context.Context, keys []string) ([]string, error) {
			v, err := regenerate(ctx)
			return []string{v}, err
		})
		var v string
		if len(vs) == 1 {
			v = vs[0]
		}
		results <- result[string]{v, err}
	}()
	for range others + 1 {
		if res := recv(t, results, "a caller to be served the stale value while the creator is blocked"); res.err != nil || res.v != old {
			t.Fatalf("a caller during regeneration got %q, %v; want the stale %q", res.v, res.err, old)
		}
	}
	close(release)
	if res := recv(t, leader, "the regenerating caller"); res.err != nil || res.v != fresh {
		t.Fatalf("the regenerating caller got %q, %v; want %q", res.v, res.err, fresh)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the creator ran %d times; want 1", n)
	}
	if v, ok := mustGet[string](t, r, key); !ok || v != fresh {
		t.Fatalf("after regeneration Get = %q, %v; want %q", v, ok, fresh)
	}
}

func TestI1HardInvalidationMissesEverywhere(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		for _, k := range []string{"a", "b", "c"} {
			mustSet(t, r, k, k+"-old")
		}
		if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
		for _, opts := range [][]dogpile.Option{nil, {dogpile.IgnoreExpiration()}} {
			// A hard-invalidated value is a miss, not an expiry: even
			// IgnoreExpiration doesn't bring it back.
			if v, ok := mustGet[string](t, r, "a", opts...); ok {
				t.Fatalf("Get (options %v) of a hard-invalidated value = %q", opts, v)
			}
			if _, _, ok, _ := dogpile.GetWithMetadata[string](ctx, r, "a", opts...); ok {
				t.Fatal("GetWithMetadata returned a hard-invalidated value")
			}
			if m, err := dogpile.GetMulti[string](ctx, r, []string{"a", "b"}, opts...); err != nil || len(m) != 0 {
				t.Fatalf("GetMulti of hard-invalidated values = %v, %v; want none", m, err)
			}
		}
		v, err := dogpile.GetOrCreate(ctx, r, "a", func(context.Context) (string, error) { return "a-new", nil })
		if err != nil || v != "a-new" {
			t.Fatalf("GetOrCreate of a hard-invalidated value = %q, %v; want created", v, err)
		}
		var gotKeys []string
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"b", "c"}, func(_ context.Context, keys []string) ([]string, error) {
			gotKeys = slices.Clone(keys)
			return []string{"b-new", "c-new"}, nil
		})
		if err != nil || !slices.Equal(vs, []string{"b-new", "c-new"}) || !slices.Equal(gotKeys, []string{"b", "c"}) {
			t.Fatalf("GetOrCreateMulti of hard-invalidated values = %q, %v (creator got %q)", vs, err, gotKeys)
		}
	})

	// Not served stale either: a caller that finds the invalidated value
	// while it is being recreated waits for the new value rather than
	// getting the old one. Backends that count reads show when that caller
	// has found it; only then is the creator let go.
	for name, store := range map[string]*storeBackend{"bytes": newStore(), "values": newStore()} {
		t.Run("not stale/"+name, func(t *testing.T) {
			var b dogpile.Backend = store
			if name == "values" {
				b = valueStoreBackend{store}
			}
			r := regionFor(t, b, nil, dogpile.WithExpiration(time.Hour))
			mustSet(t, r, "d", "d-old")
			if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			reads := func() int { return store.count("get") + store.count("get_value") }
			entered, release := make(chan struct{}), make(chan struct{})
			leader := goGetOrCreate(ctx, r, "d", func(context.Context) (string, error) { close(entered); <-release; return "d-new", nil })
			recv(t, entered, "the creator to start")
			before := reads()
			other := goGetOrCreate(ctx, r, "d", func(context.Context) (string, error) { return "d-other", nil })
			testutil.Eventually(t, "the other caller reads the store", func() bool { return reads() > before })
			close(release)
			for _, ch := range []<-chan result[string]{leader, other} {
				if res := recv(t, ch, "a caller"); res.err != nil || res.v != "d-new" {
					t.Fatalf("caller of a hard-invalidated key got %q, %v; want the new value", res.v, res.err)
				}
			}
		})
	}
}

func TestI2SoftInvalidationServesStaleWhileOneRegenerates(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		mustSet(t, r, "k", "old")
		mustSet(t, r, "m", "m-old")
		if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		if v, ok := mustGet[string](t, r, "k"); ok {
			t.Fatalf("Get of a soft-invalidated value = %q; want a miss", v)
		}
		if m, _ := dogpile.GetMulti[string](ctx, r, []string{"k", "m"}); len(m) != 0 {
			t.Fatalf("GetMulti of soft-invalidated values = %v; want none", m)
		}
		// Soft invalidation expires, it doesn't remove.
		if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); !ok || v != "old" {
			t.Fatalf("Get with IgnoreExpiration of a soft-invalidated value = %q, %v; want it", v, ok)
		}
		staleServedWhileRegenerating(t, r, "k", "old", "new")

		// GetOrCreateMulti regenerates soft-invalidated keys too.
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k", "m"}, func(_ context.Context, keys []string) ([]string, error) {
			if !slices.Equal(keys, []string{"m"}) {
				t.Errorf("multi creator got %q; want only the invalidated [m]", keys)
			}
			return []string{"m-new"}, nil
		})
		if err != nil || !slices.Equal(vs, []string{"new", "m-new"}) {
			t.Fatalf("GetOrCreateMulti after soft invalidation = %q, %v", vs, err)
		}
	})
}

func TestI3SoftInvalidationWithoutExpiration(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string][]dogpile.ConfigOption{
		"unset":        nil,
		"NoExpiration": {dogpile.WithExpiration(dogpile.NoExpiration)},
	} {
		t.Run(name, func(t *testing.T) {
			onEachPath(t, func(t *testing.T, backend string) {
				r := regionOn(t, backend, opts...)
				mustSet(t, r, "k", "old")
				if _, ok := mustGet[string](t, r, "k"); !ok {
					t.Fatal("control: the value should be fresh before the invalidation")
				}
				if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
					t.Fatalf("soft invalidation of a region without expiration: %v", err)
				}
				if v, ok := mustGet[string](t, r, "k"); ok {
					t.Fatalf("Get after soft invalidation = %q; want a miss", v)
				}
				if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); !ok || v != "old" {
					t.Fatalf("Get with IgnoreExpiration = %q, %v; want the stale value", v, ok)
				}
				staleServedWhileRegenerating(t, r, "k", "old", "new")
			})
		})
	}
}

func TestI4ValuesCreatedAfterInvalidationServed(t *testing.T) {
	ctx := context.Background()
	for _, how := range []dogpile.Invalidation{dogpile.Hard, dogpile.Soft} {
		t.Run(how.String(), func(t *testing.T) {
			onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
				mustSet(t, r, "before", "b")
				if err := r.Invalidate(ctx, how); err != nil {
					t.Fatal(err)
				}
				mustSet(t, r, "set-after", "s")
				if v, ok := mustGet[string](t, r, "set-after"); !ok || v != "s" {
					t.Fatalf("Get of a value set after the invalidation = %q, %v", v, ok)
				}
				if _, _, ok, _ := dogpile.GetWithMetadata[string](ctx, r, "set-after"); !ok {
					t.Fatal("GetWithMetadata of a value set after the invalidation: not found")
				}
				if m, _ := dogpile.GetMulti[string](ctx, r, []string{"before", "set-after"}); len(m) != 1 || m["set-after"] != "s" {
					t.Fatalf("GetMulti = %v; want only the value set after", m)
				}

				// Values regenerated after it are served without calling the
				// creator again.
				calls := 0
				create := func(context.Context) (string, error) { calls++; return "b2", nil }
				for range 3 {
					if v, err := dogpile.GetOrCreate(ctx, r, "before", create); err != nil || v != "b2" {
						t.Fatalf("GetOrCreate = %q, %v", v, err)
					}
				}
				if calls != 1 {
					t.Fatalf("a value recreated after the invalidation was recreated %d times; want 1", calls)
				}
				vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"before", "set-after"}, func(context.Context, []string) ([]string, error) {
					t.Error("multi creator called for values created after the invalidation")
					return nil, nil
				})
				if err != nil || !slices.Equal(vs, []string{"b2", "s"}) {
					t.Fatalf("GetOrCreateMulti = %q, %v", vs, err)
				}
			})
		})
	}
}

// scriptedStrategy is a user's invalidation strategy: it records the
// invalidations it is given and answers what the test tells it to.
type scriptedStrategy struct {
	mu            sync.Mutex
	invalidations []dogpile.Invalidation
	lastCreated   time.Time
	answer        atomic.Uint32 // a dogpile.Invalidation
	asked         atomic.Int64
	err           error
}

func (s *scriptedStrategy) Invalidate(_ context.Context, how dogpile.Invalidation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidations = append(s.invalidations, how)
	return s.err
}

func (s *scriptedStrategy) Invalidated(_ context.Context, created time.Time) dogpile.Invalidation {
	s.asked.Add(1)
	s.mu.Lock()
	s.lastCreated = created
	s.mu.Unlock()
	return dogpile.Invalidation(s.answer.Load())
}

func TestI5CustomInvalidationStrategy(t *testing.T) {
	ctx := context.Background()
	onEachPath(t, func(t *testing.T, backend string) {
		s := &scriptedStrategy{}
		r := regionOn(t, backend, dogpile.WithExpiration(time.Hour), dogpile.WithInvalidationStrategy(s))
		mustSet(t, r, "k", "v")

		// The region asks the strategy, with the value's creation time.
		_, md, ok, _ := dogpile.GetWithMetadata[string](ctx, r, "k")
		if !ok || s.asked.Load() == 0 {
			t.Fatalf("Get: found %v, strategy asked %d times; want found, asked", ok, s.asked.Load())
		}
		s.mu.Lock()
		lastCreated := s.lastCreated
		s.mu.Unlock()
		if !lastCreated.Equal(md.Created) {
			t.Fatalf("the strategy was asked about a value created %v; the value was created %v", lastCreated, md.Created)
		}

		// Invalidate goes to the strategy, and only the strategy decides: the
		// default in-process strategy is replaced, not added to.
		if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
		if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		got := slices.Clone(s.invalidations)
		s.mu.Unlock()
		if !slices.Equal(got, []dogpile.Invalidation{dogpile.Hard, dogpile.Soft}) {
			t.Fatalf("the strategy got invalidations %v; want [hard soft]", got)
		}
		if _, ok := mustGet[string](t, r, "k"); !ok {
			t.Fatal("the strategy says not invalidated, yet the value was not served")
		}

		s.answer.Store(uint32(dogpile.Soft))
		if _, ok := mustGet[string](t, r, "k"); ok {
			t.Fatal("the strategy says soft-invalidated, yet Get served the value")
		}
		if _, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); !ok {
			t.Fatal("soft-invalidated by the strategy: IgnoreExpiration should serve it")
		}

		s.answer.Store(uint32(dogpile.Hard))
		if _, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
			t.Fatal("the strategy says hard-invalidated, yet the value was served")
		}
		calls := 0
		if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { calls++; return "v2", nil }); err != nil || v != "v2" || calls != 1 {
			t.Fatalf("GetOrCreate of a value the strategy invalidated = %q, %v (%d calls)", v, err, calls)
		}

		// The strategy's errors are returned.
		errStore := errors.New("invalidation store down")
		s.mu.Lock()
		s.err = errStore
		s.mu.Unlock()
		if err := r.Invalidate(ctx, dogpile.Hard); !errors.Is(err, errStore) {
			t.Fatalf("Invalidate with a failing strategy: %v; want its error", err)
		}
	})

	t.Run("default rejects a non-invalidation", func(t *testing.T) {
		r := regionOn(t, "memory")
		if err := r.Invalidate(ctx, dogpile.NotInvalidated); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Fatalf("Invalidate(NotInvalidated) = %v; want ErrInvalidArgument", err)
		}
	})
}

// I1: a call made after a hard invalidation returned never gets a value whose
// creation began before it — not even by joining, in its own process, a
// creation that was in progress when the invalidation was made.
func TestI1CallAfterHardInvalidationDoesNotTakeAnEarlierCreation(t *testing.T) {
	// A SharedInvalidation serves one region: each region is given its own.
	shared := func(refresh time.Duration) func() []dogpile.ConfigOption {
		return func() []dogpile.ConfigOption {
			return []dogpile.ConfigOption{dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(refresh))}
		}
	}
	for name, tc := range map[string]struct {
		copts func() []dogpile.ConfigOption
		// elsewhere: the invalidation is another process's, which this
		// one learns of from the record read with the second call's value.
		elsewhere bool
	}{
		"in-process":          {copts: func() []dogpile.ConfigOption { return nil }},
		"SharedInvalidation":  {copts: shared(0)},
		"SharedInvalidation1": {copts: shared(1)},
		"SharedInvalidation, made by another process": {copts: shared(0), elsewhere: true},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store, err := dogpile.NewSerializedMemoryBackend(dogpile.MemoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ropts := []dogpile.RegionOption{dogpile.WithName("flight")}
			r := regionFor(t, store, ropts, tc.copts()...)
			invalidator := r
			if tc.elsewhere {
				invalidator = regionFor(t, store, ropts, tc.copts()...)
			}
			before, release := make(chan struct{}), make(chan struct{})
			first := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				close(before)
				<-release // still creating when the invalidation is made
				return "made before the invalidation", nil
			})
			<-before
			if err := invalidator.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			second := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				return "made after", nil
			})
			testutil.Eventually(t, "the second call to wait for the first's creation", func() bool { return dogpile.FlightWaiters(r, "k") == 1 })
			close(release)
			if got := recv(t, first, "the first call"); got.v != "made before the invalidation" || got.err != nil {
				t.Fatalf("the first call got %q, %v", got.v, got.err)
			}
			if got := recv(t, second, "the second call"); got.v != "made after" || got.err != nil {
				t.Fatalf("a call made after the hard invalidation got %q, %v; want a value created after it", got.v, got.err)
			}
			if v, ok := mustGet[string](t, r, "k"); !ok || v != "made after" {
				t.Fatalf("the store holds %q (%v); want the value created after the invalidation", v, ok)
			}
		})
	}
}
