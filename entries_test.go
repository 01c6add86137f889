package dogpile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/envelope"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// Tests of how entries are written and read — their size limit, type,
// signature, own expiration, "not found" — and of how a stored value's state
// is decided, each pinning down a behaviour that a mutation sweep of the
// code found no test of.

// rewritten returns the entry the region r wrote under key in store, with
// its metadata changed by edit: an entry as another writer (another
// version of the library, another program) could have written it.
func rewritten(t *testing.T, store *storeBackend, key string, edit func(*envelope.Meta)) []byte {
	t.Helper()
	b, ok := store.raw(key)
	if !ok {
		t.Fatalf("nothing stored under %q", key)
	}
	e, err := envelope.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	edit(&e.Meta)
	return envelope.Append(nil, &e.Meta, e.Payload)
}

// WithMaxValueSize limits what is stored — the value with its metadata and,
// under signing, its signature — not the encoded value alone; an entry of
// exactly the limit fits.
func TestS4MaxValueSizeCountsTheWholeEntry(t *testing.T) {
	ctx := context.Background()
	for name, ropts := range map[string][]dogpile.RegionOption{
		"unsigned": nil,
		"signed":   {dogpile.WithSigning([]byte("a-good-signing-key-0123456789abcdef"))},
	} {
		t.Run(name, func(t *testing.T) {
			// The size of the entry of "value", as a region without a limit
			// stores it: far more than the 5 bytes of the value.
			probe := newStore()
			mustSet(t, regionFor(t, probe, ropts), "k", "value")
			b, _ := probe.raw("k")
			size := len(b)

			fits := regionFor(t, newStore(), slices.Concat(ropts, []dogpile.RegionOption{dogpile.WithMaxValueSize(size)}))
			if err := fits.Set(ctx, "k", "value"); err != nil {
				t.Fatalf("Set of an entry of %d bytes under a limit of %d: %v", size, size, err)
			}
			over := regionFor(t, newStore(), slices.Concat(ropts, []dogpile.RegionOption{dogpile.WithMaxValueSize(size - 1)}))
			if err := over.Set(ctx, "k", "value"); !errors.Is(err, dogpile.ErrValueTooLarge) {
				t.Fatalf("Set of an entry of %d bytes (a value of 5) under a limit of %d = %v; want ErrValueTooLarge", size, size-1, err)
			}
		})
	}
}

// The last WithSigning given is the region's: the keys (or the error) of an
// earlier one do not linger.
func TestS1LastWithSigningWins(t *testing.T) {
	a, b := []byte("key-a-0123456789abcdef0123456789"), []byte("key-b-0123456789abcdef0123456789")
	store := newStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithSigning(a), dogpile.WithSigning(b)})
	onlyA := regionFor(t, store, []dogpile.RegionOption{dogpile.WithSigning(a)})
	onlyB := regionFor(t, store, []dogpile.RegionOption{dogpile.WithSigning(b)})

	mustSet(t, r, "k", "v")
	if v, ok := mustGet[string](t, onlyB, "k"); !ok || v != "v" {
		t.Fatalf("a region with only the second key reads %q, %v; want the entry signed with it", v, ok)
	}
	mustSet(t, onlyA, "by-a", "v")
	if _, ok := mustGet[string](t, r, "by-a"); ok {
		t.Fatal("an entry signed with the key of a replaced WithSigning was accepted")
	}
	if _, err := dogpile.NewRegion(dogpile.WithSigning(), dogpile.WithSigning(b)).ConfigureBackend(newStore()); err != nil {
		t.Fatalf("WithSigning() then WithSigning(key): %v; want the second to replace the first's error", err)
	}
}

// WithSigning keeps its own copy of the keys: a caller that wipes its buffer
// once the region is made, as one may with a secret, does not change what the
// region signs and verifies with.
func TestS1SigningKeysAreCopied(t *testing.T) {
	secret := []byte("a-good-signing-key-0123456789abcdef")
	buf := slices.Clone(secret)
	store := newStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithSigning(buf)})
	clear(buf)
	mustSet(t, r, "k", "v")
	reader := regionFor(t, store, []dogpile.RegionOption{dogpile.WithSigning(secret)})
	if v, ok := mustGet[string](t, reader, "k"); !ok || v != "v" {
		t.Fatalf("an entry written after the caller wiped its key buffer reads %q, %v elsewhere; want it signed with the key given", v, ok)
	}
}

// GetOrCreate[T] writes its entry as T, also for an interface T, on every
// backend: an entry written as any is read as any, never as the type its
// value happened to have (K2: the memory backend holds it as an any, and a
// byte backend must agree).
func TestK2EntryWrittenAsAnyIsAMissAsItsValuesType(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		// Written as any, the number is stored as JSON: read as any it is a
		// hit (a float64), read as the int it was it is a miss.
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (any, error) { return 42, nil })
		if err != nil || v != 42 {
			t.Fatalf("GetOrCreate[any] = %#v, %v", v, err)
		}
		if n, ok := mustGet[int](t, r, "k"); ok {
			t.Fatalf("an entry written as any read as an int: %d", n)
		}
		if _, ok := mustGet[any](t, r, "k"); !ok {
			t.Fatal("an entry written as any is a miss as any")
		}
	})
}

// On the memory backend, which holds Go values, the untyped []byte read
// takes only values that are byte slices (see Get): a string is not its
// bytes there.
func TestK2UntypedBytesReadOnlyByteSlicesOnMemory(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory")
	for key, v := range map[string]any{"string": "text", "int": 42} {
		if _, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (any, error) { return v, nil }); err != nil {
			t.Fatal(err)
		}
		if b, ok := mustGet[[]byte](t, r, key); ok {
			t.Fatalf("Get[[]byte] of a %T held as a Go value = %q, true; want a miss", v, b)
		}
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "bytes", func(context.Context) (any, error) { return []byte("raw"), nil }); err != nil {
		t.Fatal(err)
	}
	if b, ok := mustGet[[]byte](t, r, "bytes"); !ok || string(b) != "raw" {
		t.Fatalf("Get[[]byte] of a []byte written as any = %q, %v", b, ok)
	}
}

// An entry of a type this process has never used (written by another
// program, or another version) is logged by its type tag: the log says
// something of what the key holds.
func TestK2MismatchOfAnUnknownTypeLoggedByItsTag(t *testing.T) {
	const unknown = 0x12345678
	if envelope.NameOf(unknown) != "" {
		t.Fatalf("type tag %08x is a type this test process used; pick another", unknown)
	}
	logs := testutil.NewLogRecorder()
	store := newStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithLogger(logs.Logger())}, dogpile.WithExpiration(time.Hour))
	mustSet(t, r, "k", 42)
	store.put("k", rewritten(t, store, "k", func(m *envelope.Meta) { m.Type = unknown }))
	if v, ok := mustGet[int](t, r, "k"); ok {
		t.Fatalf("an entry of an unknown type read as an int: %d", v)
	}
	if got := logs.Lines("another type", "written_as=a type this process has not used (type tag 12345678)", "read_as=int"); len(got) != 1 {
		t.Fatalf("logged %q; want one warning naming the entry's type tag", logs.Lines())
	}
}

// An entry that carries an expiration of zero was not written by this
// library (which writes none rather than zero): it is read as expired at
// once, as an entry whose creator called SetExpiration(ctx, 0), not as one
// without an expiration of its own; InspectEntry says the same of both.
func TestC2ZeroOwnExpirationReadsAsExpired(t *testing.T) {
	ctx := context.Background()
	store := newStore()
	r := regionFor(t, store, nil, dogpile.WithExpiration(time.Hour))
	mustSet(t, r, "k", "v")
	store.put("k", rewritten(t, store, "k", func(m *envelope.Meta) { m.HasExpiration, m.Expiration = true, 0 }))
	if v, ok := mustGet[string](t, r, "k"); ok {
		t.Fatalf("an entry with an expiration of zero reads %q, fresh; want it expired", v)
	}
	if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); !ok || v != "v" {
		t.Fatalf("IgnoreExpiration reads %q, %v; want the value", v, ok)
	}

	if _, err := dogpile.GetOrCreate(ctx, r, "own", func(ctx context.Context) (string, error) {
		dogpile.SetExpiration(ctx, 0)
		return "v", nil
	}); err != nil {
		t.Fatal(err)
	}
	zero, _ := store.raw("k")
	own, _ := store.raw("own")
	mz, err := dogpile.InspectEntry(zero)
	if err != nil {
		t.Fatal(err)
	}
	mo, err := dogpile.InspectEntry(own)
	if err != nil {
		t.Fatal(err)
	}
	if mz.Expiration != mo.Expiration || mz.Expiration <= 0 {
		t.Fatalf("InspectEntry: an expiration of zero reads %v, SetExpiration(ctx, 0) %v; want the same positive (expired at once)", mz.Expiration, mo.Expiration)
	}
}

// R4: a value expires when it is older than the expiration, not when it is
// exactly as old.
func TestR4ExpiresOnlyWhenOlderThanTheExpiration(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		clock := newTestClock()
		r := regionWith(t, []dogpile.RegionOption{clock.option()}, backend, dogpile.WithExpiration(time.Minute))
		mustSet(t, r, "k", "v")
		clock.advance(time.Minute)
		if _, ok := mustGet[string](t, r, "k"); !ok {
			t.Fatal("a value exactly as old as the expiration is a miss")
		}
		if v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "new", nil }); err != nil || v != "v" {
			t.Fatalf("GetOrCreate of a value exactly as old as the expiration = %q, %v; want the stored value", v, err)
		}
		clock.advance(time.Nanosecond)
		if _, ok := mustGet[string](t, r, "k"); ok {
			t.Fatal("a value older than the expiration is a hit")
		}
	})
}

// A value created at the very instant of an invalidation (by the region's
// clock) is invalidated: its creation may have read data from before it.
// The same holds for a tag's invalidation in process. Under a soft
// invalidation such a value is expired (a miss for Get) but still there to
// be served stale (a hit with IgnoreExpiration).
func TestI1ValueCreatedAtTheInstantOfAnInvalidationIsInvalid(t *testing.T) {
	for _, how := range []dogpile.Invalidation{dogpile.Hard, dogpile.Soft} {
		t.Run(how.String(), func(t *testing.T) {
			onEachPath(t, func(t *testing.T, backend string) {
				ctx := context.Background()
				clock := newTestClock() // never moves: everything happens at one instant
				r := regionWith(t, []dogpile.RegionOption{clock.option()}, backend, dogpile.WithExpiration(time.Hour))
				invalidated := func(key, by string) {
					t.Helper()
					if _, ok := mustGet[string](t, r, key); ok {
						t.Fatalf("a value created at the instant of %s %s invalidation is a hit", by, how)
					}
					if how != dogpile.Soft {
						return
					}
					if v, ok := mustGet[string](t, r, key, dogpile.IgnoreExpiration()); !ok || v != "v" {
						t.Fatalf("a value created at the instant of %s soft invalidation reads %q, %v with IgnoreExpiration; want it served stale", by, v, ok)
					}
				}
				mustSet(t, r, "plain", "v")
				if err := r.Invalidate(ctx, how); err != nil {
					t.Fatal(err)
				}
				invalidated("plain", "the region's")
				clock.advance(time.Second)
				if err := r.Set(ctx, "tagged", "v", dogpile.Tags("t")); err != nil {
					t.Fatal(err)
				}
				if err := r.InvalidateTags(ctx, how, "t"); err != nil {
					t.Fatal(err)
				}
				invalidated("tagged", "its tag's")
			})
		})
	}
}

// A tagged value is invalidated by the region's invalidation as well as by
// its tags': tags that were never invalidated don't make it valid.
func TestTagsRegionInvalidationAppliesToTaggedValues(t *testing.T) {
	ctx := context.Background()
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		if err := p.a.Set(ctx, "k", "v", dogpile.Tags("t")); err != nil {
			t.Fatal(err)
		}
		if _, ok := mustGet[string](t, p.b, "k"); !ok {
			t.Fatal("a tagged value is a miss before any invalidation")
		}
		if err := p.b.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*dogpile.Region{p.a, p.b} {
			if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
				t.Fatalf("a tagged value reads %q after the region's hard invalidation", v)
			}
		}
	})
}

// A value with several tags is invalidated when any one of them is, also
// when another of its tags is one the process knows (it was invalidated
// before the value was made) and valid for it.
func TestTagsAnyInvalidatedTagInvalidates(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, a, b *dogpile.Region, tick func()) {
		t.Helper()
		// Tags are kept sorted: "a" is checked before "z".
		if err := b.InvalidateTags(ctx, dogpile.Hard, "z"); err != nil {
			t.Fatal(err)
		}
		tick()
		if err := a.Set(ctx, "k", "v", dogpile.Tags("a", "z")); err != nil {
			t.Fatal(err)
		}
		if _, ok := mustGet[string](t, b, "k"); !ok {
			t.Fatal("a value made after its tag's invalidation is a miss")
		}
		tick()
		if err := b.InvalidateTags(ctx, dogpile.Hard, "a"); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*dogpile.Region{a, b} {
			if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
				t.Fatalf("a value reads %q after one of its two tags was hard-invalidated", v)
			}
		}
	}
	// In process, on a clock that moves between the steps, so that the value
	// is surely made after "z"'s invalidation.
	for _, backend := range valuePaths {
		t.Run("local/"+backend, func(t *testing.T) {
			clock := newTestClock()
			r := regionWith(t, []dogpile.RegionOption{clock.option()}, backend, dogpile.WithExpiration(time.Hour))
			check(t, r, r, func() { clock.advance(time.Second) })
		})
	}
	onEachTagMode(t, func(t *testing.T, p tagProcs) {
		if !p.shared {
			t.Skip("in process: above, on a clock of its own")
		}
		check(t, p.a, p.b, func() {})
	})
}

// A cached "not found" read on a backend that reads many keys at once goes
// through the multi-key path's own decoding: it is known not to exist,
// without the creator running, also for a T (a struct) whose codec can't
// decode its empty payload.
func TestNegativeCachingMultiOnAMultiKeyBackend(t *testing.T) {
	ctx := context.Background()
	r := regionFor(t, newMultiStore(), []dogpile.RegionOption{dogpile.WithMetrics()}, dogpile.WithExpiration(time.Hour))
	var calls [][]string
	load := func(_ context.Context, keys []string) ([]samplePoint, error) {
		calls = append(calls, keys)
		out := make([]samplePoint, len(keys))
		var missing []int
		for i, k := range keys {
			if k == "gone" {
				missing = append(missing, i)
			}
			out[i] = samplePoint{X: len(k)}
		}
		return out, dogpile.NotFoundAt(missing...)
	}
	for range 2 {
		vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"here", "gone"}, load)
		wantNotFound(t, err, "gone")
		if !slices.Equal(vals, []samplePoint{{X: 4}, {}}) {
			t.Fatalf("values = %v; want here's and the zero value", vals)
		}
	}
	if len(calls) != 1 {
		t.Fatalf("creator calls = %q; want one", calls)
	}
	if m, err := dogpile.GetMulti[samplePoint](ctx, r, []string{"here", "gone"}); err != nil || len(m) != 1 {
		t.Fatalf("GetMulti = %v, %v; want here only", m, err)
	}
	if st := r.Stats(); st.NegativeHits != 2 || st.DecodeFailures != 0 {
		t.Fatalf("NegativeHits = %d, DecodeFailures = %d; want 2 and 0", st.NegativeHits, st.DecodeFailures)
	}
}

// NotFoundAt's error matches ErrNotFound, as a caller of a batch loader
// that returns it expects; with no positions it is nil, so that a loader
// can end with `return vals, dogpile.NotFoundAt(missing...)`. A negative
// position is the creator's mistake, an error that names it.
func TestNotFoundAtErrors(t *testing.T) {
	if err := dogpile.NotFoundAt(); err != nil {
		t.Fatalf("NotFoundAt() = %v; want nil", err)
	}
	if err := fmt.Errorf("load users: %w", dogpile.NotFoundAt(1)); !errors.Is(err, dogpile.ErrNotFound) {
		t.Fatalf("NotFoundAt(1) = %v; want it to match ErrNotFound", err)
	}
	r := regionOn(t, "memory")
	_, err := dogpile.GetOrCreateMulti(context.Background(), r, []string{"z"}, func(context.Context, []string) ([]string, error) {
		return []string{""}, dogpile.NotFoundAt(-1)
	})
	if err == nil || errors.Is(err, dogpile.ErrNotFound) || !strings.Contains(err.Error(), "NotFoundAt(-1)") {
		t.Fatalf("NotFoundAt(-1) for one key = %v; want an error naming it", err)
	}
}

// An untyped read (any) of an entry of bytes gets its value back whatever it
// is, with the default codec, which writes strings and numbers as plain text
// that does not say what it is: an entry written as the value's own type
// (Set, GetOrCreate[string]) is parsed as that type, one written as any
// (GetOrCreate[any]) holds JSON, which reads into an any as JSON does. So
// the creator of GetOrCreate[any] runs once, for a string as for a struct
// (before, a string's entry was undecodable as any: every call a miss).
func TestK2UntypedReadOfTextValues(t *testing.T) {
	ctx := context.Background()
	values := map[string]any{"string": "hello", "digits": "42", "int": 42, "uint32": uint32(7), "float": 1.5, "bool": true, "bytes": []byte("raw")}
	regions := map[string]*dogpile.Region{
		"memory":            regionOn(t, "memory"),
		"memory_serialized": regionOn(t, "memory_serialized"),
		"multi-key backend": regionFor(t, newMultiStore(), nil),
	}
	for path, r := range regions {
		t.Run(path, func(t *testing.T) {
			var keys []string
			for name, v := range values {
				mustSet(t, r, "set:"+name, v)
				keys = append(keys, "set:"+name)
				if got, ok := mustGet[any](t, r, "set:"+name); !ok || !reflect.DeepEqual(got, v) {
					t.Errorf("Get[any] of the %s Set = %#v, %v; want %#v", name, got, ok, v)
				}

				want := v // the Go value, on memory; what JSON reads into an any, on bytes
				if path != "memory" {
					b, _ := json.Marshal(v)
					if err := json.Unmarshal(b, &want); err != nil {
						t.Fatal(err)
					}
				}
				runs := 0
				for i := range 2 {
					got, err := dogpile.GetOrCreate(ctx, r, "any:"+name, func(context.Context) (any, error) { runs++; return v, nil })
					if err != nil {
						t.Fatal(err)
					}
					if i == 1 && !reflect.DeepEqual(got, want) {
						t.Errorf("GetOrCreate[any] of the %s, read back = %#v; want %#v", name, got, want)
					}
				}
				if runs != 1 {
					t.Errorf("GetOrCreate[any] of the %s: the creator ran %d times in two calls; want once", name, runs)
				}
			}
			got, err := dogpile.GetMulti[any](ctx, r, keys)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range values {
				if g, ok := got["set:"+name]; !ok || !reflect.DeepEqual(g, v) {
					t.Errorf("GetMulti[any] of the %s Set = %#v, %v; want %#v", name, g, ok, v)
				}
			}
		})
	}
}
