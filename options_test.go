package dogpile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// Several options given to one call combine: of two expirations (an
// ExpirationTime and an ExpirationFunc), the later one applies, zero
// included; IgnoreExpiration and NoStale hold whatever comes after them.
func TestCallOptionsCombine(t *testing.T) {
	zero := func() time.Duration { return 0 }
	for _, tc := range []struct {
		name  string
		opts  []dogpile.Option
		fresh bool // the value set just now is read
	}{
		{"ExpirationFunc, then ExpirationTime", []dogpile.Option{dogpile.ExpirationFunc(zero), dogpile.ExpirationTime(time.Hour)}, true},
		{"ExpirationTime, then ExpirationFunc", []dogpile.Option{dogpile.ExpirationTime(time.Hour), dogpile.ExpirationFunc(zero)}, false},
		{"ExpirationFunc among others", []dogpile.Option{dogpile.ExpirationFunc(zero), dogpile.NoStale()}, false},
		{"ExpirationTime(0) among others", []dogpile.Option{dogpile.ExpirationTime(0), dogpile.NoStale()}, false},
		{"IgnoreExpiration, then an expiration", []dogpile.Option{dogpile.IgnoreExpiration(), dogpile.ExpirationTime(0)}, true},
		{"an expiration, then IgnoreExpiration", []dogpile.Option{dogpile.ExpirationTime(0), dogpile.IgnoreExpiration()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onEachRegion(t, 0, func(t *testing.T, r *dogpile.Region) {
				mustSet(t, r, "k", "v")
				if _, ok := mustGet[string](t, r, "k", tc.opts...); ok != tc.fresh {
					t.Fatalf("Get found the value: %v; want %v", ok, tc.fresh)
				}
			})
		})
	}
}

// NoStale, NegativeExpiration and CreationTimeout(0) given before another
// option still apply: a NoStale call waits for the new value instead of
// being served the stale one, a "not found" expires as NegativeExpiration
// says, and CreationTimeout(0) lifts the region's creation timeout.
func TestCallOptionsGivenFirstStillApply(t *testing.T) {
	ctx := context.Background()
	onEachPath(t, func(t *testing.T, backend string) {
		// The regeneration runs before the call returns: a stale value, if
		// served, is served after it, so the value returned says which.
		r := regionWith(t, []dogpile.RegionOption{
			dogpile.WithAsyncRunner(func(regenerate func()) { regenerate() }),
			dogpile.WithCreationTimeout(time.Hour),
		}, backend)

		mustSet(t, r, "k", "old")
		v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "new", nil },
			dogpile.NoStale(), expiredNow)
		if err != nil || v != "new" {
			t.Fatalf("GetOrCreate with NoStale over a stale value = %q, %v; want the new value", v, err)
		}

		runs := 0
		notFound := func(context.Context) (string, error) { runs++; return "", dogpile.ErrNotFound }
		for range 2 {
			if _, err := dogpile.GetOrCreate(ctx, r, "gone", notFound, dogpile.NegativeExpiration(time.Nanosecond), dogpile.NoStale()); !errors.Is(err, dogpile.ErrNotFound) {
				t.Fatalf("GetOrCreate of a missing thing = %v; want ErrNotFound", err)
			}
		}
		if runs != 2 {
			t.Fatalf("the creator ran %d times; want 2, the first \"not found\" having expired after a nanosecond", runs)
		}

		unbounded := func(ctx context.Context) (string, error) {
			if _, ok := ctx.Deadline(); ok {
				return "", errors.New("the creation has a deadline")
			}
			return "v", nil
		}
		if _, err := dogpile.GetOrCreate(ctx, r, "slow", unbounded, dogpile.CreationTimeout(0), dogpile.NoStale()); err != nil {
			t.Fatalf("GetOrCreate with CreationTimeout(0): %v", err)
		}
	})
}
