package dogpile_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// Tests of how entries are written and read — their size limit, type,
// signature, own expiration, "not found" — and of how a stored value's state
// is decided, each pinning down a behaviour that a mutation sweep of the
// code found no test of.

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
