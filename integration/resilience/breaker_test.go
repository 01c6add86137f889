package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/integration/internal/roundtrips"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// Issue 17, breaker: a value over Memcached's item size limit is returned
// uncached, from one creator call; the breaker stays closed and the other
// keys stay cached.
func TestBreakerOversizedValueLeavesOtherKeysCached(t *testing.T) {
	ctx := context.Background()
	const limit = 64 << 10
	srv := testserver.Memcached(t, testserver.MemcachedOptions{MaxItemSize: limit})
	r := configure(t, "memcached", dogpile.Args{"url": srv.Addr()}, dogpile.WithFailOpen(time.Hour), dogpile.WithMetrics())
	if err := r.Set(ctx, "other", "cached before"); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	big := strings.Repeat("x", 2*limit)
	v, err := dogpile.GetOrCreate(ctx, r, "big", func(context.Context) (string, error) { calls.Add(1); return big, nil })
	if err != nil || v != big || calls.Load() != 1 {
		t.Fatalf("GetOrCreate of an oversized value: %d bytes, %v, %d creator calls; want the value from one call", len(v), err, calls.Load())
	}
	if v, ok, err := dogpile.Get[string](ctx, r, "other"); err != nil || !ok || v != "cached before" {
		t.Fatalf("Get of another key after the refusal = %q, %v, %v; want its cached value", v, ok, err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "new", func(context.Context) (string, error) { return "small", nil }); err != nil {
		t.Fatal(err)
	}
	if !testserver.MemcachedHas(t, srv.Addr(), "new") || testserver.MemcachedHas(t, srv.Addr(), "big") {
		t.Fatal("after the refusal, a small value is not stored on the server (or the big one is)")
	}
	if st := r.Stats(); st.BreakerTrips != 0 || st.ValuesRefused != 1 || st.CreatorErrors != 0 {
		t.Fatalf("stats %+v; want no trip, one value refused, no creator error", st)
	}
}

// Issue 17, breaker: Redis hangs (SIGSTOP). After the cooldown, however
// many callers come, exactly one probe reaches it — counted at the client
// and at a TCP proxy in front of the server — and every caller is answered
// without waiting for it.
func TestBreakerOneProbeReachesAHungRedis(t *testing.T) {
	ctx := context.Background()
	srv := testserver.StartRedis(t)
	front := testserver.StartFaultProxy(t, srv.Addr())
	const cooldown = 300 * time.Millisecond
	count := &roundtrips.Reads{}
	args := redisArgs(front.Addr())
	args["max_retries"] = -1 // one command per call: go-redis's retries would blur the count
	r, err := dogpile.NewRegion(dogpile.WithFailOpen(cooldown), dogpile.WithMetrics()).Configure("redis",
		dogpile.WithArguments(args), dogpile.WithWrap(func(next dogpile.Backend) dogpile.Backend { count.Next = next; return count }))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	create := func(context.Context) (string, error) { return "created", nil }
	if _, err := dogpile.GetOrCreate(ctx, r, "warm", create); err != nil {
		t.Fatal(err)
	}

	srv.Pause(t)
	defer srv.Resume(t)
	if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "created" {
		t.Fatalf("GetOrCreate with Redis hung = %q, %v; want the creator's value", v, err)
	}
	if st := r.Stats(); st.BreakerTrips != 1 {
		t.Fatalf("BreakerTrips = %d; want 1", st.BreakerTrips)
	}
	time.Sleep(cooldown + 50*time.Millisecond) // past the cooldown: half-open
	reads, accepted, bytesIn := count.Count(), front.Accepted(), front.BytesIn()

	const callers = 50
	var wg sync.WaitGroup
	start := time.Now()
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if v, err := dogpile.GetOrCreate(ctx, r, fmt.Sprintf("k%d-%d", i, j), create); err != nil || v != "created" {
					t.Errorf("GetOrCreate while half-open = %q, %v", v, err)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if n := count.Count() - reads; n != 1 {
		t.Fatalf("%d reads reached the Redis client after the cooldown; want the one probe", n)
	}
	if n := front.Accepted() - accepted; n > 1 {
		t.Fatalf("%d connections reached the hung server after the cooldown; want at most the probe's", n)
	}
	if front.BytesIn() == bytesIn {
		t.Fatal("the probe did not reach the server")
	}
	if took > time.Second {
		t.Fatalf("the %d callers took %v: they waited for the hung server", callers*20, took)
	}

	srv.Resume(t)
	if err := testserver.WaitFor(10*time.Second, "the breaker to close", func(ctx context.Context) error {
		dogpile.GetOrCreate(ctx, r, "after", create) //nolint:errcheck
		if _, ok, err := dogpile.Get[string](ctx, r, "after"); err != nil || !ok {
			return fmt.Errorf("not cached: %v, %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Every failed backend call is counted, on every server backend.
func TestBackendErrorsCountedOnEveryBackend(t *testing.T) {
	for _, s := range stores {
		if s.name == "memory" || s.name == "file" {
			continue // never down
		}
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			var srv *testserver.Process
			var args dogpile.Args
			switch s.name {
			case "redis":
				srv = testserver.StartRedis(t)
				args = redisArgs(srv.Addr())
			case "memcached":
				srv = testserver.Memcached(t, testserver.MemcachedOptions{})
				args = dogpile.Args{"url": srv.Addr(), "socket_timeout": "200ms"}
			}
			r := configure(t, s.name, args, dogpile.WithMetrics())
			srv.Kill()
			const calls = 5
			for range calls {
				if _, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "v", nil }); !errors.Is(err, dogpile.ErrBackend) {
					t.Fatalf("GetOrCreate with the server down = %v; want a backend error", err)
				}
			}
			if n := r.Stats().BackendErrors; n != calls {
				t.Fatalf("BackendErrors = %d after %d failed calls", n, calls)
			}
		})
	}
}
