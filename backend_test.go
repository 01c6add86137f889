package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// Conformance tests of the built-in backends, the registry and
// configuration (CONFORMANCE.md, lines B2–B8; B1 is in conformance_test.go).

func TestB2MemoryStoresSameValueAllocsNothingBoundEvicts(t *testing.T) {
	ctx := context.Background()

	t.Run("same Go value", func(t *testing.T) {
		r := regionOn(t, "memory", dogpile.WithExpiration(time.Hour))
		p := &samplePoint{1, 2}
		mustSet(t, r, "p", p)
		if got, ok := mustGet[*samplePoint](t, r, "p"); !ok || got != p {
			t.Fatalf("Get of a stored pointer = %p, %v; want the same pointer %p", got, ok, p)
		}
		m := map[string]int{"a": 1}
		mustSet(t, r, "m", m)
		gm, ok := mustGet[map[string]int](t, r, "m")
		if !ok || reflect.ValueOf(gm).UnsafePointer() != reflect.ValueOf(m).UnsafePointer() {
			t.Fatal("Get of a stored map returned a copy")
		}
		s := []int{1, 2, 3}
		mustSet(t, r, "s", s)
		if gs, ok := mustGet[[]int](t, r, "s"); !ok || &gs[0] != &s[0] {
			t.Fatal("Get of a stored slice returned a copy")
		}
		var created *samplePoint
		create := func(context.Context) (*samplePoint, error) { created = &samplePoint{3, 4}; return created, nil }
		first, _ := dogpile.GetOrCreate(ctx, r, "q", create)
		second, _ := dogpile.GetOrCreate(ctx, r, "q", create)
		if first != created || second != created {
			t.Fatalf("GetOrCreate returned %p then %p; want the created %p both times", first, second, created)
		}
	})

	t.Run("a hit allocates nothing", func(t *testing.T) {
		r := regionOn(t, "memory", dogpile.WithExpiration(time.Hour))
		createS := func(context.Context) (string, error) { return "value", nil }
		rec := sampleRecord{Name: "n", Tags: []string{"t"}}
		createR := func(context.Context) (sampleRecord, error) { return rec, nil }
		if _, err := dogpile.GetOrCreate(ctx, r, "s", createS); err != nil {
			t.Fatal(err)
		}
		if _, err := dogpile.GetOrCreate(ctx, r, "r", createR); err != nil {
			t.Fatal(err)
		}
		var bad atomic.Int32
		for name, hit := range map[string]func(){
			"GetOrCreate string": func() {
				if v, err := dogpile.GetOrCreate(ctx, r, "s", createS); err != nil || v != "value" {
					bad.Add(1)
				}
			},
			"GetOrCreate struct": func() {
				if v, err := dogpile.GetOrCreate(ctx, r, "r", createR); err != nil || v.Name != "n" {
					bad.Add(1)
				}
			},
			"Get string": func() {
				if v, ok, err := dogpile.Get[string](ctx, r, "s"); err != nil || !ok || v != "value" {
					bad.Add(1)
				}
			},
		} {
			if allocs := testing.AllocsPerRun(1000, hit); allocs != 0 {
				t.Errorf("%s hit: %v allocations; want 0", name, allocs)
			}
		}
		if bad.Load() != 0 {
			t.Fatal("a hit returned a wrong value")
		}
	})

	t.Run("bound evicts", func(t *testing.T) {
		const bound, writes = 100, 1000
		for _, backend := range valuePaths {
			t.Run(backend, func(t *testing.T) {
				r := regionOn(t, backend, dogpile.WithArguments(dogpile.Args{"max_entries": bound}))
				for i := range writes {
					mustSet(t, r, fmt.Sprint(i), i)
				}
				// The bounded store evicts in the background: wait until it has
				// settled within the bound (a little slack for its estimate).
				stored := func() int {
					n := 0
					for i := range writes {
						if _, ok := mustGet[int](t, r, fmt.Sprint(i)); ok {
							n++
						}
					}
					return n
				}
				testutil.Eventually(t, fmt.Sprintf("at most ~%d of %d entries remain", bound, writes), func() bool { return stored() <= bound+bound/10 })
				if n := stored(); n == 0 {
					t.Fatal("the bounded store kept nothing")
				}
			})
		}
		// The control: unbounded keeps everything.
		r := regionOn(t, "memory")
		for i := range writes {
			mustSet(t, r, fmt.Sprint(i), i)
		}
		if n := r.Backend().(*dogpile.MemoryBackend).Len(); n != writes {
			t.Fatalf("the unbounded store holds %d of %d entries", n, writes)
		}
		// A bad bound is a clear error naming the argument.
		for _, v := range []any{-1, "many", 1.5} {
			_, err := dogpile.NewBackend("memory", dogpile.Args{"max_entries": v})
			if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(err), "max_entries") {
				t.Errorf("max_entries = %#v: err = %v; want ErrInvalidArgument naming it", v, err)
			}
		}
	})
}

func TestB3SerializedValuesCannotBeMutatedThroughCache(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory_serialized", dogpile.WithExpiration(time.Hour))

	s := []int{1, 2, 3}
	mustSet(t, r, "s", s)
	s[0] = 99
	got, _ := mustGet[[]int](t, r, "s")
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("mutating a slice after Set changed the cached value: %v", got)
	}
	got[1] = 99
	if again, _ := mustGet[[]int](t, r, "s"); !slices.Equal(again, []int{1, 2, 3}) {
		t.Fatalf("mutating a slice after Get changed the cached value: %v", again)
	}

	m := map[string]int{"a": 1}
	mustSet(t, r, "m", m)
	m["a"], m["b"] = 2, 3
	gm, _ := mustGet[map[string]int](t, r, "m")
	if !maps.Equal(gm, map[string]int{"a": 1}) {
		t.Fatalf("mutating a map after Set changed the cached value: %v", gm)
	}
	delete(gm, "a")
	if again, _ := mustGet[map[string]int](t, r, "m"); !maps.Equal(again, map[string]int{"a": 1}) {
		t.Fatalf("mutating a map after Get changed the cached value: %v", again)
	}

	b := []byte("bytes")
	mustSet(t, r, "b", b)
	b[0] = 'X'
	gb, _ := mustGet[[]byte](t, r, "b")
	if string(gb) != "bytes" {
		t.Fatalf("mutating a []byte after Set changed the cached value: %q", gb)
	}
	gb[0] = 'Y'
	if again, _ := mustGet[[]byte](t, r, "b"); string(again) != "bytes" {
		t.Fatalf("mutating a []byte after Get changed the cached value: %q", again)
	}

	// Values created by GetOrCreate: neither the creator's copy nor the
	// caller's is the cached one.
	var mine sampleRecord
	v, err := dogpile.GetOrCreate(ctx, r, "rec", func(context.Context) (sampleRecord, error) {
		mine = sampleRecord{Name: "x", Tags: []string{"a"}, Attrs: map[string]string{"k": "v"}}
		return mine, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mine.Tags[0], mine.Attrs["k"] = "creator", "creator"
	v.Tags = append(v.Tags, "caller")
	again, _ := mustGet[sampleRecord](t, r, "rec")
	if !recordEqual(again, sampleRecord{Name: "x", Tags: []string{"a"}, Attrs: map[string]string{"k": "v"}}) {
		t.Fatalf("mutating a created value changed the cached value: %+v", again)
	}

	// The control: memory (unserialized) shares the value, by design (B2).
	shared := regionOn(t, "memory")
	s2 := []int{1}
	mustSet(t, shared, "s", s2)
	s2[0] = 2
	if g, _ := mustGet[[]int](t, shared, "s"); g[0] != 2 {
		t.Fatal("control: the memory backend should hold the value itself")
	}
}

func TestB4NullBackend(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"null", "dogpile.cache.null"} {
		t.Run(name, func(t *testing.T) {
			r := regionOn(t, name, dogpile.WithExpiration(time.Hour))
			if err := r.Set(ctx, "k", "v"); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if err := r.SetMulti(ctx, map[string]any{"a": 1}); err != nil {
				t.Fatalf("SetMulti: %v", err)
			}
			if _, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
				t.Fatal("Get on null found a value")
			}
			if m, err := dogpile.GetMulti[int](ctx, r, []string{"a", "k"}); err != nil || len(m) != 0 {
				t.Fatalf("GetMulti on null = %v, %v", m, err)
			}
			calls := 0
			for i := range 3 {
				v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (int, error) { calls++; return calls, nil })
				if err != nil || v != i+1 {
					t.Fatalf("GetOrCreate on null = %d, %v; want the creator's %d", v, err, i+1)
				}
			}
			if calls != 3 {
				t.Fatalf("on null, 3 GetOrCreate calls ran the creator %d times; want 3", calls)
			}
			multiCalls := 0
			for range 2 {
				vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(_ context.Context, keys []string) ([]string, error) {
					multiCalls++
					return keys, nil
				})
				if err != nil || !slices.Equal(vs, []string{"a", "b"}) {
					t.Fatalf("GetOrCreateMulti on null = %q, %v", vs, err)
				}
			}
			if multiCalls != 2 {
				t.Fatalf("on null the multi creator ran %d times; want 2", multiCalls)
			}
			for _, err := range []error{r.Delete(ctx, "k"), r.DeleteMulti(ctx, []string{"a"}), r.Invalidate(ctx, dogpile.Hard)} {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if _, err := dogpile.NewBackend("null", dogpile.Args{"url": "x"}); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("null with an argument: err = %v; want ErrInvalidArgument", err)
	}
}

func TestB5RegisterBackendByNameDuplicateAndAliases(t *testing.T) {
	ctx := context.Background()
	name := uniqueName("b5")
	var made []*storeBackend
	var gotArgs []dogpile.Args
	var mu sync.Mutex
	factory := func(a dogpile.Args) (dogpile.Backend, error) {
		mu.Lock()
		defer mu.Unlock()
		b := newStore()
		made = append(made, b)
		gotArgs = append(gotArgs, a)
		return b, nil
	}
	if err := dogpile.RegisterBackend(name, factory); err != nil {
		t.Fatalf("RegisterBackend: %v", err)
	}
	if !slices.Contains(dogpile.Backends(), name) {
		t.Fatalf("Backends() = %v; want it to list %q", dogpile.Backends(), name)
	}
	r := regionOn(t, name, dogpile.WithArguments(dogpile.Args{"path": "/x"}))
	if len(made) != 1 || r.Backend() != dogpile.Backend(made[0]) {
		t.Fatalf("Configure(%q) did not use the registered factory's backend", name)
	}
	if !maps.Equal(gotArgs[0], dogpile.Args{"path": "/x"}) {
		t.Fatalf("the factory got %v; want the configured arguments", gotArgs[0])
	}
	mustSet(t, r, "k", "v")
	if _, ok := made[0].raw("k"); !ok {
		t.Fatal("Set did not reach the user's backend")
	}
	if b, err := dogpile.NewBackend(name, nil); err != nil || len(made) != 2 || b != dogpile.Backend(made[1]) {
		t.Fatalf("NewBackend(%q) = %v, %v", name, b, err)
	}

	// Registering a name again, or one of the seed's aliases, or a built-in
	// name, is an error.
	for _, n := range []string{name, "memory", "null", "dogpile.cache.memory", "memory_pickle"} {
		if err := dogpile.RegisterBackend(n, factory); !errors.Is(err, dogpile.ErrDuplicateBackend) || !strings.Contains(err.Error(), n) {
			t.Errorf("RegisterBackend(%q) again: err = %v; want ErrDuplicateBackend naming it", n, err)
		}
	}
	if err := dogpile.RegisterBackend("", factory); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("RegisterBackend with no name: err = %v", err)
	}
	if err := dogpile.RegisterBackend(uniqueName("b5-nil"), nil); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("RegisterBackend with no factory: err = %v", err)
	}
	// A failing factory's error is returned, naming the backend.
	failing := uniqueName("b5-failing")
	errFactory := errors.New("cannot connect")
	if err := dogpile.RegisterBackend(failing, func(dogpile.Args) (dogpile.Backend, error) { return nil, errFactory }); err != nil {
		t.Fatal(err)
	}
	if _, err := dogpile.NewRegion().Configure(failing); !errors.Is(err, errFactory) || !strings.Contains(err.Error(), failing) {
		t.Errorf("Configure with a failing factory: err = %v; want its error, naming the backend", err)
	}

	// The seed's dotted names are aliases of ours.
	for alias, check := range map[string]func(dogpile.Backend) bool{
		"dogpile.cache.memory":        func(b dogpile.Backend) bool { _, ok := b.(*dogpile.MemoryBackend); return ok },
		"dogpile.cache.memory_pickle": isSerialized,
		"memory_pickle":               isSerialized,
		"dogpile.cache.null":          func(b dogpile.Backend) bool { _, ok := b.(dogpile.NullBackend); return ok },
	} {
		r := regionOn(t, alias)
		if !check(r.Backend()) {
			t.Errorf("Configure(%q) gave a %T", alias, r.Backend())
		}
		b, err := dogpile.NewBackend(alias, nil)
		if err != nil || !check(b) {
			t.Errorf("NewBackend(%q) = %T, %v", alias, b, err)
		}
		if err := r.Set(ctx, "k", "v"); err != nil {
			t.Errorf("Set through %q: %v", alias, err)
		}
	}
}

// isSerialized reports whether b is memory_serialized: it stores bytes (no
// Go-value interface) and keeps them.
func isSerialized(b dogpile.Backend) bool {
	if _, values := b.(backend.Values); values {
		return false
	}
	ctx := context.Background()
	if err := b.Set(ctx, "probe", []byte("x")); err != nil {
		return false
	}
	got, ok, err := b.Get(ctx, "probe")
	return err == nil && ok && string(got) == "x"
}

func TestB6UnknownBackendNamesImport(t *testing.T) {
	const base = "github.com/dogpile-go/dogpile/backends/"
	for name, pkg := range map[string]string{
		"redis":                        base + "redis",
		"redis_sentinel":               base + "redis",
		"redis_cluster":                base + "redis",
		"dogpile.cache.redis":          base + "redis",
		"memcached":                    base + "memcached",
		"dogpile.cache.pylibmc":        base + "memcached",
		"file":                         base + "file",
		"dogpile.cache.dbm":            base + "file",
		"no-such-backend-anywhere-xyz": "",
	} {
		for what, err := range map[string]error{
			"Configure":  func() error { _, err := dogpile.NewRegion().Configure(name); return err }(),
			"NewBackend": func() error { _, err := dogpile.NewBackend(name, nil); return err }(),
			"ConfigureFromMap": func() error {
				_, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{"backend": name}, "")
				return err
			}(),
		} {
			if !errors.Is(err, dogpile.ErrUnknownBackend) {
				t.Errorf("%s(%q): err = %v; want ErrUnknownBackend", what, name, err)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("%q", name)) {
				t.Errorf("%s(%q): %q does not name the backend", what, name, msg)
			}
			if pkg != "" && !strings.Contains(msg, fmt.Sprintf("import _ %q", pkg)) {
				t.Errorf("%s(%q): %q does not suggest import _ %q", what, name, msg, pkg)
			}
			if pkg == "" && (!strings.Contains(msg, "import") || !strings.Contains(msg, "memory")) {
				t.Errorf("%s(%q): %q should say that a backend must be imported and list the registered ones", what, name, msg)
			}
		}
	}
}

func TestB7ConfigureFromMap(t *testing.T) {
	// A registered backend that shows the arguments it got.
	name := uniqueName("b7")
	var got dogpile.Args
	if err := dogpile.RegisterBackend(name, func(a dogpile.Args) (dogpile.Backend, error) {
		got = a
		return newStore(), nil
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("keys under the prefix", func(t *testing.T) {
		cfg := map[string]any{
			"cache.local.backend":                name,
			"cache.local.expiration_time":        3600,
			"cache.local.arguments.url":          "redis://x",
			"cache.local.arguments.lock_timeout": "1500ms",
			"cache.local.arguments.max_entries":  10,
			"cache.other.backend":                "redis", // another region's
			"cache.other.arguments.url":          "nope",
			"unrelated":                          true,
		}
		r, err := dogpile.NewRegion().ConfigureFromMap(cfg, "cache.local.")
		if err != nil {
			t.Fatal(err)
		}
		if !r.IsConfigured() || r.Expiration() != time.Hour {
			t.Fatalf("configured %v, expiration %v; want 1h", r.IsConfigured(), r.Expiration())
		}
		want := dogpile.Args{"url": "redis://x", "lock_timeout": "1500ms", "max_entries": 10}
		if !maps.Equal(got, want) {
			t.Fatalf("the backend got arguments %v; want %v", got, want)
		}
	})

	t.Run("expiration_time forms", func(t *testing.T) {
		for v, want := range map[any]time.Duration{
			60:       time.Minute,
			int64(2): 2 * time.Second,
			1.5:      1500 * time.Millisecond,
			"90":     90 * time.Second,
			"0.25":   250 * time.Millisecond,
			"10m":    10 * time.Minute,
			"1h30m":  90 * time.Minute,
			0:        0,
		} {
			r, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{"backend": "memory", "expiration_time": v}, "")
			if err != nil || r.Expiration() != want {
				t.Errorf("expiration_time %#v: expiration %v, err %v; want %v", v, r.Expiration(), err, want)
			}
		}
		r, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{"backend": "memory"}, "")
		if err != nil || r.Expiration() != 0 {
			t.Errorf("no expiration_time: expiration %v, err %v; want none", r.Expiration(), err)
		}
	})

	t.Run("invalid expiration_time", func(t *testing.T) {
		for _, v := range []any{"soon", "10 minutes", -5, "-1s", true, []int{1}} {
			r := dogpile.NewRegion()
			got, err := r.ConfigureFromMap(map[string]any{"r.backend": "memory", "r.expiration_time": v}, "r.")
			if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "r.expiration_time") {
				t.Errorf("expiration_time %#v: err = %v; want ErrInvalidArgument naming r.expiration_time", v, err)
			}
			if got != nil || r.IsConfigured() {
				t.Errorf("expiration_time %#v: the region was configured anyway", v)
			}
		}
	})

	t.Run("nested arguments and aliases", func(t *testing.T) {
		cfg := map[string]any{
			"backend":         name,
			"arguments":       map[string]any{"url": "nested", "db": 2},
			"arguments.lock":  "flat", // the two forms mix
			"expiration_time": "1m",
		}
		if _, err := dogpile.NewRegion().ConfigureFromMap(cfg, ""); err != nil {
			t.Fatal(err)
		}
		if want := (dogpile.Args{"url": "nested", "db": 2, "lock": "flat"}); !maps.Equal(got, want) {
			t.Fatalf("arguments %v; want %v", got, want)
		}
		// One argument given both ways is a mistake, as in a file.
		cfg["arguments.url"] = "flat"
		if _, err := dogpile.NewRegion().ConfigureFromMap(cfg, ""); !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), `argument "url" is set twice`) {
			t.Fatalf("url nested and flat: %v", err)
		}
		r, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{"x.backend": "dogpile.cache.memory"}, "x.")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Backend().(*dogpile.MemoryBackend); !ok {
			t.Fatalf("the seed's dotted name gave a %T", r.Backend())
		}
		// replace_existing_backend, as the seed's configure takes it.
		if _, err := r.ConfigureFromMap(map[string]any{"x.backend": "memory_serialized"}, "x."); !errors.Is(err, dogpile.ErrAlreadyConfigured) {
			t.Fatalf("reconfiguring without replace_existing_backend: %v", err)
		}
		if _, err := r.ConfigureFromMap(map[string]any{"x.backend": "memory_serialized", "x.replace_existing_backend": "true"}, "x."); err != nil {
			t.Fatalf("reconfiguring with replace_existing_backend: %v", err)
		}
		if !isSerialized(r.Backend()) {
			t.Fatalf("after replacing, the backend is a %T", r.Backend())
		}
	})

	t.Run("mistakes", func(t *testing.T) {
		for name, c := range map[string]struct {
			cfg  map[string]any
			want string
		}{
			"missing backend":    {map[string]any{"c.expiration_time": 5}, "c.backend"},
			"backend not string": {map[string]any{"c.backend": 5}, "c.backend"},
			"misspelt key":       {map[string]any{"c.backend": "memory", "c.expiraton_time": 5}, "c.expiraton_time"},
			"bad backend arg":    {map[string]any{"c.backend": "memory", "c.arguments.max_entries": "lots"}, "max_entries"},
			"unknown backend arg": {
				map[string]any{"c.backend": "memory", "c.arguments.colour": "red"}, "colour",
			},
			"arguments not a map": {map[string]any{"c.backend": "memory", "c.arguments": "x"}, "c.arguments"},
		} {
			r := dogpile.NewRegion()
			got, err := r.ConfigureFromMap(c.cfg, "c.")
			if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v; want ErrInvalidArgument naming %q", name, err, c.want)
			}
			if got != nil || r.IsConfigured() {
				t.Errorf("%s: the region was configured anyway", name)
			}
		}
	})
}

func TestB8PlainBackendSupportsEveryFeature(t *testing.T) {
	ctx := context.Background()
	var b dogpile.Backend = newStore()
	if _, ok := b.(backend.Multi); ok {
		t.Fatal("the test backend must have only get, set and delete")
	}
	if _, ok := b.(backend.Locking); ok {
		t.Fatal("the test backend must have only get, set and delete")
	}
	if _, ok := b.(backend.Values); ok {
		t.Fatal("the test backend must have only get, set and delete")
	}

	// Registered and configured by name, as a user would.
	var store *storeBackend
	name := uniqueName("b8")
	if err := dogpile.RegisterBackend(name, func(dogpile.Args) (dogpile.Backend, error) {
		store = newStore()
		return store, nil
	}); err != nil {
		t.Fatal(err)
	}
	r := regionOn(t, name, dogpile.WithExpiration(time.Hour))

	t.Run("get, set, delete, get-or-create", func(t *testing.T) {
		for i, rt := range typedValues(true) {
			rt.setGet(t, r, fmt.Sprintf("typed-%d", i))
		}
		calls := 0
		for range 2 {
			if v, err := dogpile.GetOrCreate(ctx, r, "goc", func(context.Context) (string, error) { calls++; return "v", nil }); err != nil || v != "v" {
				t.Fatal(v, err)
			}
		}
		if calls != 1 {
			t.Fatalf("creator calls %d; want 1", calls)
		}
		if _, md, ok, _ := dogpile.GetWithMetadata[string](ctx, r, "goc"); !ok || md.Version != dogpile.FormatVersion {
			t.Fatalf("GetWithMetadata = %+v, %v", md, ok)
		}
		if err := r.Delete(ctx, "goc"); err != nil {
			t.Fatal(err)
		}
		if _, ok := mustGet[string](t, r, "goc"); ok {
			t.Fatal("Delete did not remove")
		}
	})

	t.Run("multi-key calls emulated", func(t *testing.T) {
		sets, gets, dels := store.count("set"), store.count("get"), store.count("delete")
		if err := r.SetMulti(ctx, map[string]any{"m1": 1, "m2": 2, "m3": 3}); err != nil {
			t.Fatal(err)
		}
		if n := store.count("set") - sets; n != 3 {
			t.Fatalf("SetMulti of 3 made %d backend sets", n)
		}
		m, err := dogpile.GetMulti[int](ctx, r, []string{"m1", "m2", "m3", "m4"})
		if err != nil || !maps.Equal(m, map[string]int{"m1": 1, "m2": 2, "m3": 3}) {
			t.Fatalf("GetMulti = %v, %v", m, err)
		}
		if n := store.count("get") - gets; n != 4 {
			t.Fatalf("GetMulti of 4 made %d backend gets", n)
		}
		var gotKeys []string
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"m1", "m5", "m2", "m6"}, func(_ context.Context, keys []string) ([]int, error) {
			gotKeys = slices.Clone(keys)
			return []int{5, 6}, nil
		})
		if err != nil || !slices.Equal(vs, []int{1, 5, 2, 6}) || !slices.Equal(gotKeys, []string{"m5", "m6"}) {
			t.Fatalf("GetOrCreateMulti = %v, %v (creator got %q)", vs, err, gotKeys)
		}
		if err := r.DeleteMulti(ctx, []string{"m1", "m2", "m5"}); err != nil {
			t.Fatal(err)
		}
		if n := store.count("delete") - dels; n != 3 {
			t.Fatalf("DeleteMulti of 3 made %d backend deletes", n)
		}
		if m, _ := dogpile.GetMulti[int](ctx, r, []string{"m1", "m2", "m3", "m5", "m6"}); !maps.Equal(m, map[string]int{"m3": 3, "m6": 6}) {
			t.Fatalf("after DeleteMulti: %v", m)
		}
	})

	t.Run("expiry and invalidation", func(t *testing.T) {
		mustSet(t, r, "e", "old")
		if v, err := dogpile.GetOrCreate(ctx, r, "e", func(context.Context) (string, error) { return "new", nil }, expiredNow); err != nil || v != "new" {
			t.Fatalf("regeneration of an expired value = %q, %v", v, err)
		}
		mustSet(t, r, "h", "v")
		if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
		if _, ok := mustGet[string](t, r, "h", dogpile.IgnoreExpiration()); ok {
			t.Fatal("hard invalidation did not apply")
		}
		mustSet(t, r, "s", "old")
		if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		if _, ok := mustGet[string](t, r, "s"); ok {
			t.Fatal("soft invalidation did not apply")
		}
		staleServedWhileRegenerating(t, r, "s", "old", "new")
	})

	t.Run("stampede on a missing key, in-process lock", func(t *testing.T) {
		const callers = 50
		var calls atomic.Int32
		gets := store.count("get")
		create := func(context.Context) (string, error) {
			calls.Add(1)
			// Hold the creation until every caller has looked in the store
			// (their reads, plus the creator's own re-check), so that all of
			// them find the key missing while it is being created.
			end := time.Now().Add(deadline)
			for store.count("get")-gets < callers+1 {
				if time.Now().After(end) {
					return "", errors.New("not every caller read the store")
				}
				time.Sleep(time.Millisecond)
			}
			return "made", nil
		}
		results := make(chan result[string], callers)
		for range callers {
			go func() {
				v, err := dogpile.GetOrCreate(ctx, r, "stampede", create)
				results <- result[string]{v, err}
			}()
		}
		for range callers {
			if res := recv(t, results, "a caller"); res.err != nil || res.v != "made" {
				t.Fatalf("a caller got %q, %v", res.v, res.err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d callers on a missing key ran the creator %d times; want 1", callers, n)
		}
	})
}

// The in-process backends compare and swap (backend.Swapper), as shared
// invalidation needs. What a Swapper must do (store only over what was read,
// lose no update of concurrent read-modify-write loops) is checked by the
// conformance suite's CompareAndSwap in TestB1BuiltinBackendsConform.
func TestI8MemoryBackendsCompareAndSwap(t *testing.T) {
	backends := map[string]func() (dogpile.Backend, error){
		"memory": func() (dogpile.Backend, error) { return dogpile.NewMemoryBackend(dogpile.MemoryOptions{}) },
		"memory bounded": func() (dogpile.Backend, error) {
			return dogpile.NewMemoryBackend(dogpile.MemoryOptions{MaxEntries: 100})
		},
		"memory_serialized": func() (dogpile.Backend, error) { return dogpile.NewBackend("memory_serialized", nil) },
	}
	for name, mk := range backends {
		b, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := b.(backend.Swapper); !ok {
			t.Errorf("%s: %T is not a backend.Swapper", name, b)
		}
		b.(io.Closer).Close()
	}
}

// The memory backend's byte interface reads only bytes: a key that holds a
// Go value (a region's, stored with SetValue) is not found by Get, on the
// unbounded and the bounded backend alike, while bytes stored with Set are.
func TestMemoryBackendGetReadsOnlyBytes(t *testing.T) {
	ctx := context.Background()
	for _, opts := range []dogpile.MemoryOptions{{}, {MaxEntries: 10}} {
		b, err := dogpile.NewMemoryBackend(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.SetValue(ctx, "value", "a Go value"); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := b.Get(ctx, "value"); ok || err != nil {
			t.Errorf("MaxEntries %d: Get of a Go value = %q, %v, %v; want not found", opts.MaxEntries, got, ok, err)
		}
		if err := b.Set(ctx, "bytes", []byte("b")); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := b.Get(ctx, "bytes"); !ok || err != nil || string(got) != "b" {
			t.Errorf("MaxEntries %d: Get of bytes = %q, %v, %v; want them", opts.MaxEntries, got, ok, err)
		}
		b.Close()
	}
}

// A configuration error names the region, or says it has no name, rather
// than quoting an empty name.
func TestConfigureErrorNamesTheRegion(t *testing.T) {
	args := dogpile.WithArguments(dogpile.Args{"max_entries": -1})
	_, err := dogpile.NewRegion().Configure("memory", args)
	if err == nil || !strings.HasPrefix(err.Error(), `dogpile: configure an unnamed region with backend "memory": `) {
		t.Errorf("an unnamed region: %v", err)
	}
	_, err = dogpile.NewRegion(dogpile.WithName("users")).Configure("memory", args)
	if err == nil || !strings.HasPrefix(err.Error(), `dogpile: configure region "users" with backend "memory": `) {
		t.Errorf("a named region: %v", err)
	}
}
