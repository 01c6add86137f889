package redis_test

// Regions on real Redis: invalidation shared between clients, as between
// processes (I6), fail-open with the server killed or hung (P3), and the cost
// of metrics and shared invalidation on a hit.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// newClientBackend is a Redis backend on a client of its own: to the
// server, another process.
func newClientBackend(t testing.TB, o *goredis.Options) *redis.Backend {
	t.Helper()
	b, err := redis.New(redis.Options{Client: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func sharedRegion(t testing.TB, b dogpile.Backend, name string, refresh time.Duration) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(dogpile.WithName(name)).ConfigureBackend(b,
		dogpile.WithExpiration(time.Hour),
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(refresh)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestI6SharedInvalidationAcrossClients: two regions of the same name on
// separate clients — to Redis, two processes — with SharedInvalidation.
// With refresh 0, Invalidate(Hard) in one makes the other regenerate on its
// very next call; with 100ms, within the interval.
func TestI6SharedInvalidationAcrossClients(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	for _, refresh := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("refresh=%v", refresh), func(t *testing.T) {
			ctx := testutil.Context(t)
			name, k := testutil.Unique("i6"), testutil.Unique("k")
			a := sharedRegion(t, newClientBackend(t, &goredis.Options{Addr: addr}), name, refresh)
			b := sharedRegion(t, newClientBackend(t, &goredis.Options{Addr: addr}), name, refresh)
			var bCreated atomic.Int32
			createB := func(v string) func(context.Context) (string, error) {
				return func(context.Context) (string, error) { bCreated.Add(1); return v, nil }
			}
			if v, err := dogpile.GetOrCreate(ctx, a, k, func(context.Context) (string, error) { return "a1", nil }); err != nil || v != "a1" {
				t.Fatalf("A: GetOrCreate = %q, %v", v, err)
			}
			if v, err := dogpile.GetOrCreate(ctx, b, k, createB("b1")); err != nil || v != "a1" || bCreated.Load() != 0 {
				t.Fatalf("B: GetOrCreate = %q, %v; want A's value, not a creation", v, err)
			}
			if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			invalidated := time.Now()
			if refresh == 0 {
				if v, err := dogpile.GetOrCreate(ctx, b, k, createB("b2")); err != nil || v != "b2" {
					t.Fatalf("B's next call after A's hard invalidation = %q, %v; want a regeneration (b2)", v, err)
				}
			} else {
				// B learns of it at its next refresh: poll until then.
				for {
					v, err := dogpile.GetOrCreate(ctx, b, k, createB("b2"))
					if err != nil {
						t.Fatal(err)
					}
					if v == "b2" {
						break
					}
					if time.Since(invalidated) > 5*time.Second {
						t.Fatal("B never regenerated after A's hard invalidation")
					}
					time.Sleep(time.Millisecond)
				}
				took := time.Since(invalidated)
				t.Logf("B regenerated %v after A's invalidation (refresh %v)", took, refresh)
				if took > refresh+time.Second { // the interval plus generous slack for a loaded machine
					t.Fatalf("B took %v to see an invalidation, refresh is %v", took, refresh)
				}
			}
			// A, having invalidated, gets B's new value (created after the
			// invalidation), not a creation of its own.
			if v, err := dogpile.GetOrCreate(ctx, a, k, func(context.Context) (string, error) { return "a2", nil }); err != nil || v != "b2" {
				t.Fatalf("A after the invalidation: GetOrCreate = %q, %v; want B's new value", v, err)
			}
		})
	}
}

// latencies summarises call durations.
type latencies []time.Duration

func (l latencies) String() string {
	if len(l) == 0 {
		return "no calls"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("%d calls: mean %v, p50 %v, p99 %v, max %v", len(s), sum/time.Duration(len(s)), q(0.5), q(0.99), s[len(s)-1])
}

func (l latencies) quantile(p float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// failOpenRegion is the region the P3 tests put in front of the server at
// addr: fail-open with cooldown, with metrics, on a client of its own whose
// socket timeouts are timeout and that does not retry, so that a dead or hung
// server costs a call one timeout and no more.
func failOpenRegion(t testing.TB, addr, name string, timeout, cooldown time.Duration) *dogpile.Region {
	t.Helper()
	rb := newClientBackend(t, &goredis.Options{Addr: addr, ReadTimeout: timeout, WriteTimeout: timeout, DialTimeout: timeout, MaxRetries: -1})
	r, err := dogpile.NewRegion(dogpile.WithName(name), dogpile.WithFailOpen(cooldown), dogpile.WithMetrics()).
		ConfigureBackend(rb, dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestP3FailOpenRedisKilledMidLoad: goroutines call GetOrCreate in a loop;
// Redis is killed under them. A fail-open region keeps answering every call
// with the creator's value, and caches again once Redis is back. Logs the
// latency of the calls made while Redis was down.
func TestP3FailOpenRedisKilledMidLoad(t *testing.T) {
	const (
		timeout  = 500 * time.Millisecond // socket timeouts
		cooldown = 100 * time.Millisecond
		workers  = 4
		keys     = 8
	)
	p := testserver.StartRedis(t)
	r := failOpenRegion(t, p.Addr(), "p3", timeout, cooldown)
	var (
		phase     atomic.Int32 // 0 up, 1 down (measured), 2 back
		downCalls atomic.Int64
		wrong     atomic.Int64
		errs      atomic.Int64
		creations atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		mu        sync.Mutex
		down      latencies
		firstErr  error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			var mine latencies
			defer func() { mu.Lock(); down = append(down, mine...); mu.Unlock() }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("p3-%d", (w+i)%keys)
				ph := phase.Load()
				start := time.Now()
				v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
					creations.Add(1)
					return "v-" + key, nil
				})
				d := time.Since(start)
				switch {
				case err != nil:
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				case v != "v-"+key:
					wrong.Add(1)
				}
				if ph == 1 && phase.Load() == 1 {
					mine = append(mine, d)
					downCalls.Add(1)
				}
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	testutil.Eventually(t, "warm cache", func() bool { return r.Stats().Hits >= 2000 })
	base := r.Stats()
	p.Kill()
	phase.Store(1)
	testutil.Eventually(t, "load while Redis is down", func() bool {
		return r.Stats().BackendErrors >= base.BackendErrors+5 && downCalls.Load() >= 2000
	})
	phase.Store(2)
	downStats := r.Stats()
	p.Restart(t)
	restarted := r.Stats()
	testutil.Eventually(t, "caching after Redis returns", func() bool { return r.Stats().Hits >= restarted.Hits+2000 })
	// Every key is cached again: more hits, and no creator runs.
	created, hits := creations.Load(), r.Stats().Hits
	testutil.Eventually(t, "more hits", func() bool { return r.Stats().Hits >= hits+2000 })
	if n := creations.Load() - created; n != 0 {
		t.Errorf("%d creations after caching resumed; want 0", n)
	}
	stopLoad()

	if n := errs.Load(); n != 0 {
		t.Fatalf("%d calls failed; fail-open should answer every one (first: %v)", n, firstErr)
	}
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d calls returned a value not the creator's", n)
	}
	trips := downStats.BackendErrors - base.BackendErrors
	slow := 0
	for _, d := range down {
		if d > 50*time.Millisecond {
			slow++
		}
	}
	// The slow calls are the probes after each cooldown: go-redis dials a
	// refused address 5 times, 100ms apart (DialerRetries), before failing.
	t.Logf("Redis down: %v; the breaker tripped %d times (cooldown %v, socket timeout %v); %d calls over 50ms",
		down, trips, cooldown, timeout, slow)
	if p99 := down.quantile(0.99); p99 > timeout/5 {
		t.Errorf("p99 latency %v while Redis was down; the breaker should keep calls far below the %v timeout", p99, timeout)
	}
}

// TestP3BreakerBoundsHungServer: a server that accepts connections and never
// answers (paused with SIGSTOP) costs the first call a socket timeout; while
// the breaker is open the next calls don't touch it, so their extra latency
// is far below the timeout. The region caches again after the server
// resumes.
func TestP3BreakerBoundsHungServer(t *testing.T) {
	const (
		timeout  = 300 * time.Millisecond
		cooldown = 2 * time.Second
	)
	ctx := testutil.Context(t)
	p := testserver.StartRedis(t)
	r := failOpenRegion(t, p.Addr(), "p3-hung", timeout, cooldown)
	create := func(context.Context) (string, error) { return "created", nil }
	if _, err := dogpile.GetOrCreate(ctx, r, "hung", create); err != nil {
		t.Fatal(err)
	}

	p.Pause(t)
	t.Cleanup(func() { p.Resume(t) }) // so that it can be stopped
	start := time.Now()
	v, err := dogpile.GetOrCreate(ctx, r, "hung", create)
	first := time.Since(start)
	if err != nil || v != "created" {
		t.Fatalf("first call on the hung server = %q, %v; want the creator's value", v, err)
	}
	var open latencies
	for range 500 {
		start := time.Now()
		v, err := dogpile.GetOrCreate(ctx, r, "hung", create)
		open = append(open, time.Since(start))
		if err != nil || v != "created" {
			t.Fatalf("call with the breaker open = %q, %v", v, err)
		}
	}
	// The creator alone, for the baseline of "extra".
	var bare latencies
	for range 500 {
		start := time.Now()
		create(ctx) //nolint:errcheck // it cannot fail
		bare = append(bare, time.Since(start))
	}
	if n := r.Stats().BackendErrors; n != 1 {
		t.Fatalf("%d backend errors; with the breaker open only the first call should have tried the server", n)
	}
	t.Logf("hung server, socket timeout %v: first call %v; then, breaker open: %v (creator alone: %v)", timeout, first, open, bare)
	if first < timeout/2 {
		t.Errorf("the first call took %v; it should have waited for the %v timeout", first, timeout)
	}
	if p99 := open.quantile(0.99); p99 > timeout/10 {
		t.Errorf("p99 %v with the breaker open; want far below the %v timeout", p99, timeout)
	}

	p.Resume(t)
	hits := r.Stats().Hits
	testutil.Eventually(t, "caching after the server resumes", func() bool {
		dogpile.GetOrCreate(ctx, r, "hung", create) //nolint:errcheck // fail-open: no error
		return r.Stats().Hits > hits
	})
}

// BenchmarkMetricsAndSharedInvalidationOverhead: the cost of WithMetrics and of SharedInvalidation
// (refresh 0: the times read with every value; 1s: at most once a second) on
// a GetOrCreate hit, on the memory backend and on Redis. Compare the columns
// with benchstat:
//
//	go test -run '^$' -bench MetricsAndSharedInvalidationOverhead -count 10 ./backends/redis/ > /tmp/o.txt
//	benchstat -col /opt /tmp/o.txt
func BenchmarkMetricsAndSharedInvalidationOverhead(b *testing.B) {
	addr := testserver.SharedRedis(b).Addr()
	backends := []struct {
		name string
		make func(b *testing.B) dogpile.Backend
	}{
		{"memory", func(b *testing.B) dogpile.Backend {
			m, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return m
		}},
		{"redis", func(b *testing.B) dogpile.Backend { return newClientBackend(b, &goredis.Options{Addr: addr}) }},
	}
	shared := func(refresh time.Duration) func() []dogpile.ConfigOption {
		return func() []dogpile.ConfigOption { // a strategy serves one region: one per run
			return []dogpile.ConfigOption{dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(refresh))}
		}
	}
	opts := []struct {
		name   string
		region []dogpile.RegionOption
		config func() []dogpile.ConfigOption
	}{
		{"none", nil, nil},
		{"metrics", []dogpile.RegionOption{dogpile.WithMetrics()}, nil},
		{"shared=0", nil, shared(0)},
		{"shared=1s", nil, shared(time.Second)},
	}
	for _, be := range backends {
		for _, o := range opts {
			b.Run("backend="+be.name+"/opt="+o.name, func(b *testing.B) {
				ctx := context.Background()
				config := []dogpile.ConfigOption{dogpile.WithExpiration(time.Hour)}
				if o.config != nil {
					config = append(config, o.config()...)
				}
				r, err := dogpile.NewRegion(append([]dogpile.RegionOption{dogpile.WithName(testutil.Unique("bench"))}, o.region...)...).
					ConfigureBackend(be.make(b), config...)
				if err != nil {
					b.Fatal(err)
				}
				k := testutil.Unique("k")
				create := func(context.Context) (string, error) { return "a cached value of 32 bytes.......", nil }
				if _, err := dogpile.GetOrCreate(ctx, r, k, create); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := dogpile.GetOrCreate(ctx, r, k, create); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
