package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// Conformance tests of the region (CONFORMANCE.md, lines R1–R15).

func TestR1GetOfUnsetKeyNotFound(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		v, ok, err := dogpile.Get[string](ctx, r, "never-set")
		if err != nil || ok || v != "" {
			t.Fatalf("Get of a key never set = %q, %v, %v; want \"\", false, nil", v, ok, err)
		}
		p, ok, err := dogpile.Get[*samplePoint](ctx, r, "never-set")
		if err != nil || ok || p != nil {
			t.Fatalf("Get[*T] of a key never set = %v, %v, %v; want nil, false, nil", p, ok, err)
		}
		_, md, ok, err := dogpile.GetWithMetadata[string](ctx, r, "never-set")
		if err != nil || ok || md != (dogpile.Metadata{}) {
			t.Fatalf("GetWithMetadata of a key never set = %+v, %v, %v; want zero, false, nil", md, ok, err)
		}
	})
	t.Run("user backend", func(t *testing.T) {
		store := newStore()
		r := regionFor(t, store, nil)
		if _, ok, err := dogpile.Get[int](ctx, r, "never-set"); err != nil || ok {
			t.Fatalf("Get = %v, %v; want false, nil", ok, err)
		}
		if got := store.seen()["get"]; !slices.Equal(got, []string{"never-set"}) {
			t.Fatalf("backend was asked for %q, want the key once", got)
		}
	})
}

func TestR2SetThenGetTyped(t *testing.T) {
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		for i, rt := range typedValues(true) {
			t.Run(rt.name, func(t *testing.T) { rt.setGet(t, r, fmt.Sprintf("key-%d", i)) })
		}
		// Typed: a value read as a type it is not is no value, not an error.
		mustSet(t, r, "number", 42)
		if v, ok := mustGet[[]string](t, r, "number"); ok {
			t.Fatalf("Get[[]string] of an int = %v, true; want not found", v)
		}
		// Overwriting replaces.
		mustSet(t, r, "number", 43)
		if v, ok := mustGet[int](t, r, "number"); !ok || v != 43 {
			t.Fatalf("Get after overwrite = %v, %v; want 43", v, ok)
		}
	})
}

func TestR3GetOrCreateCreatesOnceAndStores(t *testing.T) {
	ctx := context.Background()
	want := sampleRecord{Name: "bo", Age: 3, Tags: []string{"t"}}
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		calls := 0
		create := func(context.Context) (sampleRecord, error) { calls++; return want, nil }
		v, err := dogpile.GetOrCreate(ctx, r, "k", create)
		if err != nil || !recordEqual(v, want) || calls != 1 {
			t.Fatalf("first GetOrCreate = %+v, %v after %d creator calls; want the creator's value after 1", v, err, calls)
		}
		if got, ok := mustGet[sampleRecord](t, r, "k"); !ok || !recordEqual(got, want) {
			t.Fatalf("Get after GetOrCreate = %+v, %v; want the created value stored", got, ok)
		}
		v, err = dogpile.GetOrCreate(ctx, r, "k", create)
		if err != nil || !recordEqual(v, want) || calls != 1 {
			t.Fatalf("second GetOrCreate = %+v, %v after %d creator calls; want the stored value, creator not called again", v, err, calls)
		}
	})
}

func TestR4ExpiredValueRegenerates(t *testing.T) {
	ctx := context.Background()
	onEachPath(t, func(t *testing.T, backend string) {
		// An expiration of 1ns: every value is expired as soon as it is read.
		r := regionOn(t, backend, dogpile.WithExpiration(time.Nanosecond))
		mustSet(t, r, "k", "old")
		if v, ok := mustGet[string](t, r, "k"); ok {
			t.Fatalf("Get of an expired value = %q; want not found", v)
		}
		if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); !ok || v != "old" {
			t.Fatalf("the expired value should still be stored; got %q, %v", v, ok)
		}
		calls := 0
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { calls++; return "new", nil })
		if err != nil || v != "new" || calls != 1 {
			t.Fatalf("GetOrCreate of an expired value = %q, %v after %d calls; want regenerated \"new\"", v, err, calls)
		}
		if v, _ := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); v != "new" {
			t.Fatalf("the regenerated value was not stored: %q", v)
		}

		// The control: a value younger than the expiration is returned.
		long := regionOn(t, backend, dogpile.WithExpiration(time.Hour))
		mustSet(t, long, "k", "v")
		if _, ok := mustGet[string](t, long, "k"); !ok {
			t.Fatal("a value younger than the region's expiration was not returned")
		}
	})

	t.Run("age boundary", func(t *testing.T) {
		// Stored entries made older: the expiration is compared with each
		// value's own creation time.
		store := newStore()
		r := regionFor(t, store, nil, dogpile.WithExpiration(time.Hour))
		mustSet(t, r, "young", "y")
		mustSet(t, r, "old", "o")
		b, _ := store.raw("young")
		store.put("young", aged(t, b, 59*time.Minute))
		b, _ = store.raw("old")
		store.put("old", aged(t, b, 61*time.Minute))
		if _, ok := mustGet[string](t, r, "young"); !ok {
			t.Fatal("a 59-minute-old value in a 1h region was not returned")
		}
		if _, ok := mustGet[string](t, r, "old"); ok {
			t.Fatal("a 61-minute-old value in a 1h region was returned")
		}
		v, err := dogpile.GetOrCreate(ctx, r, "old", func(context.Context) (string, error) { return "o2", nil })
		if err != nil || v != "o2" {
			t.Fatalf("GetOrCreate of the old value = %q, %v; want regenerated", v, err)
		}
		if v, ok := mustGet[string](t, r, "old"); !ok || v != "o2" {
			t.Fatalf("after regeneration Get = %q, %v", v, ok)
		}
	})

	t.Run("real time", func(t *testing.T) {
		r := regionOn(t, "memory", dogpile.WithExpiration(20*time.Millisecond))
		mustSet(t, r, "k", "v")
		testutil.Eventually(t, "a 20ms value expires", func() bool { _, ok := mustGet[string](t, r, "k"); return !ok })
	})
}

func TestR5IgnoreExpirationReturnsExpiredValue(t *testing.T) {
	ctx := context.Background()
	mustNotCreate := func(t *testing.T) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { t.Error("creator called with IgnoreExpiration"); return "", nil }
	}
	onEachPath(t, func(t *testing.T, backend string) {
		r := regionOn(t, backend, dogpile.WithExpiration(time.Nanosecond))
		mustSet(t, r, "k", "v")
		ign := dogpile.IgnoreExpiration()
		if _, ok := mustGet[string](t, r, "k"); ok {
			t.Fatal("control: the value should be expired")
		}
		if v, ok := mustGet[string](t, r, "k", ign); !ok || v != "v" {
			t.Fatalf("Get with IgnoreExpiration = %q, %v; want the expired value", v, ok)
		}
		if _, _, ok, err := dogpile.GetWithMetadata[string](ctx, r, "k", ign); !ok || err != nil {
			t.Fatalf("GetWithMetadata with IgnoreExpiration = %v, %v", ok, err)
		}
		if m, err := dogpile.GetMulti[string](ctx, r, []string{"k"}, ign); err != nil || m["k"] != "v" {
			t.Fatalf("GetMulti with IgnoreExpiration = %v, %v", m, err)
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "k", mustNotCreate(t), ign); err != nil || v != "v" {
			t.Fatalf("GetOrCreate with IgnoreExpiration = %q, %v", v, err)
		}
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k"}, func(context.Context, []string) ([]string, error) {
			t.Error("multi creator called with IgnoreExpiration")
			return []string{""}, nil
		}, ign)
		if err != nil || !slices.Equal(vs, []string{"v"}) {
			t.Fatalf("GetOrCreateMulti with IgnoreExpiration = %q, %v", vs, err)
		}

		// Also against a per-call expiration.
		long := regionOn(t, backend, dogpile.WithExpiration(time.Hour))
		mustSet(t, long, "k", "v")
		if v, ok := mustGet[string](t, long, "k", expiredNow, ign); !ok || v != "v" {
			t.Fatalf("Get with a per-call expiration and IgnoreExpiration = %q, %v", v, ok)
		}
	})
}

func TestR6PerCallExpirationOverridesForThatCallOnly(t *testing.T) {
	ctx := context.Background()
	onEachPath(t, func(t *testing.T, backend string) {
		long := regionOn(t, backend, dogpile.WithExpiration(time.Hour))
		mustSet(t, long, "k", "v")
		if _, ok := mustGet[string](t, long, "k", expiredNow); ok {
			t.Fatal("a shorter per-call expiration did not apply")
		}
		if _, ok := mustGet[string](t, long, "k"); !ok {
			t.Fatal("after a call with a per-call expiration, the region's no longer applies")
		}
		if m, _ := dogpile.GetMulti[string](ctx, long, []string{"k"}, expiredNow); len(m) != 0 {
			t.Fatalf("GetMulti with a shorter per-call expiration = %v; want no hits", m)
		}

		// GetOrCreate with the short expiration regenerates, and what it
		// stores does not carry the short expiration.
		calls := 0
		create := func(context.Context) (string, error) { calls++; return fmt.Sprintf("v%d", calls+1), nil }
		if v, err := dogpile.GetOrCreate(ctx, long, "k", create, expiredNow); err != nil || v != "v2" {
			t.Fatalf("GetOrCreate with a shorter per-call expiration = %q, %v; want regenerated", v, err)
		}
		if v, ok := mustGet[string](t, long, "k"); !ok || v != "v2" {
			t.Fatalf("the value created under a per-call expiration expired with it: %q, %v", v, ok)
		}
		if v, err := dogpile.GetOrCreate(ctx, long, "k", create); err != nil || v != "v2" || calls != 1 {
			t.Fatalf("GetOrCreate without the option = %q, %v (%d calls); want the stored value", v, err, calls)
		}
		var gotKeys []string
		vs, err := dogpile.GetOrCreateMulti(ctx, long, []string{"k"}, func(_ context.Context, keys []string) ([]string, error) {
			gotKeys = append(gotKeys, keys...)
			return []string{"v3"}, nil
		}, expiredNow)
		if err != nil || !slices.Equal(vs, []string{"v3"}) || !slices.Equal(gotKeys, []string{"k"}) {
			t.Fatalf("GetOrCreateMulti with a shorter per-call expiration = %q, %v (creator got %q)", vs, err, gotKeys)
		}

		// A longer per-call expiration keeps a value the region would expire.
		short := regionOn(t, backend, dogpile.WithExpiration(time.Nanosecond))
		mustSet(t, short, "k", "v")
		if _, ok := mustGet[string](t, short, "k", dogpile.ExpirationTime(time.Hour)); !ok {
			t.Fatal("a longer per-call expiration did not apply")
		}
		if _, ok := mustGet[string](t, short, "k"); ok {
			t.Fatal("the region's expiration no longer applies after a per-call one")
		}
	})
}

func TestR7NoExpirationNeverExpires(t *testing.T) {
	ctx := context.Background()
	never := dogpile.ExpirationTime(dogpile.NoExpiration)
	onEachRegion(t, time.Nanosecond, func(t *testing.T, r *dogpile.Region) {
		mustSet(t, r, "k", "v")
		if v, ok := mustGet[string](t, r, "k", never); !ok || v != "v" {
			t.Fatalf("Get with NoExpiration = %q, %v; want the value", v, ok)
		}
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
			t.Error("creator called with NoExpiration")
			return "", nil
		}, never)
		if err != nil || v != "v" {
			t.Fatalf("GetOrCreate with NoExpiration = %q, %v", v, err)
		}
		if _, ok := mustGet[string](t, r, "k"); ok {
			t.Fatal("NoExpiration for one call changed the region's expiration")
		}
	})

	// A region with no expiration keeps values forever: an entry created ten
	// years ago is fresh.
	const decade = 10 * 365 * 24 * time.Hour
	for name, opts := range map[string][]dogpile.ConfigOption{
		"unset":        nil,
		"zero":         {dogpile.WithExpiration(0)},
		"NoExpiration": {dogpile.WithExpiration(dogpile.NoExpiration)},
	} {
		t.Run("region "+name, func(t *testing.T) {
			store := newStore()
			r := regionFor(t, store, nil, opts...)
			if r.Expiration() != 0 {
				t.Fatalf("Expiration() = %v; want 0 (none)", r.Expiration())
			}
			mustSet(t, r, "k", "v")
			b, _ := store.raw("k")
			store.put("k", aged(t, b, decade))
			if v, ok := mustGet[string](t, r, "k"); !ok || v != "v" {
				t.Fatalf("a ten-year-old value in a region without expiration: %q, %v; want fresh", v, ok)
			}
			// Control: the same entry in a region with an expiration is expired,
			// and a per-call NoExpiration keeps it there too.
			hourly := regionFor(t, store, nil, dogpile.WithExpiration(time.Hour))
			if _, ok := mustGet[string](t, hourly, "k"); ok {
				t.Fatal("control: the aged entry should be expired in a 1h region")
			}
			if _, ok := mustGet[string](t, hourly, "k", never); !ok {
				t.Fatal("per-call NoExpiration did not keep a ten-year-old value")
			}
		})
	}
}

func TestR8ShouldCacheFalseReturnsButDoesNotStore(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		keepPositive := dogpile.ShouldCache(func(n int) bool { return n > 0 })
		calls, next := 0, -1
		create := func(context.Context) (int, error) { calls++; return next, nil }

		if v, err := dogpile.GetOrCreate(ctx, r, "k", create, keepPositive); err != nil || v != -1 {
			t.Fatalf("GetOrCreate = %d, %v; want the created -1 returned", v, err)
		}
		if v, ok := mustGet[int](t, r, "k"); ok {
			t.Fatalf("a value ShouldCache rejected was stored: %d", v)
		}
		if _, err := dogpile.GetOrCreate(ctx, r, "k", create, keepPositive); err != nil || calls != 2 {
			t.Fatalf("after a rejected value, GetOrCreate called the creator %d times (err %v); want 2", calls, err)
		}

		next = 7
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create, keepPositive); err != nil || v != 7 {
			t.Fatalf("GetOrCreate = %d, %v; want 7", v, err)
		}
		if v, ok := mustGet[int](t, r, "k"); !ok || v != 7 {
			t.Fatalf("a value ShouldCache accepted was not stored: %d, %v", v, ok)
		}

		// Regenerating an expired value: a rejected new value is returned and
		// the old one stays.
		next = -5
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create, keepPositive, expiredNow); err != nil || v != -5 {
			t.Fatalf("regenerating GetOrCreate = %d, %v; want -5", v, err)
		}
		if v, ok := mustGet[int](t, r, "k"); !ok || v != 7 {
			t.Fatalf("a rejected regeneration replaced the stored value: %d, %v", v, ok)
		}

		// A ShouldCache for another type is a clear error, not ignored.
		_, err := dogpile.GetOrCreate(ctx, r, "other", func(context.Context) (string, error) { return "s", nil }, keepPositive)
		if !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Fatalf("ShouldCache of the wrong type: err = %v; want ErrInvalidArgument", err)
		}
	})
}

func TestR9DeleteRemovesMissingIsNotError(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		mustSet(t, r, "k", "v")
		mustSet(t, r, "other", "o")
		if err := r.Delete(ctx, "k"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
			t.Fatal("Get after Delete found the value")
		}
		if _, ok := mustGet[string](t, r, "other"); !ok {
			t.Fatal("Delete removed another key")
		}
		calls := 0
		if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { calls++; return "v2", nil }); err != nil || v != "v2" || calls != 1 {
			t.Fatalf("GetOrCreate after Delete = %q, %v (%d calls); want created", v, err, calls)
		}
		for _, k := range []string{"never-set", "k", "k"} {
			if err := r.Delete(ctx, k); err != nil {
				t.Fatalf("Delete(%q) of a missing key: %v", k, err)
			}
		}
	})
}

func TestR10GetWithMetadata(t *testing.T) {
	ctx := context.Background()
	const slack = 100 * time.Millisecond
	onEachPath(t, func(t *testing.T, backend string) {
		r := regionOn(t, backend, dogpile.WithExpiration(time.Hour))
		before := time.Now()
		mustSet(t, r, "k", "v")
		after := time.Now()
		v, md, ok, err := dogpile.GetWithMetadata[string](ctx, r, "k")
		if err != nil || !ok || v != "v" {
			t.Fatalf("GetWithMetadata = %q, %v, %v", v, ok, err)
		}
		if md.Created.Before(before.Add(-slack)) || md.Created.After(after.Add(slack)) {
			t.Fatalf("Created = %v; want between %v and %v", md.Created, before, after)
		}
		if md.Version != dogpile.FormatVersion {
			t.Fatalf("Version = %d; want %d", md.Version, dogpile.FormatVersion)
		}
		if backend == "memory_serialized" {
			if md.Codec != "default" || md.Size <= 0 {
				t.Fatalf("byte-stored metadata = %+v; want codec \"default\" and a size", md)
			}
		} else if md.Codec != "" || md.Size != 0 {
			t.Fatalf("Go-value metadata = %+v; want no codec, no size", md)
		}

		// The creation time is the value's, not the read's.
		_, md2, _, _ := dogpile.GetWithMetadata[string](ctx, r, "k")
		if !md2.Created.Equal(md.Created) {
			t.Fatalf("second read Created = %v; want %v", md2.Created, md.Created)
		}

		// An expired value is not returned unless IgnoreExpiration.
		if _, md, ok, err := dogpile.GetWithMetadata[string](ctx, r, "k", expiredNow); ok || err != nil || md != (dogpile.Metadata{}) {
			t.Fatalf("GetWithMetadata of an expired value = %+v, %v, %v; want not found", md, ok, err)
		}
		v, md3, ok, err := dogpile.GetWithMetadata[string](ctx, r, "k", expiredNow, dogpile.IgnoreExpiration())
		if err != nil || !ok || v != "v" || !md3.Created.Equal(md.Created) {
			t.Fatalf("GetWithMetadata with IgnoreExpiration = %q, %+v, %v, %v", v, md3, ok, err)
		}
	})

	t.Run("old entry", func(t *testing.T) {
		store := newStore()
		r := regionFor(t, store, nil, dogpile.WithExpiration(time.Hour))
		mustSet(t, r, "k", "v")
		_, md, _, _ := dogpile.GetWithMetadata[string](ctx, r, "k")
		b, _ := store.raw("k")
		store.put("k", aged(t, b, 2*time.Hour))
		if _, _, ok, _ := dogpile.GetWithMetadata[string](ctx, r, "k"); ok {
			t.Fatal("a 2h-old value was returned by a 1h region")
		}
		_, old, ok, err := dogpile.GetWithMetadata[string](ctx, r, "k", dogpile.IgnoreExpiration())
		if err != nil || !ok || !old.Created.Equal(md.Created.Add(-2*time.Hour)) || old.Size != len(b) {
			t.Fatalf("metadata of the aged entry = %+v, %v, %v; want Created %v, Size %d", old, ok, err, md.Created.Add(-2*time.Hour), len(b))
		}
	})
}

func TestR11UnconfiguredErrorsAndReconfiguration(t *testing.T) {
	ctx := context.Background()
	r := dogpile.NewRegion(dogpile.WithName("r11"))
	if r.IsConfigured() || r.Backend() != nil || r.Expiration() != 0 || r.Close() != nil {
		t.Fatal("a new region should be unconfigured, with no backend")
	}
	noCreate := func(context.Context) (string, error) {
		t.Error("creator called on an unconfigured region")
		return "", nil
	}
	noCreateMulti := func(context.Context, []string) ([]string, error) {
		t.Error("creator called on an unconfigured region")
		return nil, nil
	}
	calls := map[string]func() error{
		"Get":               func() error { _, _, err := dogpile.Get[string](ctx, r, "k"); return err },
		"GetWithMetadata":   func() error { _, _, _, err := dogpile.GetWithMetadata[string](ctx, r, "k"); return err },
		"GetMulti":          func() error { _, err := dogpile.GetMulti[string](ctx, r, []string{"k"}); return err },
		"GetMulti empty":    func() error { _, err := dogpile.GetMulti[string](ctx, r, nil); return err },
		"GetOrCreate":       func() error { _, err := dogpile.GetOrCreate(ctx, r, "k", noCreate); return err },
		"GetOrCreateMulti":  func() error { _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k"}, noCreateMulti); return err },
		"Set":               func() error { return r.Set(ctx, "k", "v") },
		"SetMulti":          func() error { return r.SetMulti(ctx, map[string]any{"k": "v"}) },
		"SetMulti empty":    func() error { return r.SetMulti(ctx, nil) },
		"Delete":            func() error { return r.Delete(ctx, "k") },
		"DeleteMulti":       func() error { return r.DeleteMulti(ctx, []string{"k"}) },
		"DeleteMulti empty": func() error { return r.DeleteMulti(ctx, nil) },
		"Invalidate":        func() error { return r.Invalidate(ctx, dogpile.Hard) },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, dogpile.ErrNotConfigured) || !strings.Contains(err.Error(), "r11") {
			t.Errorf("%s on an unconfigured region: err = %v; want ErrNotConfigured naming the region", name, err)
		}
	}

	// A failed Configure leaves the region unconfigured.
	if _, err := r.Configure("no-such-backend"); err == nil || r.IsConfigured() {
		t.Fatalf("Configure with an unknown backend: err = %v, configured = %v", err, r.IsConfigured())
	}

	if _, err := r.Configure("memory", dogpile.WithExpiration(time.Hour)); err != nil || !r.IsConfigured() {
		t.Fatalf("Configure: %v", err)
	}
	mustSet(t, r, "k", "v")
	first := r.Backend()

	// Configuring again without WithReplaceBackend is an error and changes nothing.
	if _, err := r.Configure("memory_serialized"); !errors.Is(err, dogpile.ErrAlreadyConfigured) {
		t.Fatalf("second Configure: err = %v; want ErrAlreadyConfigured", err)
	}
	if _, err := r.ConfigureBackend(newStore()); !errors.Is(err, dogpile.ErrAlreadyConfigured) {
		t.Fatalf("ConfigureBackend on a configured region: err = %v; want ErrAlreadyConfigured", err)
	}
	if r.Backend() != first || r.Expiration() != time.Hour {
		t.Fatal("a refused Configure changed the region")
	}
	if v, ok := mustGet[string](t, r, "k"); !ok || v != "v" {
		t.Fatal("a refused Configure lost the stored value")
	}

	// With WithReplaceBackend the backend is replaced.
	store := newStore()
	if _, err := r.ConfigureBackend(store, dogpile.WithReplaceBackend()); err != nil {
		t.Fatalf("ConfigureBackend with WithReplaceBackend: %v", err)
	}
	if r.Backend() != dogpile.Backend(store) || r.Expiration() != 0 {
		t.Fatalf("after replacing, Backend() = %T, Expiration() = %v", r.Backend(), r.Expiration())
	}
	if _, ok := mustGet[string](t, r, "k"); ok {
		t.Fatal("after replacing the backend, the old backend's value was found")
	}
	mustSet(t, r, "k2", "v2")
	if _, ok := store.raw("k2"); !ok {
		t.Fatal("after replacing, Set did not reach the new backend")
	}
	if _, err := r.Configure("memory", dogpile.WithReplaceBackend(), dogpile.WithExpiration(time.Minute)); err != nil {
		t.Fatalf("Configure with WithReplaceBackend: %v", err)
	}
	if _, ok := r.Backend().(*dogpile.MemoryBackend); !ok || r.Expiration() != time.Minute {
		t.Fatalf("after replacing by name, Backend() = %T, Expiration() = %v", r.Backend(), r.Expiration())
	}
}

func TestR12KeyManglerOnEveryPath(t *testing.T) {
	ctx := context.Background()
	mangle := func(k string) string { return "m:" + k }

	// exercise calls every keyed operation of a region, missing and stale
	// values included, so that the lock is taken through both of its paths.
	exercise := func(t *testing.T, r *dogpile.Region) {
		t.Helper()
		create := func(context.Context) (string, error) { return "c", nil }
		createMulti := func(_ context.Context, keys []string) ([]string, error) {
			for _, k := range keys {
				if strings.HasPrefix(k, "m:") {
					t.Errorf("the creator got the mangled key %q; want the caller's", k)
				}
			}
			return slices.Repeat([]string{"c"}, len(keys)), nil
		}
		steps := []func() error{
			func() error { return r.Set(ctx, "a", "v") },
			func() error { _, _, err := dogpile.Get[string](ctx, r, "a"); return err },
			func() error { _, _, _, err := dogpile.GetWithMetadata[string](ctx, r, "a"); return err },
			func() error { _, err := dogpile.GetOrCreate(ctx, r, "b", create); return err },             // missing: Lock
			func() error { _, err := dogpile.GetOrCreate(ctx, r, "a", create, expiredNow); return err }, // stale: TryLock
			func() error { return r.SetMulti(ctx, map[string]any{"c": "v", "d": "v"}) },
			func() error { _, err := dogpile.GetMulti[string](ctx, r, []string{"a", "c", "x"}); return err },
			func() error {
				_, err := dogpile.GetOrCreateMulti(ctx, r, []string{"e", "a", "f"}, createMulti)
				return err
			},
			func() error {
				_, err := dogpile.GetOrCreateMulti(ctx, r, []string{"c"}, createMulti, expiredNow)
				return err
			},
			func() error { return r.Delete(ctx, "a") },
			func() error { return r.DeleteMulti(ctx, []string{"c", "d"}) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
	check := func(t *testing.T, seen map[string][]string, ops ...string) {
		t.Helper()
		for _, op := range ops {
			if len(seen[op]) == 0 {
				t.Errorf("the backend's %s was never called: the test does not cover that path", op)
			}
		}
		for op, keys := range seen {
			for _, k := range keys {
				if !strings.HasPrefix(k, "m:") {
					t.Errorf("backend %s got the unmangled key %q", op, k)
				}
			}
		}
	}

	t.Run("multi and mutex backend", func(t *testing.T) {
		b := newLockStore()
		r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithKeyMangler(mangle)}, dogpile.WithExpiration(time.Hour))
		exercise(t, r)
		seen := b.seen()
		check(t, seen, "get", "set", "delete", "get_multi", "set_multi", "delete_multi", "mutex")
		for _, k := range []string{"m:b", "m:a", "m:e", "m:f", "m:c"} {
			if !slices.Contains(seen["mutex"], k) {
				t.Errorf("no lock was taken on %q (locks: %q)", k, seen["mutex"])
			}
		}
		if _, ok := b.raw("m:b"); !ok {
			t.Error("GetOrCreate did not store under the mangled key")
		}
	})
	t.Run("plain backend", func(t *testing.T) {
		b := newStore()
		r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithKeyMangler(mangle)}, dogpile.WithExpiration(time.Hour))
		exercise(t, r)
		check(t, b.seen(), "get", "set", "delete")
	})
	t.Run("value backend", func(t *testing.T) {
		b := valueStoreBackend{newStore()}
		r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithKeyMangler(mangle)}, dogpile.WithExpiration(time.Hour))
		exercise(t, r)
		check(t, b.seen(), "get_value", "set_value", "delete")
	})

	t.Run("SHA1Mangler", func(t *testing.T) {
		if got := dogpile.SHA1Mangler("hello"); got != "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d" {
			t.Fatalf("SHA1Mangler(hello) = %q", got)
		}
		hex40 := regexp.MustCompile(`^[0-9a-f]{40}$`)
		seen := map[string]string{}
		for _, k := range []string{"", "a", "a key with spaces\n", strings.Repeat("long", 300), "ключ"} {
			m := dogpile.SHA1Mangler(k)
			if !hex40.MatchString(m) {
				t.Errorf("SHA1Mangler(%.20q) = %q; want 40 hex characters", k, m)
			}
			if other, dup := seen[m]; dup {
				t.Errorf("SHA1Mangler gives %q for both %.20q and %.20q", m, k, other)
			}
			seen[m] = k
		}
	})
	t.Run("LengthConditionalMangler", func(t *testing.T) {
		m := dogpile.LengthConditionalMangler(10, nil)
		for key, want := range map[string]string{
			"short":       "short",
			"0123456789":  "0123456789", // exactly the length: kept
			"0123456789a": dogpile.SHA1Mangler("0123456789a"),
		} {
			if got := m(key); got != want {
				t.Errorf("LengthConditionalMangler(10)(%q) = %q; want %q", key, got, want)
			}
		}
		upper := dogpile.LengthConditionalMangler(3, strings.ToUpper)
		if upper("abc") != "abc" || upper("abcd") != "ABCD" {
			t.Errorf("with a custom mangler: %q, %q", upper("abc"), upper("abcd"))
		}
		// Through a region: short keys readable in the store, long ones hashed.
		store := newStore()
		r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithKeyMangler(m)})
		long := "a-key-longer-than-ten"
		mustSet(t, r, "short", 1)
		mustSet(t, r, long, 2)
		if _, ok := store.raw("short"); !ok {
			t.Error("a short key was not stored as is")
		}
		if _, ok := store.raw(dogpile.SHA1Mangler(long)); !ok {
			t.Error("a long key was not stored under its hash")
		}
		if v, ok := mustGet[int](t, r, long); !ok || v != 2 {
			t.Errorf("Get of the long key = %v, %v", v, ok)
		}
	})
}

var errBoom = errors.New("boom")

func TestR13CreatorErrorReturnedNothingStored(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		calls := 0
		fail := func(context.Context) (string, error) { calls++; return "partial", fmt.Errorf("loading: %w", errBoom) }
		if _, err := dogpile.GetOrCreate(ctx, r, "k", fail); !errors.Is(err, errBoom) {
			t.Fatalf("GetOrCreate with a failing creator: err = %v; want errors.Is(err, errBoom)", err)
		}
		if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
			t.Fatalf("a failed creation stored %q", v)
		}
		if _, err := dogpile.GetOrCreate(ctx, r, "k", fail); !errors.Is(err, errBoom) || calls != 2 {
			t.Fatalf("the error was cached: second call err = %v after %d creator calls; want the creator called again", err, calls)
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "ok", nil }); err != nil || v != "ok" {
			t.Fatalf("after errors, GetOrCreate = %q, %v", v, err)
		}

		// A failed regeneration neither replaces nor removes the stale value.
		mustSet(t, r, "s", "old")
		if _, err := dogpile.GetOrCreate(ctx, r, "s", fail, expiredNow); !errors.Is(err, errBoom) {
			t.Fatalf("failed regeneration: err = %v", err)
		}
		if v, ok := mustGet[string](t, r, "s"); !ok || v != "old" {
			t.Fatalf("after a failed regeneration Get = %q, %v; want the old value", v, ok)
		}

		// GetOrCreateMulti likewise.
		multiCalls := 0
		failMulti := func(context.Context, []string) ([]string, error) {
			multiCalls++
			return nil, fmt.Errorf("batch: %w", errBoom)
		}
		if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"m1", "m2"}, failMulti); !errors.Is(err, errBoom) {
			t.Fatalf("GetOrCreateMulti with a failing creator: err = %v", err)
		}
		if m, _ := dogpile.GetMulti[string](ctx, r, []string{"m1", "m2"}); len(m) != 0 {
			t.Fatalf("a failed multi creation stored %v", m)
		}
		if _, err := dogpile.GetOrCreateMulti(ctx, r, []string{"m1", "m2"}, failMulti); !errors.Is(err, errBoom) || multiCalls != 2 {
			t.Fatalf("multi: second call err = %v after %d calls; want the creator called again", err, multiCalls)
		}

		// A caller waiting for a failing creator gets its error too.
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		blockedFail := func(context.Context) (string, error) {
			once.Do(func() { close(entered) })
			<-release
			return "", fmt.Errorf("slow: %w", errBoom)
		}
		leader := goGetOrCreate(ctx, r, "w", blockedFail)
		recv(t, entered, "the creator to start")
		waiter := goGetOrCreate(ctx, r, "w", blockedFail)
		close(release)
		for _, ch := range []<-chan result[string]{leader, waiter} {
			if res := recv(t, ch, "a caller"); !errors.Is(res.err, errBoom) {
				t.Fatalf("caller of a failing creation: %q, %v; want errBoom", res.v, res.err)
			}
		}
	})
}

func TestR14CancelledContextEndsWait(t *testing.T) {
	bg := context.Background()
	onEachRegion(t, 0, func(t *testing.T, r *dogpile.Region) {
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		slow := func(context.Context) (string, error) {
			once.Do(func() { close(entered) })
			<-release
			return "v", nil
		}
		leader := goGetOrCreate(bg, r, "k", slow)
		recv(t, entered, "the creator to start")

		// Waiters for the value being created return their context's error
		// as soon as it ends, while the creator is still blocked.
		cctx, cancel := context.WithCancel(bg)
		cancelled := goGetOrCreate(cctx, r, "k", slow)
		tctx, cancelT := context.WithTimeout(bg, 10*time.Millisecond)
		defer cancelT()
		timedOut := goGetOrCreate(tctx, r, "k", slow)
		mctx, cancelM := context.WithCancel(bg)
		multi := make(chan error, 1)
		go func() {
			_, err := dogpile.GetOrCreateMulti(mctx, r, []string{"k"}, func(context.Context, []string) ([]string, error) {
				return []string{"multi"}, nil
			})
			multi <- err
		}()
		if res := recv(t, timedOut, "the waiter with a deadline"); !errors.Is(res.err, context.DeadlineExceeded) {
			t.Fatalf("waiter past its deadline: %q, %v; want context.DeadlineExceeded", res.v, res.err)
		}
		cancel()
		if res := recv(t, cancelled, "the cancelled waiter"); !errors.Is(res.err, context.Canceled) {
			t.Fatalf("cancelled waiter: %q, %v; want context.Canceled", res.v, res.err)
		}
		cancelM()
		if err := recv(t, multi, "the cancelled GetOrCreateMulti"); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled GetOrCreateMulti waiter: %v; want context.Canceled", err)
		}

		// The caller running the creator gives up as well.
		lctx, cancelL := context.WithCancel(bg)
		entered2 := make(chan struct{})
		leader2 := goGetOrCreate(lctx, r, "k2", func(context.Context) (string, error) {
			close(entered2)
			<-release
			return "v2", nil
		})
		recv(t, entered2, "the second creator to start")
		cancelL()
		if res := recv(t, leader2, "the cancelled creator's caller"); !errors.Is(res.err, context.Canceled) {
			t.Fatalf("cancelled caller running the creator: %q, %v; want context.Canceled", res.v, res.err)
		}

		close(release)
		if res := recv(t, leader, "the leader"); res.err != nil || res.v != "v" {
			t.Fatalf("leader = %q, %v", res.v, res.err)
		}
	})

	t.Run("backend calls", func(t *testing.T) {
		// The caller's context reaches the backend; its error comes back
		// unwrapped enough for errors.Is.
		r := regionFor(t, newStore(), nil)
		ctx, cancel := context.WithCancel(bg)
		cancel()
		calls := map[string]func() error{
			"Get":      func() error { _, _, err := dogpile.Get[string](ctx, r, "k"); return err },
			"GetMulti": func() error { _, err := dogpile.GetMulti[string](ctx, r, []string{"k"}); return err },
			"GetOrCreate": func() error {
				_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "", nil })
				return err
			},
			"GetOrCreateMulti": func() error {
				_, err := dogpile.GetOrCreateMulti(ctx, r, []string{"k"}, func(context.Context, []string) ([]string, error) { return []string{""}, nil })
				return err
			},
			"Set":         func() error { return r.Set(ctx, "k", "v") },
			"SetMulti":    func() error { return r.SetMulti(ctx, map[string]any{"k": "v"}) },
			"Delete":      func() error { return r.Delete(ctx, "k") },
			"DeleteMulti": func() error { return r.DeleteMulti(ctx, []string{"k"}) },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v; want context.Canceled", name, err)
			}
		}
	})

	t.Run("cross-process lock wait", func(t *testing.T) {
		b := newLockStore()
		r := regionFor(t, b, nil)
		holder := b.locks.Mutex("k") // another process holds the key's lock
		if err := holder.Lock(bg); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(bg)
		created := make(chan struct{})
		ch := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) { close(created); return "v", nil })
		// Cancel once the caller has read the store (the backend honours a
		// cancelled context) and gone for the lock.
		testutil.Eventually(t, "the caller asks for the key's lock", func() bool { return b.count("mutex") > 0 })
		cancel()
		if res := recv(t, ch, "the caller waiting for the lock"); !errors.Is(res.err, context.Canceled) {
			t.Fatalf("caller waiting for a held lock: %q, %v; want context.Canceled", res.v, res.err)
		}
		if err := holder.Unlock(bg); err != nil {
			t.Fatal(err)
		}
		recv(t, created, "the detached creation to go on once the lock is free")
	})
}

func TestR15ArgumentsMapNotModified(t *testing.T) {
	name := uniqueName("r15")
	var got string // what the factory was given, printed (fmt sorts maps)
	err := dogpile.RegisterBackend(name, func(a dogpile.Args) (dogpile.Backend, error) {
		got = fmt.Sprint(a)
		// A careless factory writes to its arguments, at every depth.
		a["added"] = true
		delete(a, "url")
		a["timeout"] = 99
		if m, ok := a["nested"].(map[string]any); ok {
			m["added"] = 1
			delete(m, "x")
		}
		if l, ok := a["list"].([]any); ok && len(l) > 0 {
			l[0] = "changed"
		}
		if l, ok := a["names"].([]string); ok && len(l) > 0 {
			l[0] = "changed"
		}
		return newStore(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() dogpile.Args {
		return dogpile.Args{
			"url":     "mem://x",
			"timeout": 5,
			"nested":  map[string]any{"x": 1, "deeper": map[string]any{"y": 2}},
			"list":    []any{"a", "b"},
			"names":   []string{"a", "b"},
		}
	}

	args := fresh()
	if _, err := dogpile.NewRegion().Configure(name, dogpile.WithArguments(args)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(args, fresh()) {
		t.Fatalf("Configure modified the caller's arguments: %v", args)
	}
	if want := fmt.Sprint(fresh()); got != want {
		t.Fatalf("the factory got %v; want the caller's arguments %v", got, want)
	}

	args = fresh()
	if _, err := dogpile.NewBackend(name, args); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(args, fresh()) {
		t.Fatalf("NewBackend modified the caller's arguments: %v", args)
	}

	cfg := func() map[string]any {
		return map[string]any{
			"cache.backend":           name,
			"cache.expiration_time":   "10m",
			"cache.arguments.url":     "mem://y",
			"cache.arguments.nested":  map[string]any{"x": 1},
			"cache.arguments.list":    []any{"a"},
			"cache.arguments.timeout": 5,
		}
	}
	c := cfg()
	if _, err := dogpile.NewRegion().ConfigureFromMap(c, "cache."); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, cfg()) {
		t.Fatalf("ConfigureFromMap modified the caller's map: %v", c)
	}
}

// A zero Region is an unconfigured region: its calls return
// ErrNotConfigured, and once configured it works — no nil codec, no nil
// logger.
func TestR11ZeroRegion(t *testing.T) {
	ctx := context.Background()
	var unconfigured dogpile.Region
	if _, _, err := dogpile.Get[string](ctx, &unconfigured, "k"); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Fatalf("Get on a zero Region = %v; want ErrNotConfigured", err)
	}
	onEachPath(t, func(t *testing.T, backend string) {
		for how, configure := range map[string]func(*dogpile.Region) error{
			"Configure": func(r *dogpile.Region) error { _, err := r.Configure(backend); return err },
			"ConfigureBackend": func(r *dogpile.Region) error {
				b, err := dogpile.NewBackend(backend, nil)
				if err != nil {
					return err
				}
				_, err = r.ConfigureBackend(b)
				return err
			},
		} {
			var r dogpile.Region
			if err := configure(&r); err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			mustSet(t, &r, "k", "v")
			if v, ok := mustGet[string](t, &r, "k"); !ok || v != "v" {
				t.Fatalf("%s: Get = %q, %v", how, v, ok)
			}
			if v, err := dogpile.GetOrCreate(ctx, &r, "j", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
				t.Fatalf("%s: GetOrCreate = %d, %v", how, v, err)
			}
			if _, ok := mustGet[int](t, &r, "k"); ok { // a type mismatch: logged through the default logger
				t.Fatalf("%s: a string read as an int", how)
			}
		}
	})
}

// ExpirationTime(0), and an ExpirationFunc returning 0, mean what Python's
// dogpile.cache makes of expiration_time=0 in a call: every value is
// expired at once.
func TestR6ZeroExpirationIsExpiredAtOnce(t *testing.T) {
	ctx := context.Background()
	for name, zero := range map[string]dogpile.Option{
		"ExpirationTime(0)":  dogpile.ExpirationTime(0),
		"ExpirationFunc → 0": dogpile.ExpirationFunc(func() time.Duration { return 0 }),
	} {
		t.Run(name, func(t *testing.T) {
			onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
				mustSet(t, r, "k", "v")
				if v, ok := mustGet[string](t, r, "k", zero); ok {
					t.Fatalf("Get with a zero expiration read %q", v)
				}
				if v, ok := mustGet[string](t, r, "k", zero, dogpile.IgnoreExpiration()); !ok || v != "v" {
					t.Fatalf("IgnoreExpiration no longer reads the value: %q, %v", v, ok)
				}
				calls := 0
				for i := range 3 {
					v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
						calls++
						return fmt.Sprint(calls), nil
					}, zero)
					if err != nil || v != fmt.Sprint(i+1) {
						t.Fatalf("call %d: GetOrCreate = %q, %v; want a new value each call", i, v, err)
					}
				}
				// The region's own expiration is untouched.
				if v, ok := mustGet[string](t, r, "k"); !ok || v != "3" {
					t.Fatalf("without the option: %q, %v", v, ok)
				}
			})
		})
	}
}

// closeErrBackend is a backend whose Close fails.
type closeErrBackend struct {
	dogpile.NullBackend
	err error
}

func (b closeErrBackend) Close() error { return b.err }

// Region.Close returns the error of its backend's Close.
func TestRegionCloseReturnsBackendCloseError(t *testing.T) {
	boom := errors.New("close failed")
	r, err := dogpile.NewRegion().ConfigureBackend(closeErrBackend{err: boom})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); !errors.Is(err, boom) {
		t.Errorf("Close() = %v; want the backend's Close error", err)
	}
}

// A Configure refused because the region is already configured builds no
// backend: the registered factory is never called (a backend may connect to
// a server when it is made).
func TestConfigureOfAConfiguredRegionBuildsNoBackend(t *testing.T) {
	name := uniqueName("configured-once")
	var made int
	if err := dogpile.RegisterBackend(name, func(dogpile.Args) (dogpile.Backend, error) {
		made++
		return newStore(), nil
	}); err != nil {
		t.Fatal(err)
	}
	r := regionOn(t, name)
	if _, err := r.Configure(name); !errors.Is(err, dogpile.ErrAlreadyConfigured) {
		t.Fatalf("second Configure = %v; want ErrAlreadyConfigured", err)
	}
	if made != 1 {
		t.Fatalf("the factory was called %d times; want once, by the first Configure", made)
	}
}

// closeCountBackend is a store that counts its Close calls.
type closeCountBackend struct {
	*storeBackend
	closed *int
}

func (b closeCountBackend) Close() error { *b.closed++; return nil }

// A Configure that finds the region configured once its backend is built
// (another Configure won meanwhile) fails with ErrAlreadyConfigured, keeps
// the backend that won, and closes the backend it built, which nothing else
// holds.
func TestConfigureThatLosesClosesItsBackend(t *testing.T) {
	r := dogpile.NewRegion(dogpile.WithName("lost-configure"))
	winner := newStore()
	name := uniqueName("lost-configure")
	var closed int
	if err := dogpile.RegisterBackend(name, func(dogpile.Args) (dogpile.Backend, error) {
		// Configured meanwhile, between Configure's checks and its
		// installing this backend.
		if _, err := r.ConfigureBackend(winner); err != nil {
			t.Errorf("ConfigureBackend: %v", err)
		}
		return closeCountBackend{newStore(), &closed}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Configure(name); !errors.Is(err, dogpile.ErrAlreadyConfigured) || !strings.Contains(err.Error(), "lost-configure") {
		t.Fatalf("Configure that lost = %v; want ErrAlreadyConfigured naming the region", err)
	}
	if r.Backend() != dogpile.Backend(winner) {
		t.Fatalf("Backend() = %T; want the backend configured first", r.Backend())
	}
	if closed != 1 {
		t.Fatalf("the backend built for the refused Configure was closed %d times; want once", closed)
	}
}

// A negative expiration time other than NoExpiration is refused by
// Configure and ConfigureBackend with an *ArgError, leaving the region
// unconfigured; NoExpiration is accepted and means never.
func TestNegativeRegionExpirationRefused(t *testing.T) {
	for how, configure := range map[string]func(*dogpile.Region, dogpile.ConfigOption) error{
		"Configure": func(r *dogpile.Region, o dogpile.ConfigOption) error { _, err := r.Configure("memory", o); return err },
		"ConfigureBackend": func(r *dogpile.Region, o dogpile.ConfigOption) error {
			_, err := r.ConfigureBackend(newStore(), o)
			return err
		},
	} {
		r := dogpile.NewRegion()
		err := configure(r, dogpile.WithExpiration(-2*time.Second))
		var ae *dogpile.ArgError
		if !errors.Is(err, dogpile.ErrInvalidArgument) || !errors.As(err, &ae) || ae.Name != "expiration_time" {
			t.Fatalf("%s with an expiration of -2s = %v; want an *ArgError for expiration_time", how, err)
		}
		if r.IsConfigured() {
			t.Fatalf("%s with a negative expiration configured the region", how)
		}
		if err := configure(r, dogpile.WithExpiration(dogpile.NoExpiration)); err != nil {
			t.Fatalf("%s with NoExpiration: %v", how, err)
		}
		if r.Expiration() != 0 {
			t.Fatalf("%s with NoExpiration: Expiration() = %v; want 0 (none)", how, r.Expiration())
		}
	}
}

// ConfigureBackend without a backend (a nil one) is refused with an
// *ArgError, and the region stays unconfigured.
func TestConfigureBackendNilRefused(t *testing.T) {
	r := dogpile.NewRegion()
	_, err := r.ConfigureBackend(nil)
	var ae *dogpile.ArgError
	if !errors.Is(err, dogpile.ErrInvalidArgument) || !errors.As(err, &ae) || ae.Name != "backend" {
		t.Fatalf("ConfigureBackend(nil) = %v; want an *ArgError for the backend", err)
	}
	if r.IsConfigured() {
		t.Fatal("ConfigureBackend(nil) configured the region")
	}
}

// An unnamed region's calls before Configure return ErrNotConfigured as it
// is, without naming a region: no `region ""` in the message.
func TestUnnamedRegionNotConfiguredError(t *testing.T) {
	_, _, err := dogpile.Get[string](context.Background(), dogpile.NewRegion(), "k")
	if !errors.Is(err, dogpile.ErrNotConfigured) || err.Error() != dogpile.ErrNotConfigured.Error() {
		t.Fatalf("Get on an unnamed, unconfigured region = %q; want %q", err, dogpile.ErrNotConfigured)
	}
}

// failingReads is a multi-key store whose reads fail with err.
type failingReads struct {
	multiStoreBackend
	err error
}

func (f failingReads) Get(context.Context, string) ([]byte, bool, error)    { return nil, false, f.err }
func (f failingReads) GetMulti(context.Context, []string) ([][]byte, error) { return nil, f.err }

// A read the backend fails is a *BackendError naming the operation and the
// key (a multi-key read's first key) and wrapping the backend's error; it
// is counted once, as a backend error, and not as a miss.
func TestFailedReadIsABackendErrorNotAMiss(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("connection reset")
	r := regionFor(t, failingReads{newMultiStore(), boom}, []dogpile.RegionOption{dogpile.WithMetrics()})
	var be *dogpile.BackendError
	if _, _, err := dogpile.Get[string](ctx, r, "k"); !errors.Is(err, boom) || !errors.As(err, &be) || be.Op != "get" || be.Key != "k" {
		t.Fatalf("Get = %v; want a BackendError of get \"k\" wrapping the backend's error", err)
	}
	if _, err := dogpile.GetMulti[string](ctx, r, []string{"a", "b"}); !errors.Is(err, boom) || !errors.As(err, &be) || be.Op != "get_multi" || be.Key != "a" {
		t.Fatalf("GetMulti = %v; want a BackendError of get_multi \"a\" wrapping the backend's error", err)
	}
	if s := r.Stats(); s.BackendErrors != 2 || s.Misses != 0 {
		t.Fatalf("Stats: %d backend errors, %d misses; want 2 and 0", s.BackendErrors, s.Misses)
	}
}

// shortReads is a multi-key store whose GetMulti answers no values at all.
type shortReads struct{ multiStoreBackend }

func (shortReads) GetMulti(context.Context, []string) ([][]byte, error) { return nil, nil }

// A multi-key backend that answers fewer values than it was asked for
// breaks its contract: the read is a *BackendError saying so, on the read of
// one key with its shared invalidation record as on GetMulti, and the
// creator does not run (a miss would overwrite what the store holds).
func TestShortMultiKeyAnswerIsAnError(t *testing.T) {
	ctx := context.Background()
	r := regionFor(t, shortReads{newMultiStore()}, nil, dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	mustSet(t, r, "k", "v")
	var be *dogpile.BackendError
	const says = "GetMulti answered 0 values for 2 keys"
	if v, ok, err := dogpile.Get[string](ctx, r, "k"); ok || !errors.As(err, &be) || be.Op != "get_multi" || !strings.Contains(err.Error(), says) {
		t.Fatalf("Get over a short answer = %q, %v, %v; want a BackendError saying %q", v, ok, err, says)
	}
	if m, err := dogpile.GetMulti[string](ctx, r, []string{"k"}); len(m) != 0 || !errors.As(err, &be) || !strings.Contains(err.Error(), says) {
		t.Fatalf("GetMulti over a short answer = %v, %v; want a BackendError saying %q", m, err, says)
	}
	ran := false
	if _, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { ran = true; return "new", nil }); !errors.As(err, &be) || ran {
		t.Fatalf("GetOrCreate over a short answer = %v, creator ran: %v; want a BackendError, and no creation", err, ran)
	}
}
