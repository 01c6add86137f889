package dogpile_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// Tests of how entries are written and read — their size limit, type,
// signature, own expiration, "not found" — and of how a stored value's state
// is decided, each pinning down a behaviour that a mutation sweep of the
// code found no test of.

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
