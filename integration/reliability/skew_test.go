package reliability_test

// The cross-host soak: two hosts whose clocks are 10 minutes fast and 10
// minutes slow share one Redis with shared invalidation and the distributed
// lock, while locks are lost on purpose (deleted from the server, as an
// eviction or a restart would lose them) and hard and soft invalidations
// come from both hosts. The invariants:
//
//   - no value older than a hard invalidation is served: a call that starts
//     after hard invalidation k has returned never gets a value whose
//     creation started before invalidation k was announced;
//   - no older value is written over a newer one: every creation takes a
//     number (in the order the lock hands creations out), and the number
//     stored under a key, watched from a raw client, never goes down.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

const skewKeys = 8

// skewValue is what a creation makes: the hard invalidations announced when
// it started, and its number.
func skewValue(epoch, n int64) string { return fmt.Sprintf("epoch=%d n=%d", epoch, n) }

var skewValueRE = regexp.MustCompile(`epoch=(\d+) n=(\d+)`)

func parseSkewValue(s string) (epoch, n int64, ok bool) {
	m := skewValueRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	epoch, _ = strconv.ParseInt(m[1], 10, 64)
	n, _ = strconv.ParseInt(m[2], 10, 64)
	return epoch, n, true
}

func TestRL2SkewedHostsWithLostLocks(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak; skipped with -short")
	}
	d := soakDuration(t) / 3
	srv := testserver.StartRedis(t)
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer raw.Close()

	host := func(skew time.Duration) *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithName("skew"), dogpile.WithMetrics(), dogpile.WithClock(func() time.Time { return time.Now().Add(skew) })).
			Configure("redis",
				dogpile.WithExpiration(200*time.Millisecond),
				dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)),
				dogpile.WithArguments(dogpile.Args{
					"url": "redis://" + srv.Addr(), "distributed_lock": true,
					"lock_timeout": "300ms", "lock_sleep": "20ms", "socket_timeout": "2s",
				}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	hosts := []*dogpile.Region{host(10 * time.Minute), host(-10 * time.Minute)}

	var (
		announced atomic.Int64 // hard invalidations begun
		done      atomic.Int64 // hard invalidations returned
		number    atomic.Int64 // creations begun
		calls     atomic.Int64
		lost      atomic.Int64 // locks deleted on purpose
		failure   atomic.Pointer[string]
	)
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		failure.CompareAndSwap(nil, &msg)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	run := func(f func(rnd *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for {
				select {
				case <-stop:
					return
				default:
				}
				f(rnd)
			}
		}()
	}

	// Callers on both hosts.
	for w := range 8 {
		r := hosts[w%2]
		run(func(rnd *rand.Rand) {
			key := fmt.Sprintf("skew-%d", rnd.IntN(skewKeys))
			floor := done.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			v, err := dogpile.GetOrCreate(ctx, r, key, func(ctx context.Context) (string, error) {
				epoch, n := announced.Load(), number.Add(1)
				// Some creations outlive the lock's timeout: the lease must
				// hold them; a lost lock must end them or fence their write.
				// (The creator runs in a goroutine of its own: the shared
				// generator, not the caller's.)
				pause := time.Duration(rand.IntN(20)) * time.Millisecond
				if rand.IntN(20) == 0 {
					pause = 400 * time.Millisecond
				}
				select {
				case <-time.After(pause):
				case <-ctx.Done():
					return "", context.Cause(ctx)
				}
				return skewValue(epoch, n), nil
			})
			calls.Add(1)
			if err != nil {
				return // a creation that lost its lock may fail; the invariants are about values
			}
			epoch, _, ok := parseSkewValue(v)
			if !ok {
				fail("%s: unreadable value %q", key, v)
				return
			}
			if epoch < floor {
				fail("%s: served a value made before hard invalidation %d had begun (%q), after it returned", key, floor, v)
			}
		})
	}

	// Invalidations from both hosts, hard and soft.
	for i := range 2 {
		r := hosts[i]
		run(func(rnd *rand.Rand) {
			time.Sleep(time.Duration(50+rnd.IntN(100)) * time.Millisecond)
			if rnd.IntN(2) == 0 {
				r.Invalidate(context.Background(), dogpile.Soft) //nolint:errcheck // soft: not checked
				return
			}
			k := announced.Add(1)
			if err := r.Invalidate(context.Background(), dogpile.Hard); err != nil {
				fail("hard invalidation: %v", err)
				return
			}
			for {
				if cur := done.Load(); cur >= k || done.CompareAndSwap(cur, k) {
					return
				}
			}
		})
	}

	// Lost locks: a lock deleted from the server while its creation runs.
	run(func(rnd *rand.Rand) {
		time.Sleep(time.Duration(5+rnd.IntN(20)) * time.Millisecond)
		if n, err := raw.Del(context.Background(), redis.LockKey(fmt.Sprintf("skew-%d", rnd.IntN(skewKeys)))).Result(); err == nil {
			lost.Add(n)
		}
	})

	// The watcher: the number stored under a key never goes down.
	run(func(rnd *rand.Rand) {
		var last [skewKeys]int64
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := range skewKeys {
				b, err := raw.Get(context.Background(), fmt.Sprintf("skew-%d", i)).Bytes()
				if err != nil {
					continue
				}
				if _, n, ok := parseSkewValue(string(b)); ok {
					if n < last[i] {
						fail("skew-%d: value %d stored over %d", i, n, last[i])
					}
					last[i] = max(last[i], n)
				}
			}
			time.Sleep(time.Millisecond)
		}
	})

	time.Sleep(d)
	close(stop)
	wg.Wait()
	if f := failure.Load(); f != nil {
		t.Fatal(*f)
	}
	var locksLost uint64
	for _, r := range hosts {
		locksLost += r.Stats().LocksLost
	}
	t.Logf("%v: %d calls, %d creations, %d hard invalidations, %d locks deleted, %d creations that found their lock lost",
		d, calls.Load(), number.Load(), done.Load(), lost.Load(), locksLost)
	if calls.Load() == 0 || done.Load() == 0 || lost.Load() == 0 {
		t.Fatal("the soak did not exercise calls, hard invalidations and lost locks")
	}
}
