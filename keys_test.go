package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// Tests of keys and types (CONFORMANCE K1–K3) and of the reserved keys (I9).

// Case 8: a user key equal to the invalidation record's key, or to another
// reserved key, or one the key mangler turns into a reserved key or into the
// record's storage key, is refused on every path, and the record is left as
// it is.
func TestI9ReservedKeyRefusedOnEveryPath(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		mangler func(string) string
		onto    []string // keys the mangler sends onto a reserved one
	}{
		"no mangler": {},
		// A mangler that folds case sends "DOGPILE:…" onto the record, and
		// onto the other reserved keys.
		"case-folding mangler": {strings.ToLower, []string{strings.ToUpper(invKey), strings.ToUpper(dogpile.ReservedKeyPrefix + "anything")}},
		// One that hashes the folded key sends "DOGPILE:…" onto the hash
		// the record is stored under, which is no reserved key itself.
		"case-folding hashing mangler": {func(k string) string { return dogpile.SHA1Mangler(strings.ToLower(k)) }, []string{strings.ToUpper(invKey)}},
	} {
		t.Run(name, func(t *testing.T) {
			mangler := c.mangler
			store := newLockStore()
			ropts := []dogpile.RegionOption{dogpile.WithName("shared")}
			recordKey := invKey
			if mangler != nil {
				ropts = append(ropts, dogpile.WithKeyMangler(mangler))
				recordKey = mangler(invKey)
			}
			r := regionFor(t, store, ropts, dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
			if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			record, ok := store.raw(recordKey)
			if !ok {
				t.Fatalf("no invalidation record under %q", recordKey)
			}
			before := store.total()
			keys := append([]string{invKey, dogpile.ReservedKeyPrefix + "anything"}, c.onto...)
			for _, key := range keys {
				create := func(context.Context) (string, error) { return "user value", nil }
				createMulti := func(_ context.Context, ks []string) ([]string, error) { return make([]string, len(ks)), nil }
				// A cached function whose key is key, on a second region of
				// the same store.
				gen := dogpile.WithFunctionKeyGenerator(func(string, string) func(string) string {
					return func(string) string { return key }
				})
				cr := regionFor(t, store, append(slices.Clone(ropts), gen), dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
				cached := dogpile.Cached(cr, func(context.Context, string) (string, error) { return "", nil })
				for op, call := range map[string]func() error{
					"Set":         func() error { return r.Set(ctx, key, "user value") },
					"SetMulti":    func() error { return r.SetMulti(ctx, map[string]any{"ok": 1, key: "user value"}) },
					"Get":         func() error { _, _, err := dogpile.Get[string](ctx, r, key); return err },
					"GetMulti":    func() error { _, err := dogpile.GetMulti[string](ctx, r, []string{"ok", key}); return err },
					"GetOrCreate": func() error { _, err := dogpile.GetOrCreate(ctx, r, key, create); return err },
					"GetOrCreateMulti": func() error {
						_, err := dogpile.GetOrCreateMulti(ctx, r, []string{"ok", key}, createMulti)
						return err
					},
					"GetWithMetadata": func() error { _, _, _, err := dogpile.GetWithMetadata[string](ctx, r, key); return err },
					"Delete":          func() error { return r.Delete(ctx, key) },
					"DeleteMulti":     func() error { return r.DeleteMulti(ctx, []string{"ok", key}) },
					"Cached.Call":     func() error { _, err := cached.Call(ctx, ""); return err },
					"Cached.Set":      func() error { return cached.Set(ctx, "", "user value") },
					"Cached.Refresh":  func() error { _, err := cached.Refresh(ctx, ""); return err },
				} {
					err := call()
					if !errors.Is(err, dogpile.ErrReservedKey) || !errors.Is(err, dogpile.ErrInvalidArgument) {
						t.Fatalf("%s(%q) = %v; want ErrReservedKey (and ErrInvalidArgument)", op, key, err)
					}
				}
			}
			if now, _ := store.raw(recordKey); !slices.Equal(now, record) {
				t.Fatal("a refused call changed the invalidation record")
			}
			if n := store.total(); n != before {
				t.Fatalf("refused calls made %d backend calls; want none", n-before)
			}
		})
	}
}

func TestK1KeyPrefixSeparatesRegions(t *testing.T) {
	ctx := context.Background()
	type user struct{ Name string }
	type order struct{ Item string }
	for name, mangler := range map[string]func(string) string{"no mangler": nil, "SHA1Mangler": dogpile.SHA1Mangler} {
		t.Run(name, func(t *testing.T) {
			store := newLockStore()
			opts := func(prefix string) []dogpile.RegionOption {
				o := []dogpile.RegionOption{dogpile.WithName(strings.TrimSuffix(prefix, ":")), dogpile.WithKeyPrefix(prefix)}
				if mangler != nil {
					o = append(o, dogpile.WithKeyMangler(mangler))
				}
				return o
			}
			shared := dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0))
			users := regionFor(t, store, opts("users:"), shared)
			orders := regionFor(t, store, opts("orders:"), dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
			storageKey := func(prefix, key string) string {
				if mangler != nil {
					key = mangler(key)
				}
				return prefix + key
			}

			if _, err := dogpile.GetOrCreate(ctx, users, "1", func(context.Context) (user, error) { return user{"ann"}, nil }); err != nil {
				t.Fatal(err)
			}
			ran := false
			o, err := dogpile.GetOrCreate(ctx, orders, "1", func(context.Context) (order, error) { ran = true; return order{"book"}, nil })
			if err != nil || !ran || o.Item != "book" {
				t.Fatalf("orders' GetOrCreate of the key users stored = %+v, %v (creator ran: %v); want its own value", o, err, ran)
			}
			if u, ok := mustGet[user](t, users, "1"); !ok || u.Name != "ann" {
				t.Fatalf("users reads %+v, %v after orders wrote the same key", u, ok)
			}
			for _, sk := range []string{storageKey("users:", "1"), storageKey("orders:", "1")} {
				if _, ok := store.raw(sk); !ok {
					t.Fatalf("nothing stored under %q; stored: %v", sk, store.seen()["set"])
				}
			}
			if _, ok := store.raw("1"); ok {
				t.Fatal("a value was stored under the key without its prefix")
			}

			// Every path uses the prefix: multi-key calls, deletes, locks and
			// the invalidation record.
			if err := users.SetMulti(ctx, map[string]any{"2": user{"bob"}}); err != nil {
				t.Fatal(err)
			}
			if m, err := dogpile.GetMulti[user](ctx, users, []string{"1", "2"}); err != nil || len(m) != 2 {
				t.Fatalf("GetMulti = %v, %v", m, err)
			}
			if m, err := dogpile.GetMulti[user](ctx, orders, []string{"2"}); err != nil || len(m) != 0 {
				t.Fatalf("orders' GetMulti reads users' key: %v, %v", m, err)
			}
			if err := users.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			if _, ok := store.raw(storageKey("users:", "dogpile:invalidated:users")); !ok {
				t.Fatal("the invalidation record is not under the region's prefix")
			}
			if _, ok := mustGet[order](t, orders, "1"); !ok {
				t.Fatal("an invalidation of users reached orders")
			}
			if err := users.DeleteMulti(ctx, []string{"2"}); err != nil {
				t.Fatal(err)
			}
			if err := users.Delete(ctx, "1"); err != nil {
				t.Fatal(err)
			}
			seen := store.seen()
			for op, ks := range seen {
				for _, k := range ks {
					if !strings.HasPrefix(k, "users:") && !strings.HasPrefix(k, "orders:") {
						t.Fatalf("%s was given the key %q, without a prefix", op, k)
					}
				}
			}
			if !slices.Contains(seen["mutex"], storageKey("users:", "1")) {
				t.Fatalf("the lock was not taken on the prefixed key: %v", seen["mutex"])
			}
			if _, ok := mustGet[order](t, orders, "1"); !ok {
				t.Fatal("deleting users' key deleted orders'")
			}
		})
	}
}

func TestK1KeyPrefixReservedRefused(t *testing.T) {
	_, err := dogpile.NewRegion(dogpile.WithKeyPrefix(dogpile.ReservedKeyPrefix + "x:")).Configure("memory")
	if !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("Configure with a key prefix in the reserved space = %v; want ErrInvalidArgument", err)
	}
}

// typedUser and typedOrder have the same JSON shape: without a type in the
// entry, one decodes into the other without error.
type (
	typedUser  struct{ ID int }
	typedOrder struct{ ID int }
)

// Case 9: the same key read as another type than it was written as is a
// miss, counted and logged once, identically on every backend.
func TestK2ReadAsAnotherTypeIsAMiss(t *testing.T) {
	ctx := context.Background()
	for name, b := range map[string]func() dogpile.Backend{
		"memory":            func() dogpile.Backend { m, _ := dogpile.NewMemoryBackend(dogpile.MemoryOptions{}); return m },
		"memory_serialized": func() dogpile.Backend { m, _ := dogpile.NewBackend("memory_serialized", nil); return m },
		"user backend":      func() dogpile.Backend { return newStore() },
	} {
		t.Run(name, func(t *testing.T) {
			logs := &logged{}
			r := regionFor(t, b(), []dogpile.RegionOption{dogpile.WithMetrics(), dogpile.WithLogger(slog.New(logs))})
			mustSet(t, r, "user", typedUser{ID: 1})
			mustSet(t, r, "text", "42")

			for range 5 {
				if o, ok := mustGet[typedOrder](t, r, "user"); ok {
					t.Fatalf("a typedUser read as a typedOrder: %+v", o)
				}
				if n, ok := mustGet[int](t, r, "text"); ok {
					t.Fatalf("a string read as an int: %d", n)
				}
				if m, err := dogpile.GetMulti[typedOrder](ctx, r, []string{"user"}); err != nil || len(m) != 0 {
					t.Fatalf("GetMulti[typedOrder] = %v, %v", m, err)
				}
			}
			if s := r.Stats(); s.DecodeFailures != 15 {
				t.Fatalf("decode failures = %d; want every read of another type counted (15)", s.DecodeFailures)
			}
			if n := logs.count("another type"); n != 2 {
				t.Fatalf("logged %d times; want once per pair of types (2): %v", n, logs.msgs)
			}
			// Its own type still reads it.
			if u, ok := mustGet[typedUser](t, r, "user"); !ok || u.ID != 1 {
				t.Fatalf("Get[typedUser] = %+v, %v", u, ok)
			}
			// GetOrCreate of another type replaces it with its own, and
			// finding the other type's entry is not a hit.
			hits := r.Stats().Hits
			o, err := dogpile.GetOrCreate(ctx, r, "user", func(context.Context) (typedOrder, error) { return typedOrder{ID: 2}, nil })
			if err != nil || o.ID != 2 {
				t.Fatalf("GetOrCreate[typedOrder] over a typedUser = %+v, %v", o, err)
			}
			if n := r.Stats().Hits - hits; n != 0 {
				t.Fatalf("GetOrCreate[typedOrder] over a typedUser counted %d hits, want none", n)
			}
			if _, ok := mustGet[typedUser](t, r, "user"); ok {
				t.Fatal("after GetOrCreate[typedOrder] the key still reads as a typedUser")
			}

			// The untyped read any takes an entry of any type (as the codec
			// decodes it into an interface: the default codec reads "42" as
			// JSON).
			if v, ok := mustGet[any](t, r, "text"); !ok || v == nil {
				t.Fatalf("Get[any] of a string = %#v, %v", v, ok)
			}
		})
	}
}

// GetOrCreate[T] writes its entries as T, so an interface T reads back
// (on the memory backend: codecs can't decode into an interface but any),
// while Set writes the value's own type.
func TestK2InterfaceTypes(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory")
	calls := 0
	boom := errors.New("boom")
	create := func(context.Context) (error, error) { calls++; return boom, nil }
	for range 3 {
		if v, err := dogpile.GetOrCreate(ctx, r, "err", create); err != nil || v != boom {
			t.Fatalf("GetOrCreate[error] = %v, %v", v, err)
		}
	}
	if calls != 1 {
		t.Fatalf("GetOrCreate[error] ran its creator %d times; want 1", calls)
	}
	mustSet(t, r, "u", typedUser{ID: 3})
	if _, ok := mustGet[fmt.Stringer](t, r, "u"); ok {
		t.Fatal("a typedUser read as a fmt.Stringer")
	}
	if v, ok := mustGet[any](t, r, "u"); !ok || v != (typedUser{ID: 3}) {
		t.Fatalf("Get[any] of a typedUser = %#v, %v", v, ok)
	}
}

// Case 13: no argument or namespace makes two cached calls share a key.
func TestK3CachedKeysInjective(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory")
	echo := func(tag string) func(context.Context, string) (string, error) {
		return func(_ context.Context, arg string) (string, error) { return tag + ":" + arg, nil }
	}
	plain := dogpile.Cached(r, echo("plain"), dogpile.FuncName("f"))
	tenant := dogpile.Cached(r, echo("tenant"), dogpile.FuncName("f"), dogpile.Namespace("tenant-a"))
	odd := dogpile.Cached(r, echo("odd"), dogpile.FuncName("f|tenant-a"))
	oddNS := dogpile.Cached(r, echo("oddNS"), dogpile.FuncName("f"), dogpile.Namespace("tenant-a|x"))

	calls := []struct {
		f    *dogpile.CachedFunc[string, string]
		arg  string
		want string
	}{
		{tenant, "x", "tenant:x"},
		{plain, "tenant-a|x", "plain:tenant-a|x"}, // name|arg that reads like name|ns|arg
		{odd, "x", "odd:x"},                       // a name with the separator
		{oddNS, "y", "oddNS:y"},
		{tenant, "x|y", "tenant:x|y"},
		{plain, "tenant-a%7Cx", "plain:tenant-a%7Cx"}, // an argument that looks escaped
		{plain, "%", "plain:%"},
		{plain, "%25", "plain:%25"},
	}
	keys := map[string]int{}
	for i, c := range calls {
		k := c.f.Key(c.arg)
		if j, dup := keys[k]; dup {
			t.Fatalf("calls %d and %d share the key %q", j, i, k)
		}
		keys[k] = i
	}
	for round := range 2 { // the second round reads the cache
		for _, c := range calls {
			if v, err := c.f.Call(ctx, c.arg); err != nil || v != c.want {
				t.Fatalf("round %d: %s(%q) = %q, %v; want %q", round, c.f.Name(), c.arg, v, err, c.want)
			}
		}
	}
}

// FuzzK3FunctionKeysInjective: two different (name, namespace, argument)
// triples never get the same key from FunctionKeyGenerator, and the key
// reads back as its parts.
func FuzzK3FunctionKeysInjective(f *testing.F) {
	f.Add("f", "", "ns|x", "f", "ns", "x")
	f.Add("f|ns", "", "x", "f", "ns", "x")
	f.Add("f", "a%7Cb", "", "f", "a|b", "")
	f.Add("f", "", "%", "f", "", "%25")
	f.Fuzz(func(t *testing.T, n1, ns1, a1, n2, ns2, a2 string) {
		k1, k2 := dogpile.FunctionKeyGenerator(n1, ns1)(a1), dogpile.FunctionKeyGenerator(n2, ns2)(a2)
		if (n1 != n2 || ns1 != ns2 || a1 != a2) && k1 == k2 {
			t.Fatalf("(%q, %q, %q) and (%q, %q, %q) share the key %q", n1, ns1, a1, n2, ns2, a2, k1)
		}
		parts := strings.Split(k1, "|")
		want := []string{n1, ns1, a1}
		if ns1 == "" {
			want = []string{n1, a1}
		}
		if len(parts) != len(want) {
			t.Fatalf("key %q has %d parts; want %d", k1, len(parts), len(want))
		}
		for i, p := range parts {
			if u := strings.NewReplacer("%7C", "|", "%25", "%").Replace(p); u != want[i] {
				t.Fatalf("key %q: part %d unescapes to %q; want %q", k1, i, u, want[i])
			}
		}
	})
}

// IsReservedKey tells the library's own keys in a store from values': a key
// that begins with ReservedKeyPrefix under the region's key prefix, or the
// storage key of the region's shared invalidation record (hashed by the
// region's mangler); before Configure, a key that begins with
// ReservedKeyPrefix.
func TestIsReservedKey(t *testing.T) {
	unconfigured := dogpile.NewRegion()
	for key, want := range map[string]bool{"dogpile:lock:k": true, "k": false, "": false} {
		if got := unconfigured.IsReservedKey(key); got != want {
			t.Errorf("unconfigured: IsReservedKey(%q) = %v; want %v", key, got, want)
		}
	}

	ropts := []dogpile.RegionOption{dogpile.WithName("shared"), dogpile.WithKeyPrefix("app:"), dogpile.WithKeyMangler(dogpile.SHA1Mangler)}
	shared := regionFor(t, newStore(), ropts, dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	plain := regionFor(t, newStore(), ropts)
	value, err := shared.StorageKey("k")
	if err != nil {
		t.Fatal(err)
	}
	record := "app:" + dogpile.SHA1Mangler(invKey)
	for _, tc := range []struct {
		key           string
		shared, plain bool
	}{
		{"app:dogpile:lock:k", true, true},
		{record, true, false}, // the record only where there is one
		{value, false, false},
		{"dogpile:lock:k", false, false}, // outside the region's prefix: another region's
		{"", false, false},
	} {
		if got := shared.IsReservedKey(tc.key); got != tc.shared {
			t.Errorf("with shared invalidation: IsReservedKey(%q) = %v; want %v", tc.key, got, tc.shared)
		}
		if got := plain.IsReservedKey(tc.key); got != tc.plain {
			t.Errorf("without: IsReservedKey(%q) = %v; want %v", tc.key, got, tc.plain)
		}
	}
}
