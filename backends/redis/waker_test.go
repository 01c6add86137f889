package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// pubsubClients counts the server's pub/sub connections.
func pubsubClients(t *testing.T, addr string) int {
	t.Helper()
	out := testserver.RedisCLI(t, addr, "CLIENT", "LIST", "TYPE", "pubsub")
	if out == "" {
		return 0
	}
	return len(strings.Split(out, "\n"))
}

func numChannels(ctx context.Context, addr string) (int, error) {
	v, err := testserver.Do(ctx, addr, "PUBSUB", "CHANNELS")
	if err != nil {
		return 0, err
	}
	l, _ := v.([]any)
	return len(l), nil
}

// waitForChannels waits until the server at addr has n subscribed
// channels (what, in the failure).
func waitForChannels(t *testing.T, addr string, n int, what string) {
	t.Helper()
	if err := testserver.WaitFor(10*time.Second, what, func(ctx context.Context) error {
		if c, err := numChannels(ctx, addr); err != nil || c != n {
			return fmt.Errorf("%w: %d channels (%v)", testserver.ErrNotYet, c, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDL7OneSubscriptionPerBackend: 200 goroutines of one backend wait for
// 200 held locks on one subscription connection, and every one of them is
// woken by its lock's release (lock_sleep is a minute: polling would not
// get them out in time). When they are done, the channels are unsubscribed.
func TestDL7OneSubscriptionPerBackend(t *testing.T) {
	srv := testserver.StartRedis(t)
	holders := newTestBackend(t, srv.Addr(), redis.Options{})
	waiters := newTestBackend(t, srv.Addr(), redis.Options{LockSleep: time.Minute})
	ctx := testutil.Context(t)
	const n = 200
	held := make([]*redis.Mutex, n)
	for i := range held {
		held[i] = holders.NewMutex(fmt.Sprintf("key-%d", i))
		testutil.MustLock(t, held[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := waiters.NewMutex(fmt.Sprintf("key-%d", i))
			if err := m.Lock(ctx); err != nil {
				errs <- err
				return
			}
			errs <- m.Unlock(ctx)
		}()
	}
	waitForChannels(t, srv.Addr(), n, "200 subscribed channels")
	if c := pubsubClients(t, srv.Addr()); c != 1 {
		t.Fatalf("%d waiters use %d pub/sub connections; want one", n, c)
	}
	start := time.Now()
	for _, m := range held {
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the waiters took %v after the releases; lock_sleep is a minute, so some were not woken", d)
	}
	waitForChannels(t, srv.Addr(), 0, "the channels unsubscribed")
}

// TestDL7LostSubscriptionWakesWaiters: the server restarts (without
// persistence: the held lock is gone) while a waiter waits with lock_sleep
// a minute. The waiter hears no release, but the subscription, made again on
// the new connection, wakes it, and it takes the lock at once.
func TestDL7LostSubscriptionWakesWaiters(t *testing.T) {
	srv := testserver.StartRedis(t)
	holder := newTestBackend(t, srv.Addr(), redis.Options{})
	waiter := newTestBackend(t, srv.Addr(), redis.Options{LockSleep: time.Minute})
	ctx := testutil.Context(t)
	key := testutil.Unique("restart")
	testutil.MustLock(t, holder.NewMutex(key))
	done := testutil.LockAsync(ctx, waiter.NewMutex(key))
	waitForChannels(t, srv.Addr(), 1, "the waiter's subscription")
	srv.Kill()
	srv.Restart(t)
	wantWokenBySubscription(t, done)
}

// TestDL7WakeInCluster: in a Cluster, a release published on the lock's
// node reaches the waiter's one subscription, wherever that is: 20 waiters
// on keys spread over the three masters are woken (lock_sleep is a minute).
func TestDL7WakeInCluster(t *testing.T) {
	c := testserver.SharedCluster(t)
	args := dogpile.Args{"startup_nodes": c.Addrs(), "distributed_lock": true}
	holders := newFromArgs(t, "redis_cluster", args).(*redis.Backend)
	args["lock_sleep"] = 60
	waiters := newFromArgs(t, "redis_cluster", args).(*redis.Backend)
	ctx := testutil.Context(t)
	const n = 20
	held := make([]*redis.Mutex, n)
	keys := make([]string, n)
	slots := map[uint16]bool{}
	for i := range held {
		keys[i] = testutil.Unique(fmt.Sprintf("wake-%d", i))
		slots[redis.Slot(keys[i])] = true
		held[i] = holders.NewMutex(keys[i])
		testutil.MustLock(t, held[i])
	}
	errs := make(chan error, n)
	for _, key := range keys {
		go func() {
			w := waiters.NewMutex(key)
			if err := w.Lock(ctx); err != nil {
				errs <- err
				return
			}
			errs <- w.Unlock(ctx)
		}()
	}
	// Give the waiters their subscriptions (an event on the server: poll
	// every node, as a channel lives on the one a subscriber talks to).
	if err := testserver.WaitFor(10*time.Second, "the waiters' channels", func(ctx context.Context) error {
		total := 0
		for _, a := range c.Addrs() {
			k, err := numChannels(ctx, a)
			if err != nil {
				return err
			}
			total += k
		}
		if total != n {
			return fmt.Errorf("%w: %d channels", testserver.ErrNotYet, total)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, m := range held {
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the waiters took %v after the releases; lock_sleep is a minute", d)
	}
	t.Logf("%d waiters on %d slots woken in %v", n, len(slots), time.Since(start))
}

// TestRingWaitersPoll: on a Ring (sharded by the client), whose releases
// one subscription could not all hear, a waiter that had to wait (its first
// attempt failed) subscribes to nothing and polls every lock_sleep.
func TestRingWaitersPoll(t *testing.T) {
	a, b := testserver.SharedRedis(t), testserver.StartRedis(t)
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": a.Addr(), "b": b.Addr()}})
	t.Cleanup(func() { ring.Close() })
	rb, err := redis.NewFromClient(ring, redis.Options{LockSleep: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rb.Close() })
	attempts := watchAttempts(rb)
	ctx := testutil.Context(t)
	key := testutil.Unique("ring")
	holder := rb.NewMutex(key)
	testutil.MustLock(t, holder)
	done := testutil.LockAsync(ctx, rb.NewMutex(key))
	awaitAttempt(t, attempts, 2) // the holder's, then the waiter's first
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// coldProcs is the number of processes of a cold stampede.
const coldProcs = 4

// startCold starts the processes of a cold stampede on addr, with lock_sleep.
func startCold(t testing.TB, addr string, lockSleep time.Duration) []*testutil.Child {
	t.Helper()
	kids := make([]*testutil.Child, coldProcs)
	for i := range kids {
		kids[i] = testutil.StartChild(t, "cold", childAddrEnv+"="+addr, childSleepEnv+"="+lockSleep.String())
	}
	for _, k := range kids {
		k.Expect("ready", 30*time.Second)
	}
	return kids
}

// coldRound lets every process's callers loose on key at once and returns
// their reports.
func coldRound(t testing.TB, kids []*testutil.Child, key string) []coldReport {
	t.Helper()
	for _, k := range kids {
		k.Send(key)
	}
	reps := make([]coldReport, len(kids))
	for i, k := range kids {
		if err := json.Unmarshal([]byte(k.Next(60*time.Second)), &reps[i]); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		for _, e := range reps[i].Errors {
			t.Errorf("process %d: a caller failed: %s", i, e)
		}
	}
	return reps
}

// TestDL7WaitersWokenByRelease: 4 processes × 50 goroutines on one cold key,
// the creator 50ms, lock_sleep 10s. The creator runs once (counted on the
// server), and every caller returns long before a waiter's first retry by
// polling could happen: the waiting processes were woken by the release.
func TestDL7WaitersWokenByRelease(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	const lockSleep = 10 * time.Second
	kids := startCold(t, addr, lockSleep)
	key := testutil.Unique("dl7")
	reps := coldRound(t, kids, key)
	if n, err := raw.Get(testutil.Context(t), key+":creators").Int(); err != nil || n != 1 {
		t.Fatalf("the creator ran %d times (err %v); want once", n, err)
	}
	var slowest time.Duration
	for i, rep := range reps {
		if len(rep.Latencies) != goroutinesPerChild {
			t.Fatalf("process %d reported %d callers", i, len(rep.Latencies))
		}
		slowest = max(slowest, slices.Max(rep.Latencies))
		// At most: the first try, one after the subscription is confirmed,
		// and one per release it hears (each waiting process may win the
		// lock in turn, find the value and release it again).
		if rep.LockAttempts > coldProcs+2 {
			t.Errorf("process %d tried the lock %d times; want at most %d", i, rep.LockAttempts, coldProcs+2)
		}
		t.Logf("process %d: %d lock attempts, slowest caller %v", i, rep.LockAttempts, slices.Max(rep.Latencies))
	}
	if slowest >= lockSleep/2 {
		t.Fatalf("the slowest caller took %v with lock_sleep %v: the waiters were not woken by the release", slowest, lockSleep)
	}
}

// BenchmarkDL7ColdStampede: rounds of 4 processes × 50 goroutines on one
// cold key each, the creator 50ms, default settings (lock_sleep
// DefaultLockSleep). Metrics: the callers' p50 and p99 latency in ms, over
// every caller of every round (the goal: p99 ≤ the creator + 15ms), and the
// creator's runs per round (the goal: 1).
//
//	go test -run '^$' -bench BenchmarkDL7ColdStampede -benchtime 20x ./backends/redis/
func BenchmarkDL7ColdStampede(b *testing.B) {
	addr := testserver.SharedRedis(b).Addr()
	raw := rawClient(b, addr)
	kids := startCold(b, addr, redis.DefaultLockSleep)
	var (
		all      []time.Duration
		creators int
		rounds   int
	)
	for b.Loop() {
		key := testutil.Unique(fmt.Sprintf("dl7-bench-%d", rounds))
		for _, rep := range coldRound(b, kids, key) {
			all = append(all, rep.Latencies...)
		}
		n, err := raw.Get(testutil.Context(b), key+":creators").Int()
		if err != nil {
			b.Fatal(err)
		}
		creators += n
		rounds++
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(creators)/float64(rounds), "creators/op")
}

// pubsubConns counts the server's pub/sub connections, for WaitFor.
func pubsubConns(ctx context.Context, addr string) (int, error) {
	v, err := testserver.Do(ctx, addr, "CLIENT", "LIST", "TYPE", "pubsub")
	if err != nil {
		return 0, err
	}
	s, _ := v.(string)
	return strings.Count(s, "\n"), nil
}

// TestCloseEndsReleaseSubscription: Close, while a lock waiter still waits,
// returns and closes the pub/sub connection the waiter subscribed on —
// on a client New made, and on one given to NewFromClient that does not
// bound its reads by the context.
func TestCloseEndsReleaseSubscription(t *testing.T) {
	srv := testserver.StartRedis(t)
	holder := newTestBackend(t, srv.Addr(), redis.Options{})
	opts := redis.Options{LockSleep: 20 * time.Millisecond}
	for name, open := range map[string]func() (*redis.Backend, error){
		"New": func() (*redis.Backend, error) {
			o := opts
			o.Client = &goredis.Options{Addr: srv.Addr()}
			return redis.New(o)
		},
		"NewFromClient": func() (*redis.Backend, error) { return redis.NewFromClient(rawClient(t, srv.Addr()), opts) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testutil.Context(t))
			defer cancel()
			b, err := open()
			if err != nil {
				t.Fatal(err)
			}
			key := testutil.Unique("close")
			h := holder.NewMutex(key)
			testutil.MustLock(t, h)
			defer h.Unlock(context.Background()) //nolint:errcheck
			done := testutil.LockAsync(ctx, b.NewMutex(key))
			conns := func(want int) error {
				return testserver.WaitFor(10*time.Second, fmt.Sprintf("%d pub/sub connections", want), func(ctx context.Context) error {
					if n, err := pubsubConns(ctx, srv.Addr()); err != nil || n != want {
						return fmt.Errorf("%w: %d (%v)", testserver.ErrNotYet, n, err)
					}
					return nil
				})
			}
			if err := conns(1); err != nil {
				t.Fatal(err)
			}
			closed := make(chan error, 1)
			go func() { closed <- b.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close with a lock waiter waiting did not return")
			}
			if err := conns(0); err != nil {
				t.Fatalf("after Close: %v", err)
			}
			cancel()
			if err := <-done; err == nil {
				t.Fatal("the waiter took the held lock")
			}
		})
	}
}

// wantWokenBySubscription waits for a waiter with lock_sleep a minute to
// take its lock (done), which only its subscription coming back can make
// happen within 20 s.
func wantWokenBySubscription(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiter was not woken when its subscription came back (lock_sleep is a minute)")
	}
}

// waitingBehindProxy starts a server and a fault proxy in front of it
// (proxy); a lock held on the server directly (h); and a waiter for it,
// with a logger (rec) and lock_sleep a minute, through the proxy,
// subscribed to its release: w, waiting until done, for as long as ctx
// lasts.
func waitingBehindProxy(t *testing.T, ctx context.Context, name string) (proxy *testserver.FaultProxy, h, w *redis.Mutex, rec *testutil.LogRecorder, done <-chan error) {
	t.Helper()
	srv := testserver.StartRedis(t)
	proxy = testserver.StartFaultProxy(t, srv.Addr())
	holder := newTestBackend(t, srv.Addr(), redis.Options{})
	rec = testutil.NewLogRecorder()
	waiter := newTestBackend(t, proxy.Addr(), redis.Options{LockSleep: time.Minute, Logger: rec.Logger()})
	key := testutil.Unique(name)
	h = holder.NewMutex(key)
	testutil.MustLock(t, h)
	w = waiter.NewMutex(key)
	done = testutil.LockAsync(ctx, w)
	waitForChannels(t, srv.Addr(), 1, "the waiter's subscription")
	return proxy, h, w, rec, done
}

// TestSilentReleaseSubscriptionReplaced: while a lock waiter waits, a
// subscription to releases that hears nothing, not even the answer to a
// ping (the network drops every byte), is replaced by a new connection
// within a few health-check intervals, and the loss is logged; once the
// network is back, the new subscription's confirmation wakes the waiter,
// which takes the lock released meanwhile (lock_sleep is a minute), and its
// return is logged.
func TestSilentReleaseSubscriptionReplaced(t *testing.T) {
	ctx := testutil.Context(t)
	proxy, h, w, rec, done := waitingBehindProxy(t, ctx, "silent")
	before := proxy.Accepted()
	proxy.Blackhole()
	if err := testserver.WaitFor(8*time.Second, "a new connection for the silent subscription, and a warning", func(context.Context) error {
		if proxy.Accepted() == before || len(rec.Lines("WARN", "lost the subscription to lock releases")) == 0 {
			return fmt.Errorf("%w: %d connections (%d before), logged %q", testserver.ErrNotYet, proxy.Accepted(), before, rec.Lines())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.Unlock(ctx); err != nil { // the message is lost to the waiter
		t.Fatal(err)
	}
	if err := proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	wantWokenBySubscription(t, done)
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if lines := rec.Lines("INFO", "subscription to lock releases restored"); len(lines) != 1 {
		t.Errorf("the return logged as %q; want one line at INFO", rec.Lines())
	}
}

// TestReleaseSubscriptionStaysUpWhileWaiting: a lock waiter's subscription
// on a server that is up but publishes nothing is not taken for a silent
// one: the health check pings it, and the answers count as hearing from the
// server, so over several intervals no loss is logged and no new connection
// is made (a false loss would wake every waiter and reconnect).
func TestReleaseSubscriptionStaysUpWhileWaiting(t *testing.T) {
	ctx := testutil.Context(t)
	short, cancel := context.WithCancel(ctx)
	proxy, h, _, rec, done := waitingBehindProxy(t, short, "quiet")
	before := proxy.Accepted()
	// Health checks are a second apart; a subscription without pings, or
	// with their answers unheard, would be replaced after two.
	time.Sleep(3500 * time.Millisecond)
	cancel()
	<-done
	if n := proxy.Accepted(); n != before || len(rec.Lines("WARN")) != 0 {
		t.Fatalf("on a quiet server: %d new connections, logged %q", n-before, rec.Lines())
	}
	if err := h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseSubscriptionRefusedWaitersPoll: when the server refuses the
// connection the release subscription needs while the pool's connections
// still work (here, the waiter's password was changed after its pool
// connected), the failed SUBSCRIBE is logged at debug level and the waiter
// falls back to polling: it takes the lock once released.
func TestReleaseSubscriptionRefusedWaitersPoll(t *testing.T) {
	ctx := testutil.Context(t)
	srv := testserver.StartRedis(t)
	if out := testserver.RedisCLI(t, srv.Addr(), "ACL", "SETUSER", "app", "on", ">old-secret-pw", "~*", "&*", "+@all"); out != "OK" {
		t.Fatalf("ACL SETUSER: %s", out)
	}
	rec := testutil.NewLogRecorder()
	waiter, err := redis.New(redis.Options{
		Client:    &goredis.Options{Addr: srv.Addr(), Username: "app", Password: "old-secret-pw", PoolSize: 1},
		LockSleep: 20 * time.Millisecond,
		Logger:    rec.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waiter.Close() })
	if _, _, err := waiter.Get(ctx, testutil.Unique("warm")); err != nil { // the pool's connection
		t.Fatal(err)
	}
	if out := testserver.RedisCLI(t, srv.Addr(), "ACL", "SETUSER", "app", "resetpass", ">new-secret-pw"); out != "OK" {
		t.Fatalf("ACL SETUSER: %s", out)
	}
	holder := newTestBackend(t, srv.Addr(), redis.Options{})
	key := testutil.Unique("refused")
	h := holder.NewMutex(key)
	testutil.MustLock(t, h)
	w := waiter.NewMutex(key)
	done := testutil.LockAsync(ctx, w)
	if err := testserver.WaitFor(10*time.Second, "the failed subscription logged", func(context.Context) error {
		if len(rec.Lines("DEBUG", "lock release subscription command failed; waiters poll")) == 0 {
			return fmt.Errorf("%w: logged %q", testserver.ErrNotYet, rec.Lines())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := pubsubClients(t, srv.Addr()); n != 0 {
		t.Fatalf("%d pub/sub connections; want none", n)
	}
	if err := h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the polling waiter: %v", err)
	}
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range rec.Lines() {
		if strings.Contains(l, "secret-pw") {
			t.Errorf("a log line shows a password: %s", l)
		}
	}
}
