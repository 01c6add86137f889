package memcached

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// zeroCounters sets each key to "0", for incr.
func zeroCounters(t testing.TB, b *Backend, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := b.Client().Set(itemOf(k, "0")); err != nil {
			t.Fatal(err)
		}
	}
}

// counter reads a number stored by incr.
func counter(t testing.TB, b *Backend, key string) uint64 {
	t.Helper()
	it, err := b.Client().Get(key)
	if err != nil {
		t.Fatalf("counter %q: %v", key, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(it.Value)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDL1CrossProcessStampede: 4 processes × 50 goroutines call GetOrCreate
// on one cold key with distributed_lock; the creator runs once in all, as
// counted on the server. (Without the distributed lock each process would
// elect its own creator: 4 runs.)
func TestDL1CrossProcessStampede(t *testing.T) {
	const procs = 4
	srv := servers(t, 3)
	key := testutil.Unique("dl1")
	b := newBackend(t, dogpile.Args{"url": srv})
	zeroCounters(t, b, key+"-arrived", key+"-creators")
	var children []*testutil.Child
	for range procs {
		children = append(children, testutil.StartChild(t, "stampede",
			"MC_SERVERS="+strings.Join(srv, ","), "MC_KEY="+key, "MC_TOTAL="+strconv.Itoa(procs*stampedeGoroutines)))
	}
	for _, c := range children {
		c.Expect("ready", time.Minute)
	}
	for _, c := range children {
		c.Send("go")
	}
	for _, c := range children {
		c.Expect("done", time.Minute)
		if err := c.Wait(time.Minute); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	if n := counter(t, b, key+"-arrived"); n != procs*stampedeGoroutines {
		t.Fatalf("%d callers arrived, want %d", n, procs*stampedeGoroutines)
	}
	if n := counter(t, b, key+"-creators"); n != 1 {
		t.Fatalf("the creator ran %d times across %d processes × %d goroutines; want 1", n, procs, stampedeGoroutines)
	}
}

// TestDL2DeadHolderExpires: a process that holds a key's lock is killed
// (SIGKILL: it never releases); the lock blocks others until lock_timeout,
// then a region takes it and creates the value.
func TestDL2DeadHolderExpires(t *testing.T) {
	t.Parallel() // mostly waiting: for a lock or a server to expire or come back
	srv := servers(t, 1)
	key := testutil.Unique("dl2")
	const lockTimeout = 2 * time.Second
	c := testutil.StartChild(t, "hold", "MC_SERVERS="+srv[0], "MC_KEY="+key, "MC_LOCK_TIMEOUT=2")
	c.Expect("locked", time.Minute)
	locked := time.Now()
	c.Kill()

	b := newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true, "lock_timeout": 2})
	ctx := testutil.Context(t)
	if ok, err := b.Mutex(key).TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock of the dead holder's lock = %v, %v; want false (still held)", ok, err)
	}
	r := newRegion(t, b)
	runs := 0
	v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) { runs++; return "after", nil })
	waited := time.Since(locked)
	if err != nil || v != "after" || runs != 1 {
		t.Fatalf("GetOrCreate after the holder died = %q, %v (%d runs)", v, err, runs)
	}
	// A lock lives from lock_timeout to two seconds more (Memcached counts
	// whole seconds); the waiter's last pause comes on top.
	if waited < lockTimeout-100*time.Millisecond || waited > lockTimeout+2500*time.Millisecond {
		t.Fatalf("the dead holder's lock ended %v after it was taken; want about lock_timeout (%v)", waited, lockTimeout)
	}
	t.Logf("the dead holder's lock ended %v after it was taken (lock_timeout %v)", waited.Round(time.Millisecond), lockTimeout)
}

// TestDL2OnlyOwnerReleases: an Unlock by a holder that does not hold the
// lock — never did, or whose lock expired and was taken by another —
// releases nothing.
func TestDL2OnlyOwnerReleases(t *testing.T) {
	t.Parallel() // mostly waiting: for a lock or a server to expire or come back
	b, _ := lockingBackend(t, 1)
	ctx := testutil.Context(t)
	key := testutil.Unique("dl2-owner")
	held := func() bool {
		ok, err := b.Mutex(key).TryLock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return !ok
	}

	a := b.Mutex(key)
	testutil.MustLock(t, a)
	if err := b.Mutex(key).Unlock(ctx); err != nil || !held() {
		t.Fatalf("a never-holder's Unlock (%v) released the lock", err)
	}

	// a's lock expires (a stalled holder), and c takes it.
	c := b.Mutex(key)
	// Polling: the lock expires on the server's clock, which no event reports.
	if err := testserver.WaitFor(5*time.Second, "the successor's TryLock of a 1s lock", func(ctx context.Context) error {
		ok, err := c.TryLock(ctx)
		if err == nil && !ok {
			err = errors.New("still held")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if !held() {
		t.Fatal("the expired holder's late Unlock released the lock its successor holds")
	}
	it, err := b.Client().Get(b.lockKey(key))
	if err != nil || !bytes.Equal(it.Value, c.(*mutex).token) {
		t.Fatalf("lock item = %v, %v; want the successor's token", it, err)
	}
	if err := c.Unlock(ctx); err != nil || held() {
		t.Fatalf("the holder's Unlock (%v) did not release the lock", err)
	}
}

// TestDL3WaitHonoursContext: waiting for a held lock ends with the caller's
// context, for the mutex and for GetOrCreate, and the creator does not run.
func TestDL3WaitHonoursContext(t *testing.T) {
	srv := servers(t, 1)
	args := dogpile.Args{"url": srv, "distributed_lock": true}
	holderBackend := newBackend(t, args)
	ctx := testutil.Context(t)
	key := testutil.Unique("dl3")
	holder := holderBackend.Mutex(key)
	testutil.MustLock(t, holder)

	// Cancelled while waiting.
	b := newBackend(t, args)
	cctx, cancel := context.WithCancel(ctx)
	errc := testutil.LockAsync(cctx, b.Mutex(key))
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock cancelled while waiting: %v; want context.Canceled", err)
	}

	// A region in "another process": its caller gives up at its deadline.
	// The creation it started goes on, detached from the caller, and runs
	// its creator once the lock is released — not before.
	r := newRegion(t, b)
	var released atomic.Bool
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := dogpile.GetOrCreate(short, r, key, func(context.Context) (string, error) {
		if !released.Load() {
			t.Error("the creator ran while another process held the lock")
		}
		return "made", nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetOrCreate while the lock is held elsewhere, 200ms context: %v; want DeadlineExceeded", err)
	}

	released.Store(true)
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
		t.Error("a second creator ran: the first caller's creation should have gone on")
		return "second", nil
	})
	if err != nil || v != "made" {
		t.Fatalf("GetOrCreate after the release = %q, %v; want the first creation's value", v, err)
	}
}

// TestDL4LockKeysApart: a lock lives under its own key, in a namespace value
// keys cannot enter; values and locks of the same key leave each other
// alone, up to the longest key; a released lock is a marker that expires
// within releasedExpiry.
func TestDL4LockKeysApart(t *testing.T) {
	srv := servers(t, 1)
	b := newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true})
	ctx := testutil.Context(t)
	raw := rawClient(srv[0])
	for _, key := range []string{testutil.Unique("dl4"), testutil.Unique("dl4") + strings.Repeat("x", MaxKeyLen-11)} {
		key = key[:min(len(key), MaxKeyLen)]
		m := b.Mutex(key)
		if ok, err := m.TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock(%d-byte key) = %v, %v", len(key), ok, err)
		}
		lk := b.lockKey(key)
		if !strings.HasPrefix(lk, DefaultLockPrefix) || len(lk) > MaxKeyLen {
			t.Fatalf("lock key %q (%d bytes)", lk, len(lk))
		}
		if it, err := raw.Get(lk); err != nil || !bytes.Equal(it.Value, m.(*mutex).token) {
			t.Fatalf("the lock is not under %q: %v", lk, err)
		}
		if _, err := raw.Get(key); err == nil {
			t.Fatal("taking the lock wrote the value key")
		}
		if err := b.Set(ctx, lk, []byte("x")); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("Set on the lock's key: %v; want ErrInvalidKey (reserved)", err)
		}
		if err := b.Set(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.Mutex(key).TryLock(ctx); ok {
			t.Fatal("setting and deleting the value released the lock")
		}
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		// Released: the item holds the released marker, which the next
		// holder takes over.
		if it, err := raw.Get(lk); err == nil && !bytes.Equal(it.Value, releasedValue) {
			t.Fatalf("after Unlock the lock item holds %q", it.Value)
		}
		// The marker only tidies up: it goes within a second or two.
		if ttl, ok := testserver.MemcachedTTL(t, srv[0], lk); ok && (ttl < 0 || ttl > releasedExpiry*time.Second) {
			t.Fatalf("after Unlock the released lock has a TTL of %v on the server; want at most %ds", ttl, releasedExpiry)
		}
		next := b.Mutex(key)
		testutil.MustLock(t, next)
		if err := next.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"a key", strings.Repeat("k", MaxKeyLen+1)} {
		if _, err := b.Mutex(bad).TryLock(ctx); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("TryLock of an invalid key: %v; want ErrInvalidKey", err)
		}
	}
	short, long := "k", strings.Repeat("k", MaxKeyLen)
	if strings.Contains(b.lockKey(short), "#") || !strings.Contains(b.lockKey(long), "#") {
		t.Fatalf("lock keys %q and %q: want the short key verbatim and the long one hashed", b.lockKey(short), b.lockKey(long))
	}
}

func TestLockArgs(t *testing.T) {
	for _, bad := range []any{0, "500ms", -1, "soon"} {
		if _, err := dogpile.NewBackend("memcached", dogpile.Args{"url": "127.0.0.1:1", "lock_timeout": bad}); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Errorf("lock_timeout %v: %v; want ErrInvalidArgument", bad, err)
		}
	}
	b, err := New(Options{Servers: []string{"127.0.0.1:1"}, DistributedLock: true, LockTimeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.lockExpire; got != 4 {
		t.Fatalf("a 1.5s lock_timeout is sent as %ds; want 4 (rounded up, and two seconds for the server's clock)", got)
	}
	// Memcached reads an exptime over 30 days as a Unix time.
	for _, d := range []time.Duration{31 * 24 * time.Hour, maxRelativeExpiry} {
		if _, err := New(Options{Servers: []string{"127.0.0.1:1"}, LockTimeout: d}); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Fatalf("a lock_timeout of %v: %v; want ErrInvalidArgument", d, err)
		}
	}
	b, err = New(Options{Servers: []string{"127.0.0.1:1"}, DistributedLock: true, LockTimeout: maxRelativeExpiry - 2*time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.lockExpire; time.Duration(got)*time.Second != maxRelativeExpiry {
		t.Fatalf("the longest lock_timeout is sent as %ds; want 30 days", got)
	}
}

// TestDL4LockPrefix: lock_prefix begins every lock key, and value keys that
// begin with it are refused (keys with the default prefix are then values
// like any others); a lock still lives on its value's server, and backends
// with the same prefix exclude each other.
func TestDL4LockPrefix(t *testing.T) {
	const prefix = "app1:lk:"
	srv := servers(t, 3)
	args := dogpile.Args{"url": srv, "distributed_lock": true, "lock_prefix": prefix}
	b := newBackend(t, args)
	ctx := testutil.Context(t)
	key := testutil.Unique("prefix")
	m := b.Mutex(key)
	testutil.MustLock(t, m)
	lk := b.lockKey(key)
	if !strings.HasPrefix(lk, prefix) {
		t.Fatalf("lock key %q does not begin with lock_prefix %q", lk, prefix)
	}
	if it, err := rawClient(b.Selector().Server(key)).Get(lk); err != nil || !bytes.Equal(it.Value, m.(*mutex).held()) {
		t.Fatalf("the lock is not on its value's server under %q: %v", lk, err)
	}
	if ok, err := newBackend(t, args).Mutex(key).TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock by another backend with the same lock_prefix = %v, %v; want false (held)", ok, err)
	}
	if err := b.Set(ctx, prefix+"x", []byte("v")); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Set of a key beginning with lock_prefix: %v; want ErrInvalidKey", err)
	}
	if err := b.Set(ctx, DefaultLockPrefix+"x", []byte("v")); err != nil {
		t.Fatalf("Set of a key beginning with the default prefix, with another lock_prefix: %v", err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"a prefix", strings.Repeat("p", maxLockPrefix+1)} {
		var ae *dogpile.ArgError
		if _, err := New(Options{Servers: srv, DistributedLock: true, LockPrefix: bad}); !errors.As(err, &ae) || ae.Name != "lock_prefix" {
			t.Errorf("LockPrefix %q: %v; want an ArgError naming lock_prefix", bad, err)
		}
	}
}

// TestDL7LockPause: a waiter's pauses start at about a millisecond, grow
// with the time it has waited (an eighth of it, give or take a quarter) and
// never exceed lock_sleep, so a waiter learns of a release soon after it:
// after a 48ms wait, within 7.5ms.
func TestDL7LockPause(t *testing.T) {
	const sleep = 50 * time.Millisecond
	for _, c := range []struct {
		waited, sleep, lo, hi time.Duration
	}{
		{0, sleep, 750 * time.Microsecond, 1250 * time.Microsecond},
		{8 * time.Millisecond, sleep, 750 * time.Microsecond, 1250 * time.Microsecond},
		{48 * time.Millisecond, sleep, 4500 * time.Microsecond, 7500 * time.Microsecond},
		{10 * time.Second, sleep, sleep * 3 / 4, sleep},
		{0, 100 * time.Microsecond, 75 * time.Microsecond, 100 * time.Microsecond},
	} {
		seen := map[time.Duration]bool{}
		for range 1000 {
			p := lockPause(c.waited, c.sleep)
			if p < c.lo || p > c.hi {
				t.Fatalf("lockPause(%v, lock_sleep %v) = %v; want %v to %v", c.waited, c.sleep, p, c.lo, c.hi)
			}
			seen[p] = true
		}
		if len(seen) < 10 {
			t.Errorf("lockPause(%v, %v): %d distinct pauses in 1000; want jitter", c.waited, c.sleep, len(seen))
		}
	}
}

// TestDL7WaiterTriesFewTimes: a waiter's pauses grow with the time it has
// waited since Lock began, not since its last try: in 500ms of waiting for
// a held lock (lock_sleep out of the way) it tries the lock at most 57
// times — each pause is at least 3/4 of an eighth of the time waited, and
// timers never fire early — where a waiter that paused about a millisecond
// each time would try hundreds of times. Counted on the server: each try
// that finds the lock held reads it once.
func TestDL7WaiterTriesFewTimes(t *testing.T) {
	srv := servers(t, 1)
	b := newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true, "lock_timeout": 60, "lock_sleep": "10s"})
	key := testutil.Unique("dl7-tries")
	testutil.MustLock(t, b.Mutex(key))
	reads := func() int {
		n, err := strconv.Atoi(testserver.MemcachedStats(t, srv[0])["cmd_get"])
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := reads()
	ctx, cancel := context.WithTimeout(testutil.Context(t), 500*time.Millisecond)
	defer cancel()
	if err := b.Mutex(key).Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held lock, 500ms context: %v; want DeadlineExceeded", err)
	}
	tries := reads() - before
	if tries < 10 || tries > 57 {
		t.Fatalf("a waiter tried a held lock %d times in 500ms; want at most 57 (pauses growing with the time waited), and some", tries)
	}
	t.Logf("%d tries in 500ms", tries)
}

// dl7Procs is the number of processes in DL7.
const dl7Procs = 4

// startDL7 starts DL7's processes on srv, with the backend's defaults.
func startDL7(t testing.TB, srv string) []*testutil.Child {
	t.Helper()
	var children []*testutil.Child
	for range dl7Procs {
		children = append(children, testutil.StartChild(t, "dl7", "MC_SERVERS="+srv))
	}
	for _, c := range children {
		c.Expect("ready", time.Minute)
	}
	return children
}

// dl7Round lets every child's callers loose on the cold key and returns
// every caller's latency, and the creator's runs as counted on the server.
func dl7Round(t testing.TB, b *Backend, children []*testutil.Child, key string) (lat []time.Duration, creators uint64) {
	t.Helper()
	zeroCounters(t, b, key+"-creators")
	for _, c := range children {
		c.Send("go " + key)
	}
	for _, c := range children {
		line := c.Next(time.Minute)
		us, ok := strings.CutPrefix(line, "lat ")
		if !ok {
			t.Fatalf("a DL7 child said %q", line)
		}
		for _, f := range strings.Split(us, ",") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Duration(n)*time.Microsecond)
		}
	}
	return lat, counter(t, b, key+"-creators")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// TestDL7ColdStampede: 4 processes × 50 goroutines on one cold key, a 50ms
// creator, the backend's default settings: the creator runs once in all
// (counted on the server), and every caller gets its value. (How soon the
// waiters have it is BenchmarkDL7ColdStampede's.)
func TestDL7ColdStampede(t *testing.T) {
	srv := servers(t, 1)
	b := newBackend(t, dogpile.Args{"url": srv})
	lat, creators := dl7Round(t, b, startDL7(t, srv[0]), testutil.Unique("dl7"))
	if creators != 1 {
		t.Fatalf("the creator ran %d times for %d × %d callers; want 1", creators, dl7Procs, stampedeGoroutines)
	}
	if len(lat) != dl7Procs*stampedeGoroutines {
		t.Fatalf("%d callers answered; want %d", len(lat), dl7Procs*stampedeGoroutines)
	}
	slices.Sort(lat)
	t.Logf("callers: p50 %v, p99 %v, slowest %v (creator %v)", percentile(lat, .5), percentile(lat, .99), lat[len(lat)-1], dl7Creation)
}

// BenchmarkDL7ColdStampede: DL7's stampede, once per iteration on a new
// cold key: 4 processes × 50 goroutines, a 50ms creator, the backend's
// default settings. It reports the callers' latency (p50, p99, slowest, in
// ms) over every iteration, and the creator's runs per iteration.
//
//	go test -run '^$' -bench DL7 -benchtime 30x ./backends/memcached/
func BenchmarkDL7ColdStampede(b *testing.B) {
	srv := servers(b, 1)
	be := newBackend(b, dogpile.Args{"url": srv})
	children := startDL7(b, srv[0])
	var all []time.Duration
	var creators uint64
	i := 0
	for b.Loop() {
		lat, n := dl7Round(b, be, children, fmt.Sprintf("dl7-bench-%d-%d", time.Now().UnixNano(), i))
		all, creators = append(all, lat...), creators+n
		i++
	}
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(all, .5)), "p50-ms")
	b.ReportMetric(ms(percentile(all, .99)), "p99-ms")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms")
	b.ReportMetric(float64(creators)/float64(i), "creators/op")
}

// plantReleased leaves m's lock released, as an Unlock leaves it, but for a
// minute (an Unlock's marker goes within a second or two, and the lock is
// then taken by add): a lock that the next holder takes over by cas.
func plantReleased(t *testing.T, srv string, m *mutex) {
	t.Helper()
	if err := rawClient(srv).Set(&memcache.Item{Key: m.lockKey, Value: releasedValue, Expiration: 60}); err != nil {
		t.Fatal(err)
	}
}

// wantHolder fails the test unless m's lock on srv holds m's token; why
// says what another value would mean.
func wantHolder(t *testing.T, srv string, m *mutex, why string) {
	t.Helper()
	token := m.held()
	if token == nil {
		t.Fatalf("the mutex does not hold its lock: %s", why)
	}
	wantStored(t, srv, m.lockKey, string(token), why)
}

type tryResult struct {
	ok  bool
	err error
}

// goTryLock runs m.TryLock in a goroutine of its own, for a gate to hold.
func goTryLock(ctx context.Context, m *mutex) <-chan tryResult {
	res := make(chan tryResult, 1)
	go func() {
		ok, err := m.TryLock(ctx)
		res <- tryResult{ok, err}
	}()
	return res
}

// TestDL5LockTakenOverAReleaseLivesLockTimeout: a lock taken over a
// released one (by cas, not add) lives lock_timeout (and the server clock's
// two seconds) from its taking: neither the second a released marker has
// left nor the marker's own expiry.
func TestDL5LockTakenOverAReleaseLivesLockTimeout(t *testing.T) {
	b, srv := lockingBackend(t, 5)
	m := b.Mutex(testutil.Unique("takeover")).(*mutex)
	plantReleased(t, srv, m)
	testutil.MustLock(t, m)
	wantHolder(t, srv, m, "TryLock did not take over the released lock")
	if ttl, ok := testserver.MemcachedTTL(t, srv, m.lockKey); !ok || ttl < 5*time.Second || ttl > 7*time.Second {
		t.Fatalf("a lock taken over a released one has a TTL of %v on the server (%v); want lock_timeout (5s) to 7s", ttl, ok)
	}
}

// TestDL2TryLockTakesALockGoneAfterItsAdd: a released lock that goes (its
// marker expires) after TryLock's add found it there, and before TryLock
// reads it, is free: TryLock adds it again and takes it, instead of
// reporting held a lock that no one holds.
func TestDL2TryLockTakesALockGoneAfterItsAdd(t *testing.T) {
	srv := servers(t, 1)[0]
	g := newGate()
	m := gatedMutex(t, srv, testutil.Unique("gone-after-add"), g)
	plantReleased(t, srv, m)
	g.armFunc(passWrite, readOf(m.lockKey)) // the read after the refused add
	res := goTryLock(testutil.Context(t), m)
	g.await(t)
	if err := rawClient(srv).Delete(m.lockKey); err != nil {
		t.Fatal(err)
	}
	close(g.released)
	if got := <-res; !got.ok || got.err != nil {
		t.Fatalf("TryLock of a lock that went between its add and its read = %v, %v; want the lock", got.ok, got.err)
	}
	wantHolder(t, srv, m, "TryLock reported the lock taken, but the server does not hold its token")
}

// TestDL2TryLockLosesTheRaceForARelease: two processes find a lock
// released; the one whose cas comes second is refused and does not hold the
// lock: one holder, the first.
func TestDL2TryLockLosesTheRaceForARelease(t *testing.T) {
	srv := servers(t, 1)[0]
	key := testutil.Unique("release-race")
	g := newGate()
	late := gatedMutex(t, srv, key, g)
	plantReleased(t, srv, late)
	g.arm("cas " + late.lockKey + " ")
	res := goTryLock(testutil.Context(t), late)
	g.await(t) // read the release, not yet swapped
	first := newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true}).Mutex(key).(*mutex)
	testutil.MustLock(t, first)
	close(g.released)
	if got := <-res; got.ok || got.err != nil || late.held() != nil {
		t.Fatalf("the second TryLock to swap the release = %v, %v; want false: the lock is the first one's", got.ok, got.err)
	}
	wantHolder(t, srv, first, "the second swap took the lock from the first")
}

// TestDL2TryLockOverABrokenConnection: the connection breaks under
// TryLock's write of the lock. If the write reached the server (the reply
// is lost), TryLock reads the lock, finds its own token and holds the lock,
// instead of leaving it taken by no one until it expires; if it did not,
// and another process took the lock meanwhile, TryLock does not hold it.
func TestDL2TryLockOverABrokenConnection(t *testing.T) {
	srv := servers(t, 1)[0]
	for _, c := range []struct {
		name     string
		released bool // the lock is released, so the write is a cas, else an add
		fault    gateFault
		taken    bool // another process takes the lock while the write is held
	}{
		{"add reply lost", false, loseReply, false},
		{"cas reply lost", true, loseReply, false},
		{"cas dropped, lock taken meanwhile", true, dropWrite, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := testutil.Unique("broken-lock")
			g := newGate()
			m := gatedMutex(t, srv, key, g)
			verb := "add "
			if c.released {
				plantReleased(t, srv, m)
				verb = "cas "
			}
			p := []byte(verb + m.lockKey + " ")
			g.armFunc(c.fault, func(b []byte) bool { return bytes.HasPrefix(b, p) })
			res := goTryLock(testutil.Context(t), m)
			g.await(t)
			var other *mutex
			if c.taken {
				other = newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true}).Mutex(key).(*mutex)
				testutil.MustLock(t, other)
			}
			close(g.released)
			got := <-res
			if got.err != nil || got.ok == c.taken {
				t.Fatalf("TryLock = %v, %v; want %v", got.ok, got.err, !c.taken)
			}
			if c.taken {
				wantHolder(t, srv, other, "the TryLock whose write was lost took the lock from the process that took it meanwhile")
			} else {
				wantHolder(t, srv, m, "the lock TryLock took is not its own")
			}
		})
	}
}

// TestDL3EndedContextTakesNoLock: a caller whose context has ended takes no
// lock: TryLock and Lock return the context's error, and the server holds
// no lock item for the key.
func TestDL3EndedContextTakesNoLock(t *testing.T) {
	b, srv := lockingBackend(t, 5)
	m := b.Mutex(testutil.Unique("ended")).(*mutex)
	ctx, cancel := context.WithCancel(testutil.Context(t))
	cancel()
	if ok, err := m.TryLock(ctx); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("TryLock with an ended context = %v, %v; want context.Canceled", ok, err)
	}
	if err := m.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with an ended context: %v; want context.Canceled", err)
	}
	if m.held() != nil || testserver.MemcachedHas(t, srv, m.lockKey) {
		t.Fatal("a caller whose context had ended took the lock")
	}
}

// TestDL2UnlockLeavesALockTakenBetweenReadAndSwap: a holder's lock expires
// and another process takes it between Unlock's read (which found the lock
// its holder's) and its swap to the released marker: the swap is refused,
// the other's lock stays, and Unlock returns no error (there is nothing
// left to release).
func TestDL2UnlockLeavesALockTakenBetweenReadAndSwap(t *testing.T) {
	srv := servers(t, 1)[0]
	key := testutil.Unique("unlock-race")
	g := newGate()
	m := gatedMutex(t, srv, key, g)
	testutil.MustLock(t, m)
	g.armFunc(passWrite, storageOf(m.lockKey)) // the release's write, whatever its command
	errc := testutil.Async(func() error { return m.Unlock(testutil.Context(t)) })
	g.await(t)
	other := lostTo(t, srv, key)
	close(g.released)
	if err := <-errc; err != nil {
		t.Fatalf("Unlock of a lock taken by another since its read: %v; want nil", err)
	}
	wantHolder(t, srv, other, "a late Unlock released the lock another process had taken")
}

// TestDL2UnlockOverABrokenConnection: the connection breaks under Unlock's
// swap. Whether the swap reached the server or not, Unlock returns no
// error and the lock is released: a swap that was not made is sent again.
func TestDL2UnlockOverABrokenConnection(t *testing.T) {
	srv := servers(t, 1)[0]
	for name, fault := range map[string]gateFault{"reply lost": loseReply, "swap dropped": dropWrite} {
		t.Run(name, func(t *testing.T) {
			g := newGate()
			m := gatedMutex(t, srv, testutil.Unique("broken-unlock"), g)
			testutil.MustLock(t, m)
			g.armFunc(fault, storageOf(m.lockKey))
			close(g.released)
			if err := m.Unlock(testutil.Context(t)); err != nil {
				t.Fatalf("Unlock over a broken connection: %v", err)
			}
			// The released marker, unless it has expired already.
			if it, err := rawClient(srv).Get(m.lockKey); err == nil && !bytes.Equal(it.Value, releasedValue) {
				t.Fatalf("after Unlock the lock holds %q; want it released", it.Value)
			} else if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
				t.Fatal(err)
			}
		})
	}
}
