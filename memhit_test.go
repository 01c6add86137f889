package dogpile

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/clock"
)

// The memory hit's short branch (getOrCreate's first) decides freshness
// itself for a quick region — the default invalidation, the real clock, an
// expiration of a second or more — and must decide as state does: an entry
// older than the expiration, or made before an invalidation, is not a hit
// (the creator runs again), and a fresh one is a hit that never reaches the
// slow path (which copies the key: an allocation for a key built per call).
// The region's clock is the real one here (a test clock turns the short
// branch off), so the entries are planted with their creation time.
func TestMemHitShortBranchDecidesAsState(t *testing.T) {
	ctx := context.Background()
	r, err := NewRegion().Configure("memory", WithExpiration(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s := r.state.Load()
	if s.quickMap == nil {
		t.Fatal("a memory region with the defaults and a one-second expiration is not quick")
	}
	plantStamped := func(key, value string, st stamp) {
		s.hit.put(key, newValueEntry(value, typeIDOf[string](), st))
	}
	plant := func(key, value string, created int64) { plantStamped(key, value, stamp{created: created}) }
	calls := 0
	create := func(context.Context) (string, error) { calls++; return "new", nil }
	get := func(key string) string {
		t.Helper()
		v, err := GetOrCreate(ctx, r, key, create)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	plant("fresh", "old", clock.Now())
	if v := get("fresh"); v != "old" || calls != 0 {
		t.Fatalf("an entry made now: %q with %d creator calls, want the entry's value and none", v, calls)
	}
	plant("expired", "old", clock.Now()-int64(2*time.Second))
	if v := get("expired"); v != "new" || calls != 1 {
		t.Fatalf("an entry two seconds old, expiration one: %q with %d creator calls, want it made again", v, calls)
	}
	prefix := "expi"
	if n := testing.AllocsPerRun(20, func() {
		if v := get(prefix + "red"); v != "new" {
			t.Fatalf("the value made again: %q", v)
		}
	}); n != 0 || calls != 1 {
		t.Fatalf("the value made again: %v allocations a read and %d creator calls, want a memory hit (0) and no new call", n, calls)
	}
	// An entry's own expiration (SetExpiration) is state's to decide: one
	// shorter than the region's has run out.
	plantStamped("own-expiration", "old", stamp{created: clock.Now() - int64(500*time.Millisecond), ttl: int64(100 * time.Millisecond)})
	if v := get("own-expiration"); v != "new" || calls != 2 {
		t.Fatalf("an entry half a second old with an expiration of its own of 100ms: %q with %d creator calls, want it made again", v, calls)
	}
	// Per-call options that change the expiry are state's to decide.
	plant("ignored", "old", clock.Now()-int64(2*time.Second))
	if v, err := GetOrCreate(ctx, r, "ignored", create, IgnoreExpiration()); err != nil || v != "old" {
		t.Fatalf("an expired entry read with IgnoreExpiration: %q, %v; want the entry's value", v, err)
	}

	// An entry made before an invalidation, soft or hard, is not a hit, and
	// the next call makes it again.
	for i, how := range []Invalidation{Soft, Hard} {
		key := how.String()
		plant(key, "old", clock.Now())
		if err := r.Invalidate(ctx, how); err != nil {
			t.Fatal(err)
		}
		if v := get(key); v != "new" || calls != 3+i {
			t.Fatalf("after a %s invalidation: %q with %d creator calls, want it made again", key, v, calls)
		}
	}

	// A reserved key is refused even with an entry under it: the library
	// stores none of its own there as a region value, but the branch
	// doesn't count on it.
	plant(ReservedKeyPrefix+"x", "old", clock.Now())
	if _, err := GetOrCreate(ctx, r, ReservedKeyPrefix+"x", create); !errors.Is(err, ErrReservedKey) {
		t.Fatalf("GetOrCreate of a reserved key with an entry under it: %v, want ErrReservedKey", err)
	}
}
