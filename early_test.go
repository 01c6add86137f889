package dogpile_test

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

func TestEarlyRefreshRegeneratesBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	run := func(opts ...dogpile.RegionOption) int {
		r, err := dogpile.NewRegion(opts...).Configure("memory", dogpile.WithExpiration(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		create := func(context.Context) (int, error) {
			calls++
			time.Sleep(2 * time.Millisecond) // the work whose duration is delta
			return calls, nil
		}
		for range 3 {
			if _, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil {
				t.Fatal(err)
			}
		}
		return calls
	}
	// A value an hour from expiry: with beta huge, every read draws an early
	// refresh (the chance it does not is below 1e-6 per read).
	if n := run(dogpile.WithEarlyRefresh(1e13)); n != 3 {
		t.Fatalf("with a huge beta the creator ran %d times in 3 reads, want 3", n)
	}
	// With a tiny beta, or without the option, a value an hour from expiry
	// is never refreshed early.
	if n := run(dogpile.WithEarlyRefresh(1e-9)); n != 1 {
		t.Fatalf("with a tiny beta the creator ran %d times, want 1", n)
	}
	if n := run(); n != 1 {
		t.Fatalf("without early refresh the creator ran %d times, want 1", n)
	}
}

func TestEarlyRefreshServesOthersWhileRefreshing(t *testing.T) {
	ctx := context.Background()
	runs := make(chan func(), 1)
	r, _ := dogpile.NewRegion(dogpile.WithEarlyRefresh(1e13), dogpile.WithAsyncRunner(func(f func()) { runs <- f })).
		Configure("memory", dogpile.WithExpiration(time.Hour))
	v, _ := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { time.Sleep(time.Millisecond); return "v1", nil })
	if v != "v1" {
		t.Fatal(v)
	}
	// The early refresh goes to the runner; the caller gets the current value.
	v, _ = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "v2", nil })
	if v != "v1" || len(runs) != 1 {
		t.Fatalf("got %q with %d refreshes handed to the runner; want v1 and 1", v, len(runs))
	}
	(<-runs)()
	if v, _, _ := dogpile.Get[string](ctx, r, "k", dogpile.IgnoreExpiration()); v != "v2" {
		t.Fatalf("after the background refresh the value is %q", v)
	}
}
