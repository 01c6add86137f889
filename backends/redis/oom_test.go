package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// A Redis out of memory (maxmemory, noeviction) refuses the write of a value;
// that is not an outage: the error matches dogpile.ErrValueRefused, so that a
// fail-open region's breaker stays closed and the other keys stay cached.
func TestOOMIsARefusedValue(t *testing.T) {
	srv := testserver.StartRedis(t, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
	ctx := context.Background()
	r, err := dogpile.NewRegion(dogpile.WithFailOpen(time.Minute), dogpile.WithMetrics()).Configure("redis",
		dogpile.WithArguments(dogpile.Args{"url": "redis://" + srv.Addr()}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Set(ctx, "small", "kept"); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 4<<20)
	err = r.Set(ctx, "big", big)
	if !errors.Is(err, dogpile.ErrValueRefused) || !errors.Is(err, dogpile.ErrBackend) {
		t.Fatalf("Set of a value over maxmemory = %v; want an error matching ErrValueRefused and ErrBackend", err)
	}
	// The breaker did not open: the small key is still read from Redis.
	if v, ok, err := dogpile.Get[string](ctx, r, "small"); err != nil || !ok || v != "kept" {
		t.Fatalf("after the refusal Get(small) = %q, %v, %v; want the cached value", v, ok, err)
	}
	if n := r.Stats().BreakerTrips; n != 0 {
		t.Fatalf("the breaker tripped %d times on a refused value", n)
	}
}
