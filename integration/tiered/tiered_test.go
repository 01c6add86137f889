package tiered_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/codec"
	"github.com/dogpile-go/dogpile/dogpiletest"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/tiered"
)

// TestTierConformance runs the backend conformance suite (RD1's) against a
// tier in front of Redis, with and without the distributed lock.
func TestTierConformance(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	for _, lock := range []bool{false, true} {
		t.Run("lock="+strconv.FormatBool(lock), func(t *testing.T) {
			dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
				return newNode(t, addr, testutil.Unique("conformance"), nodeConfig{lock: lock}).tier
			}, dogpiletest.WithShortLease(func(t *testing.T) dogpile.Backend {
				return newNode(t, addr, testutil.Unique("conformance"), nodeConfig{lock: lock, lockTimeout: 300 * time.Millisecond}).tier
			}))
		})
	}
}

func mustGet(t *testing.T, b dogpile.Backend, key string) ([]byte, bool) {
	t.Helper()
	v, ok, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, ok
}

func wantValue(t *testing.T, b dogpile.Backend, key, want string) {
	t.Helper()
	v, ok := mustGet(t, b, key)
	if !ok || string(v) != want {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, v, ok, want)
	}
}

func wantMissing(t *testing.T, b dogpile.Backend, key string) {
	t.Helper()
	if v, ok := mustGet(t, b, key); ok {
		t.Fatalf("Get(%q) = %q; want no value", key, v)
	}
}

// TestTierLocalHitsCostNoRoundTrip: after the first read, a key's value —
// or its absence — is served from process memory.
func TestTierLocalHitsCostNoRoundTrip(t *testing.T) {
	ctx := testutil.Context(t)
	n := newNode(t, testserver.SharedRedis(t).Addr(), testutil.Unique("hits"), nodeConfig{})
	k, missing := testutil.Unique("k"), testutil.Unique("missing")
	if err := n.tier.Set(ctx, k, []byte("v")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, n.tier, k, "v") // fills the local copy
	wantMissing(t, n.tier, missing)
	before, reads := n.trips.Count(), n.tier.Stats().RemoteReads
	for range 100 {
		wantValue(t, n.tier, k, "v")
		wantMissing(t, n.tier, missing)
		vals, err := n.tier.GetMulti(ctx, []string{k, missing})
		if err != nil || string(vals[0]) != "v" || vals[1] != nil {
			t.Fatalf("GetMulti = %q, %v", vals, err)
		}
	}
	if d := n.trips.Count() - before; d != 0 {
		t.Fatalf("300 reads of local copies cost %d round trips to Redis, want 0", d)
	}
	if d := n.tier.Stats().RemoteReads - reads; d != 0 {
		t.Fatalf("RemoteReads grew by %d, want 0", d)
	}
	// GetMulti fetches only what is not local, in one call.
	other := testutil.Unique("other")
	before = n.trips.Count()
	vals, err := n.tier.GetMulti(ctx, []string{k, other, missing})
	if err != nil || string(vals[0]) != "v" || vals[1] != nil || vals[2] != nil {
		t.Fatalf("GetMulti = %q, %v", vals, err)
	}
	if d := n.trips.Count() - before; d != 1 {
		t.Fatalf("GetMulti with one key not local cost %d round trips, want 1", d)
	}
}

// TestTierChangesEvictOtherProcesses: Set, Delete, SetMulti and DeleteMulti
// in one process drop the local copies of another, whose local TTL (a
// minute) would otherwise keep serving the old value.
func TestTierChangesEvictOtherProcesses(t *testing.T) {
	ctx := testutil.Context(t)
	addr, ch := testserver.SharedRedis(t).Addr(), testutil.Unique("coherence")
	a, b := newNode(t, addr, ch, nodeConfig{}), newNode(t, addr, ch, nodeConfig{})
	k, k2 := testutil.Unique("k"), testutil.Unique("k2")

	wantMissing(t, b.tier, k) // B keeps "no value"
	if err := a.tier.Set(ctx, k, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t)
	wantValue(t, b.tier, k, "v1")

	if err := a.tier.Set(ctx, k, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t)
	wantValue(t, b.tier, k, "v2")

	if err := a.tier.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t)
	wantMissing(t, b.tier, k)

	wantMissing(t, b.tier, k2)
	if err := a.tier.SetMulti(ctx, map[string][]byte{k: []byte("m1"), k2: []byte("m2")}); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t) // one message for both keys
	wantValue(t, b.tier, k, "m1")
	wantValue(t, b.tier, k2, "m2")

	if err := a.tier.DeleteMulti(ctx, []string{k, k2}); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t)
	wantMissing(t, b.tier, k)
	wantMissing(t, b.tier, k2)

	// A ignores its own messages (it applied them when it made the changes);
	// B counted every one of A's.
	if s := a.tier.Stats(); s.Messages != 0 || s.Published != 5 {
		t.Fatalf("A's stats %+v: want 0 messages received, 5 published", s)
	}
	if s := b.tier.Stats(); s.Messages != 5 || s.Evicted != 7 {
		t.Fatalf("B's stats %+v: want 5 messages naming 7 keys", s)
	}
}

// TestTierWriterReadsItsOwnWrite: a process that changes a key reads the new
// value at once, without waiting for any message.
func TestTierWriterReadsItsOwnWrite(t *testing.T) {
	ctx := testutil.Context(t)
	n := newNode(t, testserver.SharedRedis(t).Addr(), testutil.Unique("own"), nodeConfig{})
	k := testutil.Unique("k")
	for i := range 20 {
		v := "v" + strconv.Itoa(i)
		wantMissingOr(t, n.tier, k, i)
		if err := n.tier.Set(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		wantValue(t, n.tier, k, v)
	}
}

func wantMissingOr(t *testing.T, b dogpile.Backend, key string, i int) {
	t.Helper()
	if i == 0 {
		wantMissing(t, b, key)
		return
	}
	wantValue(t, b, key, "v"+strconv.Itoa(i-1))
}

// TestTierReadersConvergeUnderWrites: readers hammer a key while writers in
// this process and in another change it; once the writes and their messages
// are done, every tier reads what Redis holds. (A read that fetched an old
// value just before a change and kept its copy just after the change's
// eviction would leave a stale copy for the whole TTL.)
func TestTierReadersConvergeUnderWrites(t *testing.T) {
	ctx := testutil.Context(t)
	addr, ch := testserver.SharedRedis(t).Addr(), testutil.Unique("converge")
	a, b := newNode(t, addr, ch, nodeConfig{}), newNode(t, addr, ch, nodeConfig{})
	raw := rawClient(t, addr)
	k := testutil.Unique("k")
	const writes = 200 // per writer
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for _, n := range []*node{a, b, b, b} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := n.tier.Get(ctx, k); err != nil {
					t.Error(err)
					return
				}
				if _, err := n.tier.GetMulti(ctx, []string{k}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w, n := range []*node{a, a, b} {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range writes {
				if err := n.tier.Set(ctx, k, []byte(strconv.Itoa(w*writes+i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	// Each tier hears of the other's writes: A of B's 200, B of A's 400.
	// Counted by the keys the tier dropped for them (Evicted is counted
	// after the drop): the notifier also hands each tier its own messages,
	// which it ignores, so counting deliveries would stop short.
	testutil.Eventually(t, "tier A dropping its copy for each of B's writes", func() bool { return a.tier.Stats().Evicted == writes })
	testutil.Eventually(t, "tier B dropping its copy for each of A's writes", func() bool { return b.tier.Stats().Evicted == 2*writes })
	final, err := raw.Get(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 { // while the readers go on
		for name, n := range map[string]*node{"A": a, "B": b} {
			if v, ok := mustGet(t, n.tier, k); !ok || string(v) != final {
				t.Errorf("round %d: tier %s reads %q, Redis holds %q", round, name, v, final)
			}
		}
	}
	close(stop)
	readers.Wait()
}

// TestTierI6InvalidationAcrossTiers: two regions, each over a tier of its
// own, sharing Redis with SharedInvalidation(0): Invalidate(Hard) in one
// makes the other regenerate as soon as the tier's message arrives, while
// the other's hits (value and invalidation times) stay in process memory.
func TestTierI6InvalidationAcrossTiers(t *testing.T) {
	ctx := testutil.Context(t)
	addr, ch, name := testserver.SharedRedis(t).Addr(), testutil.Unique("i6"), testutil.Unique("region")
	a, b := newNode(t, addr, ch, nodeConfig{}), newNode(t, addr, ch, nodeConfig{})
	ra := mustRegion(t, a.tier, name)
	rb := mustRegion(t, b.tier, name)
	k := testutil.Unique("k")
	create := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, nil }
	}
	if v, err := dogpile.GetOrCreate(ctx, ra, k, create("a1")); err != nil || v != "a1" {
		t.Fatalf("A: GetOrCreate = %q, %v", v, err)
	}
	b.obs.message(t) // A's Set: else it could evict B's copy after B's first read
	if v, err := dogpile.GetOrCreate(ctx, rb, k, create("b1")); err != nil || v != "a1" {
		t.Fatalf("B: GetOrCreate = %q, %v; want A's value", v, err)
	}
	before := b.trips.Count()
	for range 50 {
		if v, err := dogpile.GetOrCreate(ctx, rb, k, create("b1")); err != nil || v != "a1" {
			t.Fatalf("B: GetOrCreate = %q, %v; want A's value", v, err)
		}
	}
	if d := b.trips.Count() - before; d != 0 {
		t.Fatalf("B's 50 hits cost %d round trips; the value and the invalidation times should be local", d)
	}
	if err := ra.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t)
	if v, err := dogpile.GetOrCreate(ctx, rb, k, create("b2")); err != nil || v != "b2" {
		t.Fatalf("B after A's hard invalidation: GetOrCreate = %q, %v; want a regeneration (b2)", v, err)
	}
}

func mustRegion(t *testing.T, b dogpile.Backend, name string, opts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(append([]dogpile.RegionOption{dogpile.WithName(name)}, opts...)...).
		ConfigureBackend(b, dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTierLostSubscriptionClearsAndBypasses: when the subscription drops,
// messages sent meanwhile are lost; the tier clears itself and reads from
// Redis until it is subscribed again.
func TestTierLostSubscriptionClearsAndBypasses(t *testing.T) {
	ctx := testutil.Context(t)
	addr := testserver.SharedRedis(t).Addr()
	ch := testutil.Unique("lost")
	n := newNode(t, addr, ch, nodeConfig{})
	raw := rawClient(t, addr)
	k := testutil.Unique("k")
	raw.Set(ctx, k, "v1", 0)
	wantValue(t, n.tier, k, "v1") // local now

	// Hold the resubscription back, then cut the subscription's connection.
	gate := make(chan struct{})
	n.obs.holdUp.Store(&gate)
	killSubscribers(t, raw, ch)
	n.obs.state(t, false)

	// A change whose message nobody received.
	raw.Set(ctx, k, "v2", 0)
	if n.tier.Stats().Subscribed {
		t.Fatal("Stats.Subscribed is true while the subscription is down")
	}
	reads := n.tier.Stats().RemoteReads
	wantValue(t, n.tier, k, "v2")
	wantValue(t, n.tier, k, "v2")
	if d := n.tier.Stats().RemoteReads - reads; d != 2 {
		t.Fatalf("%d remote reads for 2 reads while unsubscribed; want every read to go to Redis", d)
	}

	close(gate)
	n.obs.state(t, true)
	wantValue(t, n.tier, k, "v2")
	// Local copies are served again: a change made behind the tier's back
	// (no message) is not seen until the TTL.
	raw.Set(ctx, k, "v3", 0)
	wantValue(t, n.tier, k, "v2")
}

// killSubscribers closes the server side of every subscribed connection
// (tests of this package do not run in parallel, so all are this test's).
func killSubscribers(t *testing.T, raw *goredis.Client, channel string) {
	t.Helper()
	ctx := context.Background()
	if n, err := raw.PubSubNumSub(ctx, channel).Result(); err != nil || n[channel] == 0 {
		t.Fatalf("no subscriber on %q (%v)", channel, err)
	}
	if err := raw.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
}

// TestTierServerKilled: with Redis gone the tier serves no local copy (it
// cannot hear changes), reads fail as the remote's do, and the tier comes
// back by itself when Redis does.
func TestTierServerKilled(t *testing.T) {
	ctx := testutil.Context(t)
	p := testserver.StartRedis(t)
	n := newNodeOn(t, &goredis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: time.Second}, testutil.Unique("killed"), nodeConfig{})
	k := testutil.Unique("k")
	if err := n.tier.Set(ctx, k, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, n.tier, k, "v1")

	p.Kill()
	n.obs.state(t, false)
	if v, ok, err := n.tier.Get(ctx, k); err == nil {
		t.Fatalf("Get with Redis down = %q, %v, nil; want the remote's error, not a local copy", v, ok)
	}

	p.Restart(t)
	n.obs.state(t, true)
	wantMissing(t, n.tier, k) // a restarted server without persistence is empty
	if err := n.tier.Set(ctx, k, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, n.tier, k, "v2")
}

// TestTierDL1LockReadsThroughTier: taking the distributed lock drops the
// key's local copy, so that the region's read under the lock — "did another
// process store it meanwhile?" — reaches Redis. Otherwise a copy whose
// eviction message is still on its way would make a second process create
// the value again (DL1 across tiers).
func TestTierDL1LockReadsThroughTier(t *testing.T) {
	ctx := testutil.Context(t)
	addr, ch, name := testserver.SharedRedis(t).Addr(), testutil.Unique("dl1"), testutil.Unique("region")
	a := newNode(t, addr, ch, nodeConfig{lock: true})
	b := newNode(t, addr, ch, nodeConfig{lock: true})
	ra, rb := mustRegion(t, a.tier, name), mustRegion(t, b.tier, name)
	k := testutil.Unique("k")

	// B has learnt that k has no value.
	if _, ok, err := dogpile.Get[string](ctx, rb, k); err != nil || ok {
		t.Fatalf("B: Get = %v, %v; want a miss", ok, err)
	}
	// B hears nothing until the end of the test: A's message is "on its way".
	hold := make(chan struct{})
	b.obs.holdMsgs.Store(&hold)
	defer close(hold)

	if v, err := dogpile.GetOrCreate(ctx, ra, k, func(context.Context) (string, error) { return "a", nil }); err != nil || v != "a" {
		t.Fatalf("A: GetOrCreate = %q, %v", v, err)
	}
	var created atomic.Int32
	v, err := dogpile.GetOrCreate(ctx, rb, k, func(context.Context) (string, error) {
		created.Add(1)
		return "b", nil
	})
	if err != nil || v != "a" || created.Load() != 0 {
		t.Fatalf("B: GetOrCreate = %q, %v after %d creations; want A's value and no creation", v, err, created.Load())
	}

	// The same with a bare mutex: a copy made stale behind the tier's back.
	raw := rawClient(t, addr)
	k2 := testutil.Unique("k2")
	raw.Set(ctx, k2, "old", 0)
	wantValue(t, b.tier, k2, "old")
	raw.Set(ctx, k2, "new", 0)
	wantValue(t, b.tier, k2, "old") // the local copy
	m := b.tier.Mutex(k2)
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	wantValue(t, b.tier, k2, "new")
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTierEvictAll: EvictAll, and a message no tier can read, clear every
// tier on the channel.
func TestTierEvictAll(t *testing.T) {
	ctx := testutil.Context(t)
	addr, ch := testserver.SharedRedis(t).Addr(), testutil.Unique("all")
	a, b := newNode(t, addr, ch, nodeConfig{}), newNode(t, addr, ch, nodeConfig{})
	raw := rawClient(t, addr)
	for i, change := range []func(){
		func() {
			if err := a.tier.EvictAll(ctx); err != nil {
				t.Fatal(err)
			}
		},
		func() { raw.Publish(ctx, ch, "a message from another version") },
	} {
		k, v := testutil.Unique("k"), "v"+strconv.Itoa(i)
		raw.Set(ctx, k, v, 0)
		wantValue(t, b.tier, k, v)
		raw.Set(ctx, k, v+"-changed", 0) // behind the tiers' back
		wantValue(t, b.tier, k, v)
		clears := b.tier.Stats().Clears
		change()
		b.obs.message(t)
		if b.tier.Stats().Clears != clears+1 {
			t.Fatalf("change %d: B's tier was not cleared", i)
		}
		wantValue(t, b.tier, k, v+"-changed")
	}
}

// TestTierOnCluster: the same mechanism on a Redis Cluster, each tier's
// client entering the cluster through a different node.
func TestTierOnCluster(t *testing.T) {
	ctx := testutil.Context(t)
	c := testserver.SharedCluster(t)
	ch := testutil.Unique("cluster")
	nodeOn := func(addr string) *node {
		rb, err := redis.New(redis.Options{Cluster: &goredis.ClusterOptions{Addrs: []string{addr}}, DistributedLock: true, LockSleep: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return finishNode(t, rb, ch, nodeConfig{})
	}
	addrs := c.Addrs()
	a, b := nodeOn(addrs[0]), nodeOn(addrs[len(addrs)-1])
	keys := []string{testutil.Unique("k1"), testutil.Unique("k2"), testutil.Unique("k3"), testutil.Unique("k4")} // spread over slots
	for _, k := range keys {
		wantMissing(t, b.tier, k)
	}
	items := map[string][]byte{}
	for _, k := range keys {
		items[k] = []byte("v-" + k)
	}
	if err := a.tier.SetMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t)
	for _, k := range keys {
		wantValue(t, b.tier, k, "v-"+k)
	}
}

// TestTierOnSentinel: the same mechanism behind Sentinel; when the master is
// killed, the tiers report the subscription lost (and serve nothing local),
// subscribe again on the promoted replica, and changes reach them again.
func TestTierOnSentinel(t *testing.T) {
	ctx := testutil.Context(t)
	s := testserver.StartSentinel(t)
	ch := testutil.Unique("sentinel")
	nodeOn := func() *node {
		rb, err := redis.New(redis.Options{Failover: &goredis.FailoverOptions{
			MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs(),
			DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return finishNode(t, rb, ch, nodeConfig{})
	}
	a, b := nodeOn(), nodeOn()
	k := testutil.Unique("k")
	wantMissing(t, b.tier, k)
	if err := a.tier.Set(ctx, k, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	b.obs.message(t)
	wantValue(t, b.tier, k, "v1")

	master, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	master.Kill()
	b.obs.state(t, false)
	b.obs.state(t, true) // on the new master
	// A's writes fail until its client finds the new master.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := a.tier.Set(ctx, k, []byte("v2"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write succeeded within 20s of the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.obs.message(t)
	wantValue(t, b.tier, k, "v2")
}

// TestNewErrors: bad options are errors that name the option.
func TestNewErrors(t *testing.T) {
	n := &observed{}
	remote := dogpile.NullBackend{}
	for _, tc := range []struct {
		name   string
		remote dogpile.Backend
		opts   tiered.Options
	}{
		{"remote", nil, tiered.Options{Notifier: n}},
		{"Notifier", remote, tiered.Options{}},
		{"MaxEntries", remote, tiered.Options{Notifier: n, MaxEntries: -1}},
		{"TTL", remote, tiered.Options{Notifier: n, TTL: -time.Nanosecond}},
	} {
		_, err := tiered.New(tc.remote, tc.opts)
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) || ae.Name != tc.name {
			t.Errorf("New with bad %s: %v; want an *ArgError naming it", tc.name, err)
		}
	}
}

// TestPublishFailureIsReported: a change that could not be announced is an
// error wrapping ErrPublish (and the transport's error).
func TestPublishFailureIsReported(t *testing.T) {
	ctx := testutil.Context(t)
	addr := testserver.SharedRedis(t).Addr()
	n := newNode(t, addr, testutil.Unique("pubfail"), nodeConfig{})
	failing := errors.New("transport down")
	bad := &failingPublish{Notifier: n.obs, err: failing}
	tb, err := tiered.New(n.remote, tiered.Options{Notifier: bad})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	err = tb.Set(ctx, testutil.Unique("k"), []byte("v"))
	if !errors.Is(err, tiered.ErrPublish) || !errors.Is(err, failing) {
		t.Fatalf("Set with a failing notifier: %v; want ErrPublish wrapping the transport's error", err)
	}
	if s := tb.Stats(); s.PublishErrors != 1 {
		t.Fatalf("PublishErrors = %d, want 1", s.PublishErrors)
	}
}

type failingPublish struct {
	tiered.Notifier
	err error
}

func (f *failingPublish) Publish(context.Context, []byte) error { return f.err }

// TestTierKeepsDecodedValues: the tier keeps the value the region decoded
// beside the bytes (backend.Keeping), so a hit decodes nothing and
// allocates nothing; a change of the key drops what was kept; another
// region sharing the tier never gets the first's value; DecodeEveryHit
// gives every caller a copy of its own.
func TestTierKeepsDecodedValues(t *testing.T) {
	ctx := testutil.Context(t)
	addr := testserver.SharedRedis(t).Addr()
	n := newNode(t, addr, testutil.Unique("keep"), nodeConfig{})
	r, err := dogpile.NewRegion().ConfigureBackend(n.tier)
	if err != nil {
		t.Fatal(err)
	}
	k := testutil.Unique("k")
	create := func(v ...int) func(context.Context) ([]int, error) {
		return func(context.Context) ([]int, error) { return v, nil }
	}
	never := create(9)
	get := func() []int {
		t.Helper()
		v, err := dogpile.GetOrCreate(ctx, r, k, never)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v, err := dogpile.GetOrCreate(ctx, r, k, create(1, 2, 3)); err != nil || !slices.Equal(v, []int{1, 2, 3}) {
		t.Fatalf("GetOrCreate = %v, %v", v, err)
	}
	first := get() // read from Redis, decoded, kept
	if again := get(); !slices.Equal(again, []int{1, 2, 3}) || unsafe.SliceData(again) != unsafe.SliceData(first) {
		t.Fatalf("second hit = %v at %p, first at %p; want the very value kept", again, unsafe.SliceData(again), unsafe.SliceData(first))
	}
	if a := testing.AllocsPerRun(100, func() {
		if _, ok, err := dogpile.Get[[]int](ctx, r, k); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}); a != 0 {
		t.Errorf("a Get of a kept value allocates %v times, want 0", a)
	}
	// GetOrCreate copies the key off the caller's stack before it reaches a
	// backend other than the memory one (so that a key built per call is
	// not allocated on a memory hit): that copy is its hit's one allocation.
	if a := testing.AllocsPerRun(100, func() { get() }); a != 1 {
		t.Errorf("a GetOrCreate hit on a kept value allocates %v times, want 1 (the key's copy)", a)
	}

	if err := r.Set(ctx, k, []int{4, 5}); err != nil {
		t.Fatal(err)
	}
	if v := get(); !slices.Equal(v, []int{4, 5}) {
		t.Fatalf("after Set: %v, want [4 5]", v)
	}

	// Another region on the same tier, with another codec: the entry is not
	// its own (a miss), whatever the first region kept.
	other, err := dogpile.NewRegion(dogpile.WithCodec(codec.JSON)).ConfigureBackend(n.tier)
	if err != nil {
		t.Fatal(err)
	}
	get()
	if v, ok, err := dogpile.Get[[]int](ctx, other, k); ok || err != nil {
		t.Fatalf("a region with another codec got %v, %v, %v; want a miss", v, ok, err)
	}

	// DecodeEveryHit: a copy per caller.
	m := newNode(t, addr, testutil.Unique("copies"), nodeConfig{})
	tb, err := tiered.New(m.remote, tiered.Options{Notifier: m.obs, DecodeEveryHit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	m.obs.state(t, true)
	rc, err := dogpile.NewRegion().ConfigureBackend(tb)
	if err != nil {
		t.Fatal(err)
	}
	x, _, _ := dogpile.Get[[]int](ctx, rc, k)
	y, _, _ := dogpile.Get[[]int](ctx, rc, k)
	if !slices.Equal(x, []int{4, 5}) || !slices.Equal(y, x) || unsafe.SliceData(x) == unsafe.SliceData(y) {
		t.Fatalf("DecodeEveryHit: hits %v at %p and %v at %p; want equal values, separate copies", x, unsafe.SliceData(x), y, unsafe.SliceData(y))
	}
}
