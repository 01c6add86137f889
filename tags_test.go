package dogpile_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/envelope"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/proxy"
)

// Tests of invalidation by tag (the Tags item of the resilience issue): a
// tag's Hard or Soft invalidation reaches every value carrying it, in every
// process sharing the backend under SharedInvalidation, with the region
// record's guarantees (generations, compare-and-swap, signing).

// tagProcs are two processes sharing a store — or, with an in-process
// strategy, one region playing both.
type tagProcs struct {
	a, b   *dogpile.Region
	shared bool
}

// onEachTagMode runs f on each way a region keeps its tags' invalidations:
// in process (memory, memory_serialized), and shared by two processes over
// a store that reads many keys at once (proxy.Base over memory_serialized),
// over the memory backend (Go values) and over a user's backend of Get, Set
// and Delete only.
func onEachTagMode(t *testing.T, f func(t *testing.T, p tagProcs)) {
	t.Helper()
	for _, backend := range valuePaths {
		t.Run("local/"+backend, func(t *testing.T) {
			r := regionOn(t, backend, dogpile.WithExpiration(time.Hour))
			f(t, tagProcs{a: r, b: r})
		})
	}
	shared := func(t *testing.T, store dogpile.Backend) tagProcs {
		mk := func() *dogpile.Region {
			return regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared"), dogpile.WithLogger(slog.New(&logged{}))},
				dogpile.WithExpiration(time.Hour), dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
		}
		return tagProcs{a: mk(), b: mk(), shared: true}
	}
	t.Run("shared/multi", func(t *testing.T) {
		f(t, shared(t, &roundTrips{Base: proxy.Base{Next: sharedStore(t)}}))
	})
	t.Run("shared/memory", func(t *testing.T) {
		m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f(t, shared(t, m))
	})
	t.Run("shared/get-set-delete", func(t *testing.T) {
		f(t, shared(t, newStore()))
	})
}

// tagged is a creator that counts its calls and returns its name and call
// number.
type tagged struct {
	name string
	n    atomic.Int32
}

func (c *tagged) create(context.Context) (string, error) {
	return c.name + "-" + string(rune('0'+c.n.Add(1))), nil
}

func TestTagsHardInvalidationMissesTaggedValues(t *testing.T) {
	ctx := context.Background()
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		profile, feed, other, plain := &tagged{name: "profile"}, &tagged{name: "feed"}, &tagged{name: "other"}, &tagged{name: "plain"}
		calls := []struct {
			key  string
			c    *tagged
			tags dogpile.Option
		}{
			{"profile:42", profile, dogpile.Tags("user:42")},
			{"feed:42", feed, dogpile.Tags("org:7", "user:42")},
			{"profile:43", other, dogpile.Tags("user:43", "org:7")},
			{"plain", plain, dogpile.Tags()},
		}
		for _, c := range calls {
			if v, err := dogpile.GetOrCreate(ctx, p.a, c.key, c.c.create, c.tags); err != nil || v != c.c.name+"-1" {
				t.Fatalf("GetOrCreate(%s) = %q, %v", c.key, v, err)
			}
		}
		// Both processes have read every value, and found them valid, before
		// the invalidation.
		for _, r := range []*dogpile.Region{p.a, p.b} {
			for _, c := range calls {
				if _, ok := mustGet[string](t, r, c.key); !ok {
					t.Fatalf("%s is a miss before any invalidation", c.key)
				}
			}
		}
		if err := p.b.InvalidateTags(ctx, dogpile.Hard, "user:42"); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*dogpile.Region{p.a, p.b} {
			for _, k := range []string{"profile:42", "feed:42"} {
				if v, ok := mustGet[string](t, r, k, dogpile.IgnoreExpiration()); ok {
					t.Fatalf("%s reads %q after its tag's hard invalidation", k, v)
				}
			}
			for _, k := range []string{"profile:43", "plain"} {
				if _, ok := mustGet[string](t, r, k); !ok {
					t.Fatalf("%s, not carrying the tag, is a miss after the tag's invalidation", k)
				}
			}
		}
		// The next call regenerates, once; the new value is served normally
		// in both processes.
		for range 3 {
			for _, r := range []*dogpile.Region{p.a, p.b} {
				for _, c := range calls {
					dogpile.GetOrCreate(ctx, r, c.key, c.c.create, c.tags) //nolint:errcheck
				}
			}
		}
		for _, c := range calls {
			want := int32(1)
			if c.c == profile || c.c == feed {
				want = 2
			}
			if n := c.c.n.Load(); n != want {
				t.Fatalf("%s's creator ran %d times; want %d", c.key, n, want)
			}
		}
	})
}

func TestTagsSoftInvalidationServesStale(t *testing.T) {
	ctx := context.Background()
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		if err := p.a.Set(ctx, "k", "old", dogpile.Tags("t")); err != nil {
			t.Fatal(err)
		}
		mustSet(t, p.a, "untagged", "v")
		if err := p.b.InvalidateTags(ctx, dogpile.Soft, "t"); err != nil {
			t.Fatal(err)
		}
		if v, ok := mustGet[string](t, p.a, "k"); ok {
			t.Fatalf("Get reads %q as fresh after its tag's soft invalidation", v)
		}
		if v, ok := mustGet[string](t, p.a, "k", dogpile.IgnoreExpiration()); !ok || v != "old" {
			t.Fatalf("a soft-invalidated value is gone: %q, %v", v, ok)
		}
		if _, ok := mustGet[string](t, p.a, "untagged"); !ok {
			t.Fatal("an untagged value is not fresh after a tag's soft invalidation")
		}
		staleServedWhileRegenerating(t, p.a, "k", "old", "fresh")
	})
}

// A creation during which its tag is invalidated — its creator read the
// data from before the change — stores a value that is invalid at once: the
// entry carries the tag's generation from before the creator ran.
func TestTagsCreationOverlappingInvalidationIsInvalid(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	writer, invalidator := host(t, store, 10*time.Minute), host(t, store, -10*time.Minute)
	v, err := dogpile.GetOrCreate(ctx, writer, "k", func(ctx context.Context) (string, error) {
		if err := invalidator.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
			return "", err
		}
		return "read before the change", nil
	}, dogpile.Tags("t"))
	if err != nil || v != "read before the change" {
		t.Fatalf("GetOrCreate = %q, %v", v, err)
	}
	for name, r := range map[string]*dogpile.Region{"writer": writer, "invalidator": invalidator} {
		if v, ok, _ := dogpile.Get[string](ctx, r, "k", dogpile.IgnoreExpiration()); ok {
			t.Fatalf("the %s serves %q, made before the tag invalidation that ended during its creation", name, v)
		}
	}
}

// Hosts whose clocks are 10 minutes apart: a tagged value written before
// its tag's hard invalidation is not served after it, and the invalidation
// does not switch caching off.
func TestTagsIgnoreClockSkew(t *testing.T) {
	ctx := context.Background()
	const skew = 10 * time.Minute
	for _, tc := range []struct {
		name                string
		writer, invalidator time.Duration
	}{
		{"writer fast", skew, 0},
		{"writer slow", -skew, 0},
		{"invalidator fast", 0, skew},
		{"invalidator slow", 0, -skew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := sharedStore(t)
			writer, invalidator := host(t, store, tc.writer), host(t, store, tc.invalidator)
			var before counter
			dogpile.GetOrCreate(ctx, writer, "k", before.create, dogpile.Tags("t")) //nolint:errcheck
			if err := invalidator.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
				t.Fatal(err)
			}
			for name, r := range map[string]*dogpile.Region{"writer": writer, "invalidator": invalidator} {
				if v, ok, err := dogpile.Get[string](ctx, r, "k", dogpile.IgnoreExpiration()); ok || err != nil {
					t.Fatalf("the %s reads %q, %v, %v after the tag's hard invalidation", name, v, ok, err)
				}
			}
			var after counter
			for range 20 {
				for name, r := range map[string]*dogpile.Region{"writer": writer, "invalidator": invalidator} {
					if v, err := dogpile.GetOrCreate(ctx, r, "k", after.create, dogpile.Tags("t")); err != nil || v != "v1" {
						t.Fatalf("GetOrCreate on the %s = %q, %v; want v1, created once", name, v, err)
					}
				}
			}
		})
	}
}

// tagKey is the storage key of a tag's record in the region "shared"
// without a key prefix.
func tagKey(tag string) string { return "dogpile:tag:shared:" + tag }

// A tagged read costs one round trip when the call names its tags (they
// ride with the value), and at most one more when it does not, however many
// tags and keys are read.
func TestTagsReadCostsAtMostOneMoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, b, trips := twoProcesses(t, 0)
	tags := dogpile.Tags("user:42", "org:7")
	for _, k := range []string{"k1", "k2", "k3"} {
		if _, err := dogpile.GetOrCreate(ctx, a, k, create, tags); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetMulti(ctx, map[string]any{"m1": "x", "m2": "y"}, dogpile.Tags("user:1"), dogpile.Tags("user:2")); err != nil {
		t.Fatal(err)
	}
	if err := b.InvalidateTags(ctx, dogpile.Soft, "org:7"); err != nil { // records exist: there is something to read
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2", "k3"} {
		dogpile.GetOrCreate(ctx, a, k, create, tags) //nolint:errcheck // regenerated
	}
	trips.reset()
	measure := func(what string, want int32, call func()) {
		t.Helper()
		before := trips.n.Load()
		call()
		if n := trips.n.Load() - before; n != want {
			t.Fatalf("%s took %d round trips; want %d", what, n, want)
		}
	}
	measure("a hit naming its tags", 1, func() {
		if v, err := dogpile.GetOrCreate(ctx, b, "k1", create, tags); err != nil || v != "value" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
	})
	for _, k := range []string{tagKey("user:42"), tagKey("org:7"), invKey} {
		if trips.reads(k) != 1 {
			t.Fatalf("the hit read %s %d times; want once, with the value", k, trips.reads(k))
		}
	}
	measure("a Get not naming its tags", 2, func() {
		if _, ok := mustGet[string](t, b, "k1"); !ok {
			t.Fatal("miss")
		}
	})
	measure("a Get naming one of its two tags", 2, func() {
		if _, ok := mustGet[string](t, b, "k1", dogpile.Tags("org:7")); !ok {
			t.Fatal("miss")
		}
	})
	measure("a GetMulti of five keys with four tags, naming none", 2, func() {
		if got, err := dogpile.GetMulti[string](ctx, b, []string{"k1", "k2", "k3", "m1", "m2"}); err != nil || len(got) != 5 {
			t.Fatalf("GetMulti = %v, %v", got, err)
		}
	})
	measure("a GetMulti naming every tag", 1, func() {
		if got, err := dogpile.GetMulti[string](ctx, b, []string{"k1", "m1"}, tags, dogpile.Tags("user:1", "user:2")); err != nil || len(got) != 2 {
			t.Fatalf("GetMulti = %v, %v", got, err)
		}
	})
	measure("an untagged miss", 1, func() {
		mustGet[string](t, b, "absent")
	})
}

// With a refresh interval, tags' records are read at most once per interval
// per process, and another process's tag invalidation is seen within it.
func TestTagsRefreshInterval(t *testing.T) {
	ctx := context.Background()
	const refresh = 20 * time.Millisecond
	a, b, trips := twoProcesses(t, refresh)
	if _, err := dogpile.GetOrCreate(ctx, a, "k", create, dogpile.Tags("t")); err != nil {
		t.Fatal(err)
	}
	mustGet[string](t, b, "k") // b has now read the tag's record (there is none yet)
	trips.reset()
	start := time.Now()
	for range 50 {
		if _, ok := mustGet[string](t, b, "k"); !ok {
			t.Fatal("miss")
		}
	}
	if n, most := trips.reads(tagKey("t")), 1+int(time.Since(start)/refresh); n > most {
		t.Fatalf("50 reads read the tag's record %d times in %v; want at most once per interval (%d)", n, time.Since(start), most)
	}
	if err := a.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet[string](t, a, "k"); ok {
		t.Fatal("the invalidating process still reads the value")
	}
	testutil.Eventually(t, "b to see a's tag invalidation", func() bool {
		_, ok := mustGet[string](t, b, "k")
		return !ok
	})
}

// A process that has read no tag record since others invalidated the tag
// still writes valid values with Set: it reads the records first.
func TestTagsSetAfterAnotherProcessInvalidated(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	a := host(t, store, 0)
	for range 3 {
		if err := a.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
			t.Fatal(err)
		}
	}
	b := host(t, store, 0)
	if err := b.Set(ctx, "k", "set by b", dogpile.Tags("t")); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*dogpile.Region{"a": a, "b": b} {
		if v, ok := mustGet[string](t, r, "k"); !ok || v != "set by b" {
			t.Fatalf("%s reads %q, %v after b's Set; want the value", name, v, ok)
		}
	}
}

// recordGenerations returns the generations in a record: a tag's or a region's.
func recordGenerations(t *testing.T, store dogpile.Backend, key string) (hard, soft uint64) {
	t.Helper()
	b, ok, err := store.Get(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("the record %s: %v, %v", key, ok, err)
	}
	e, ok := fuzzOpen(b)
	if !ok || e.codecName != "dogpile/invalidation" || len(e.gens) != 2 {
		t.Fatalf("the record %q is not a record of generations", b)
	}
	return e.gens[0], e.gens[1]
}

// Soft and hard invalidations of one tag, made at once by two processes,
// both count: the record is updated by compare-and-swap.
func TestTagsConcurrentSoftAndHardNeverLoseHard(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	reader, soft, hard := host(t, store, 0), host(t, store, 0), host(t, store, 0)
	for round := range 100 {
		if err := reader.Set(ctx, "k", round, dogpile.Tags("t")); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() { <-start; errs <- soft.InvalidateTags(ctx, dogpile.Soft, "t") }()
		go func() { <-start; errs <- hard.InvalidateTags(ctx, dogpile.Hard, "t") }()
		close(start)
		for range 2 {
			if err := recv(t, errs, "an invalidation"); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok := mustGet[int](t, reader, "k", dogpile.IgnoreExpiration()); ok {
			t.Fatalf("round %d: the reader reads %d: the hard invalidation was lost", round, v)
		}
		if h, s := recordGenerations(t, store, tagKey("t")); h != uint64(round+1) || s != uint64(round+1) {
			t.Fatalf("round %d: the tag record holds hard %d, soft %d; want %d each", round, h, s, round+1)
		}
	}
}

// A process never lowers a tag's generations: a record lost from the store
// (evicted, or the store restarted) loses no invalidation for the processes
// that saw it, and the next invalidation counts on from the highest.
func TestTagsRecordLostKeepsInvalidation(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	a := host(t, store, 0)
	if err := a.Set(ctx, "k", "old", dogpile.Tags("t")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := a.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Delete(ctx, tagKey("t")); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet[string](t, a, "k", dogpile.IgnoreExpiration()); ok {
		t.Fatalf("after the tag's record was lost, a reads %q, invalidated before", v)
	}
	if err := a.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
		t.Fatal(err)
	}
	if h, _ := recordGenerations(t, store, tagKey("t")); h != 3 {
		t.Fatalf("the record rewritten after its loss holds hard generation %d; want 3", h)
	}
}

// Tag records are under ReservedKeyPrefix and the region's key prefix, with
// the tag escaped (or, if long, hashed), and no user key can write one.
func TestTagsRecordKeys(t *testing.T) {
	ctx := context.Background()
	store := newMultiStore()
	long := strings.Repeat("x", 129)
	sum := sha256.Sum256([]byte(long))
	for _, prefix := range []string{"", "app:"} {
		r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("re:g ion"), dogpile.WithKeyPrefix(prefix)},
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
		for tag, want := range map[string]string{
			"user:42":     "dogpile:tag:re%3Ag%20ion:user:42",
			"a b%#\n\x7f": "dogpile:tag:re%3Ag%20ion:a%20b%25%23%0A%7F",
			"":            "dogpile:tag:re%3Ag%20ion:",
			long:          "dogpile:tag:re%3Ag%20ion:#" + hex.EncodeToString(sum[:16]),
		} {
			if err := r.InvalidateTags(ctx, dogpile.Hard, tag); err != nil {
				t.Fatal(err)
			}
			if _, ok := store.raw(prefix + want); !ok {
				t.Fatalf("prefix %q: the record of tag %q is not under %q; the store holds %v", prefix, tag, prefix+want, store.seen()["set"])
			}
		}
		if err := r.Set(ctx, "dogpile:tag:re%3Ag%20ion:user:42", "x"); !errors.Is(err, dogpile.ErrReservedKey) {
			t.Fatalf("Set of a tag record's key = %v; want ErrReservedKey", err)
		}
	}
}

// An entry carries its tags, sorted and once each, and under shared
// invalidation the generation of each tag its writer saw.
func TestTagsEntryCarriesTagsAndGenerations(t *testing.T) {
	ctx := context.Background()
	store := newMultiStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared")},
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err := r.InvalidateTags(ctx, dogpile.Hard, "b"); err != nil {
		t.Fatal(err)
	}
	if err := r.InvalidateTags(ctx, dogpile.Soft, "b", "c"); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "k", "v", dogpile.Tags("c", "b"), dogpile.Tags("a", "b")); err != nil {
		t.Fatal(err)
	}
	raw, _ := store.raw("k")
	e, err := envelope.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []envelope.Tag{{Name: "a"}, {Name: "b", Gens: envelope.Generations{Hard: 1, Soft: 1}}, {Name: "c", Gens: envelope.Generations{Soft: 1}}}
	if !slices.Equal(e.Tags, want) {
		t.Fatalf("the entry carries %+v; want %+v", e.Tags, want)
	}
	if v, ok := mustGet[string](t, r, "k"); !ok || v != "v" {
		t.Fatalf("the entry written after the invalidations reads %q, %v", v, ok)
	}
}

func TestTagsCached(t *testing.T) {
	ctx := context.Background()
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		var calls atomic.Int32
		load := func(_ context.Context, id int) (string, error) {
			calls.Add(1)
			return "user " + string(rune('0'+id)), nil
		}
		userTag := func(id int) []string { return []string{"user:" + string(rune('0'+id))} }
		mk := func(r *dogpile.Region) *dogpile.CachedFunc[int, string] {
			return dogpile.Cached(r, load, dogpile.FuncName("load"), dogpile.Tags("users"), dogpile.TagsFunc(userTag))
		}
		fa, fb := mk(p.a), mk(p.b)
		for _, id := range []int{1, 2} {
			if _, err := fa.Call(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := fa.Set(ctx, 3, "user 3, set"); err != nil {
			t.Fatal(err)
		}
		if err := p.b.InvalidateTags(ctx, dogpile.Hard, "user:1", "user:3"); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[int]bool{1: false, 2: true, 3: false} {
			if _, ok, err := fb.Get(ctx, id); err != nil || ok != want {
				t.Fatalf("Get(%d) after user:1 and user:3 were invalidated: hit %v, %v; want %v", id, ok, err, want)
			}
		}
		calls.Store(0)
		for _, id := range []int{1, 2, 3} {
			if _, err := fb.Call(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if n := calls.Load(); n != 2 {
			t.Fatalf("calls after the invalidation ran the function %d times; want 2 (arguments 1 and 3)", n)
		}
		// The function's own Tags tag every value; Refresh tags too.
		if _, err := fa.Refresh(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := p.a.InvalidateTags(ctx, dogpile.Soft, "users"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int{1, 2, 3} {
			if _, ok, _ := fb.Get(ctx, id); ok {
				t.Fatalf("Get(%d) is fresh after the function's tag was soft-invalidated", id)
			}
		}
	})
}

func TestTagsCachedMulti(t *testing.T) {
	ctx := context.Background()
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		var asked [][]int
		load := func(_ context.Context, ids []int) ([]string, error) {
			asked = append(asked, slices.Clone(ids))
			out := make([]string, len(ids))
			for i, id := range ids {
				out[i] = "user " + string(rune('0'+id))
			}
			return out, nil
		}
		orgOf := func(id int) []string { return []string{"org:" + string(rune('0'+id%2))} }
		mk := func(r *dogpile.Region) *dogpile.CachedMultiFunc[int, string] {
			return dogpile.CachedMulti(r, load, dogpile.FuncName("loadMany"), dogpile.Tags("users"), dogpile.TagsFunc(orgOf))
		}
		fa, fb := mk(p.a), mk(p.b)
		if _, err := fa.Call(ctx, []int{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		if err := fa.Set(ctx, map[int]string{5: "five"}); err != nil {
			t.Fatal(err)
		}
		if err := p.b.InvalidateTags(ctx, dogpile.Hard, "org:1"); err != nil {
			t.Fatal(err)
		}
		got, err := fb.Get(ctx, []int{1, 2, 3, 4, 5})
		if err != nil || len(got) != 2 || got[2] == "" || got[4] == "" {
			t.Fatalf("Get after org:1 was invalidated = %v, %v; want 2 and 4 only", got, err)
		}
		asked = nil
		if _, err := fb.Call(ctx, []int{1, 2, 3, 4, 5}); err != nil {
			t.Fatal(err)
		}
		if len(asked) != 1 || !slices.Equal(asked[0], []int{1, 3, 5}) {
			t.Fatalf("after org:1 was invalidated the function was asked for %v; want [[1 3 5]]", asked)
		}
		// Refresh tags each argument's value too.
		if _, err := fa.Refresh(ctx, []int{2}); err != nil {
			t.Fatal(err)
		}
		if err := p.a.InvalidateTags(ctx, dogpile.Hard, "org:0"); err != nil {
			t.Fatal(err)
		}
		if got, err := fb.Get(ctx, []int{1, 2, 3, 4, 5}); err != nil || len(got) != 3 {
			t.Fatalf("Get after org:0 was invalidated = %v, %v; want 1, 3 and 5", got, err)
		}
		// The function's own Tags tag every value as well as each
		// argument's tags do.
		if err := p.a.InvalidateTags(ctx, dogpile.Hard, "users"); err != nil {
			t.Fatal(err)
		}
		if got, err := fb.Get(ctx, []int{1, 2, 3, 4, 5}); err != nil || len(got) != 0 {
			t.Fatalf("Get after the function's tag was invalidated = %v, %v; want none", got, err)
		}
	})
}

func TestTagsGetOrCreateMulti(t *testing.T) {
	ctx := context.Background()
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		var created []string
		mk := func(_ context.Context, keys []string) ([]string, error) {
			created = append(created, keys...)
			return keys, nil
		}
		if _, err := dogpile.GetOrCreateMulti(ctx, p.a, []string{"a", "b"}, mk, dogpile.Tags("t")); err != nil {
			t.Fatal(err)
		}
		if _, err := dogpile.GetOrCreateMulti(ctx, p.a, []string{"c"}, mk); err != nil {
			t.Fatal(err)
		}
		if err := p.b.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
			t.Fatal(err)
		}
		created = nil
		if _, err := dogpile.GetOrCreateMulti(ctx, p.b, []string{"a", "b", "c"}, mk, dogpile.Tags("t")); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(created, []string{"a", "b"}) {
			t.Fatalf("after the tag's invalidation the creator made %v; want [a b]", created)
		}
	})
}

// A hit on a tagged value in the memory backend allocates nothing, as an
// untagged one.
func TestTagsMemoryHitAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory", dogpile.WithExpiration(time.Hour))
	tags := dogpile.Tags("user:42", "org:7")
	if _, err := dogpile.GetOrCreate(ctx, r, "k", create, tags); err != nil {
		t.Fatal(err)
	}
	if err := r.InvalidateTags(ctx, dogpile.Hard, "other"); err != nil {
		t.Fatal(err)
	}
	opts := []dogpile.Option{tags}
	if n := testing.AllocsPerRun(100, func() {
		dogpile.GetOrCreate(ctx, r, "k", create, opts...) //nolint:errcheck
	}); n != 0 {
		t.Fatalf("a tagged memory hit allocates %v times", n)
	}
}

func TestTagsInvalidateTagsArguments(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory")
	var ae *dogpile.ArgError
	if err := r.InvalidateTags(ctx, dogpile.NotInvalidated, "t"); !errors.As(err, &ae) {
		t.Fatalf("InvalidateTags(NotInvalidated) = %v; want an *ArgError", err)
	}
	if err := r.InvalidateTags(ctx, dogpile.Hard); err != nil {
		t.Fatalf("InvalidateTags with no tags = %v; want nil", err)
	}
	if err := dogpile.NewRegion().InvalidateTags(ctx, dogpile.Hard, "t"); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Fatalf("InvalidateTags on an unconfigured region = %v; want ErrNotConfigured", err)
	}
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "TagsFunc") {
			t.Fatalf("Cached with a TagsFunc of another type panicked with %v; want ErrInvalidArgument naming TagsFunc", err)
		}
	}()
	dogpile.Cached(r, func(context.Context, int) (string, error) { return "", nil }, dogpile.TagsFunc(func(string) []string { return nil }))
}

// A tag is written as it is in its record's key up to 128 bytes, counted
// once escaped; a longer one is hashed.
func TestTagsRecordKeyLengthLimit(t *testing.T) {
	ctx := context.Background()
	store := newMultiStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared")},
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	hashed := func(tag string) string {
		sum := sha256.Sum256([]byte(tag))
		return "#" + hex.EncodeToString(sum[:16])
	}
	spaced := strings.Repeat(" ", 43) // 129 bytes escaped
	for tag, want := range map[string]string{
		strings.Repeat("x", 128):       strings.Repeat("x", 128),
		strings.Repeat(" ", 42) + "xx": strings.Repeat("%20", 42) + "xx", // 128 bytes escaped
		spaced:                         hashed(spaced),
	} {
		if err := r.InvalidateTags(ctx, dogpile.Hard, tag); err != nil {
			t.Fatal(err)
		}
		if _, ok := store.raw(tagKey(want)); !ok {
			t.Fatalf("the record of a tag of %d bytes is not under %q; the store holds %q", len(tag), tagKey(want), store.seen()["set"])
		}
	}
}

// A call made after a hard invalidation of a tag returned does not take the
// value of a creation of a tagged key that began before it: it creates
// anew.
func TestTagsCallAfterHardTagInvalidationDoesNotTakeAnEarlierCreation(t *testing.T) {
	ctx := context.Background()
	for name, copts := range map[string][]dogpile.ConfigOption{
		"in-process":         nil,
		"SharedInvalidation": {dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0))},
	} {
		t.Run(name, func(t *testing.T) {
			r := regionWith(t, []dogpile.RegionOption{dogpile.WithName("flight")}, "memory_serialized", copts...)
			tags := dogpile.Tags("t")
			before, release := make(chan struct{}), make(chan struct{})
			first := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				close(before)
				<-release // still creating when the tag is invalidated
				return "made before the invalidation", nil
			}, tags)
			recv(t, before, "the first creation to start")
			if err := r.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
				t.Fatal(err)
			}
			second := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				return "made after", nil
			}, tags)
			testutil.Eventually(t, "the second call to wait for the first's creation", func() bool { return dogpile.FlightWaiters(r, "k") == 1 })
			close(release)
			if got := recv(t, first, "the first call"); got.v != "made before the invalidation" || got.err != nil {
				t.Fatalf("the first call got %q, %v", got.v, got.err)
			}
			if got := recv(t, second, "the second call"); got.v != "made after" || got.err != nil {
				t.Fatalf("a call made after the tag's hard invalidation got %q, %v; want a value created after it", got.v, got.err)
			}
		})
	}
}

// A hit of a cached function reads the records of its argument's tags
// (TagsFunc) with the value, in one round trip, as a call naming its Tags
// does: for Cached and for CachedMulti alike.
func TestTagsCachedHitReadsItsTagsWithTheValue(t *testing.T) {
	ctx := context.Background()
	userTag := func(id int) []string { return []string{"user:" + string(rune('0'+id))} }
	for _, tc := range []struct {
		name string
		mk   func(r *dogpile.Region) func() error // the call: a hit on argument 1 once made
	}{
		{"Cached", func(r *dogpile.Region) func() error {
			f := dogpile.Cached(r, func(context.Context, int) (string, error) { return "user", nil },
				dogpile.FuncName("load"), dogpile.TagsFunc(userTag))
			return func() error { _, err := f.Call(ctx, 1); return err }
		}},
		{"CachedMulti", func(r *dogpile.Region) func() error {
			f := dogpile.CachedMulti(r, func(_ context.Context, ids []int) ([]string, error) { return make([]string, len(ids)), nil },
				dogpile.FuncName("loadMany"), dogpile.TagsFunc(userTag))
			return func() error { _, err := f.Call(ctx, []int{1}); return err }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, trips := twoProcesses(t, 0)
			callA, callB := tc.mk(a), tc.mk(b)
			if err := a.InvalidateTags(ctx, dogpile.Soft, "user:1"); err != nil { // the record exists: there is something to read
				t.Fatal(err)
			}
			if err := callA(); err != nil {
				t.Fatal(err)
			}
			trips.reset()
			before := trips.n.Load()
			if err := callB(); err != nil {
				t.Fatal(err)
			}
			if n, reads := trips.n.Load()-before, trips.reads(tagKey("user:1")); n != 1 || reads != 1 {
				t.Fatalf("a hit took %d round trips, reading its tag's record %d times; want one, with the value", n, reads)
			}
		})
	}
}

// tagReadsFailing is a store whose reads of tag records fail once told to,
// as a server's do for keys on a shard that is down.
type tagReadsFailing struct {
	dogpile.Backend
	fail atomic.Bool
}

func (b *tagReadsFailing) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if b.fail.Load() && strings.HasPrefix(key, "dogpile:tag:") {
		return nil, false, errRefused
	}
	return b.Backend.Get(ctx, key)
}

// tagReadsFailingMulti adds reads of many keys at once to tagReadsFailing.
type tagReadsFailingMulti struct{ *tagReadsFailing }

func (m tagReadsFailingMulti) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		b, ok, err := m.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = b
		}
	}
	return out, nil
}

// A read whose tags' records can't be read fails with the backend's error,
// rather than serving a value whose tags were not checked, on a backend
// that reads one key at a time as on one that reads many at once.
func TestTagsFailedRecordReadIsTheReadsError(t *testing.T) {
	ctx := context.Background()
	for name, mk := range map[string]func(*tagReadsFailing) dogpile.Backend{
		"get":       func(b *tagReadsFailing) dogpile.Backend { return b },
		"get_multi": func(b *tagReadsFailing) dogpile.Backend { return tagReadsFailingMulti{b} },
	} {
		t.Run(name, func(t *testing.T) {
			store := &tagReadsFailing{Backend: sharedStore(t)}
			r := regionFor(t, mk(store), []dogpile.RegionOption{dogpile.WithName("shared")},
				dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
			if err := r.Set(ctx, "k", "v", dogpile.Tags("t", "u")); err != nil {
				t.Fatal(err)
			}
			store.fail.Store(true)
			if v, ok, err := dogpile.Get[string](ctx, r, "k"); !errors.Is(err, dogpile.ErrBackend) || !errors.Is(err, errRefused) {
				t.Fatalf("Get with its tags' records unreadable = %q, %v, %v; want the backend's error", v, ok, err)
			}
		})
	}
}

// A tag's soft invalidation applies to values both processes have already
// read and found valid — the region does not go on trusting what it checked
// before the tag's soft generation rose — as a hard one does.
func TestTagsSoftInvalidationOfValuesAlreadyRead(t *testing.T) {
	ctx := context.Background()
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		if err := p.a.Set(ctx, "k", "old", dogpile.Tags("t")); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*dogpile.Region{p.a, p.b} {
			if _, ok := mustGet[string](t, r, "k"); !ok {
				t.Fatal("a tagged value is a miss before any invalidation")
			}
		}
		if err := p.b.InvalidateTags(ctx, dogpile.Soft, "t"); err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]*dogpile.Region{"a": p.a, "b": p.b} {
			if v, ok := mustGet[string](t, r, "k"); ok {
				t.Fatalf("%s reads %q as fresh after its tag's soft invalidation", name, v)
			}
			if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); !ok || v != "old" {
				t.Fatalf("%s: a soft-invalidated value is gone: %q, %v", name, v, ok)
			}
		}
	})
}
