package redis_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// The Mutex's promises that the region's tests can't see, one at a time, on
// real servers. Where a test needs to know how far a waiter has got, it
// counts the waiter's lock attempts on its client (watchAttempts): a waiter
// tries the lock first, then once its subscription to releases is
// confirmed, then at each wake or lock_sleep.

// watchAttempts adds a hook to b's client that reports each of its lock
// attempts (a SET of a lock key) once the server has answered it: the
// attempt's number, counted from 1, on the channel returned.
func watchAttempts(b *redis.Backend) <-chan int64 {
	ch := make(chan int64, 1000)
	b.Client().AddHook(lockAttemptHook{n: new(atomic.Int64), after: func(_ context.Context, n int64) {
		select {
		case ch <- n:
		default: // more than any test here makes
		}
	}})
	return ch
}

// awaitAttempt waits until attempts has reported attempt n.
func awaitAttempt(t *testing.T, attempts <-chan int64, n int64) {
	t.Helper()
	timeout := time.After(testutil.WaitTimeout)
	for {
		select {
		case got := <-attempts:
			if got >= n {
				return
			}
		case <-timeout:
			t.Fatalf("lock attempt %d did not come within %v", n, testutil.WaitTimeout)
		}
	}
}

// TestLockOrWaitReturnsWithoutTaking: LockOrWait on a lock another process
// holds waits, then returns false without taking the lock, so that its
// caller looks for the holder's value first: at the holder's release, heard
// on the subscription (lock_sleep is an hour), leaving the lock free; and,
// hearing of no release, after lock_sleep, leaving the holder its lock.
func TestLockOrWaitReturnsWithoutTaking(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	holders := newTestBackend(t, addr, redis.Options{})

	t.Run("release", func(t *testing.T) {
		waiters := newTestBackend(t, addr, redis.Options{LockSleep: time.Hour})
		attempts := watchAttempts(waiters)
		ctx := testutil.Context(t)
		key := testutil.Unique("lockorwait-release")
		h := holders.NewMutex(key)
		testutil.MustLock(t, h)
		type result struct {
			locked bool
			err    error
		}
		done := make(chan result, 1)
		go func() {
			locked, err := waiters.NewMutex(key).LockOrWait(ctx)
			done <- result{locked, err}
		}()
		// The first attempt, and the one after the subscription was
		// confirmed: from now on, a wake is a release.
		awaitAttempt(t, attempts, 2)
		if err := h.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if r := <-done; r.locked || r.err != nil {
			t.Fatalf("LockOrWait woken by the holder's release = %v, %v; want false, nil", r.locked, r.err)
		}
		if raw.Exists(ctx, h.Key()).Val() != 0 {
			t.Fatal("LockOrWait took the lock at its release; want it left free for the caller to look for the value first")
		}
	})

	t.Run("release, channel already subscribed", func(t *testing.T) {
		// A second waiter of the same backend finds the channel subscribed
		// and confirmed: it tries once more, then takes the next wake for
		// the release it is.
		waiters := newTestBackend(t, addr, redis.Options{LockSleep: time.Hour})
		attempts := watchAttempts(waiters)
		ctx := testutil.Context(t)
		key := testutil.Unique("lockorwait-second")
		h := holders.NewMutex(key)
		testutil.MustLock(t, h)
		type result struct {
			locked bool
			err    error
		}
		done := make(chan result, 2)
		lockOrWait := func() {
			locked, err := waiters.NewMutex(key).LockOrWait(ctx)
			done <- result{locked, err}
		}
		go lockOrWait()
		awaitAttempt(t, attempts, 2) // the first waiter's subscription is confirmed
		go lockOrWait()
		awaitAttempt(t, attempts, 4) // the second's first attempt, and the one after it found the channel confirmed
		if err := h.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if r := <-done; r.locked || r.err != nil {
				t.Fatalf("a LockOrWait woken by the holder's release = %v, %v; want both to return false, nil", r.locked, r.err)
			}
		}
		if raw.Exists(ctx, h.Key()).Val() != 0 {
			t.Fatal("the lock is held after both LockOrWait calls returned")
		}
	})

	t.Run("lock_sleep", func(t *testing.T) {
		waiters := newTestBackend(t, addr, redis.Options{LockSleep: 20 * time.Millisecond})
		ctx := testutil.Context(t)
		key := testutil.Unique("lockorwait-sleep")
		h := holders.NewMutex(key)
		testutil.MustLock(t, h)
		defer h.Unlock(ctx) //nolint:errcheck
		token := raw.Get(ctx, h.Key()).Val()
		short, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if locked, err := waiters.NewMutex(key).LockOrWait(short); locked || err != nil {
			t.Fatalf("LockOrWait with a held lock and lock_sleep 20ms = %v, %v; want false, nil after lock_sleep", locked, err)
		}
		if got := raw.Get(ctx, h.Key()).Val(); got != token {
			t.Fatalf("after LockOrWait the lock holds %q; want the holder's %q", got, token)
		}
	})
}

// TestLockPollsForAnUnheardRelease: Lock tries the lock again every
// lock_sleep for as long as it waits, not once, so that it takes a lock that
// ends with no release message — a dead holder's, expired — whenever that
// happens.
func TestLockPollsForAnUnheardRelease(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	holders := newTestBackend(t, addr, redis.Options{})
	waiters := newTestBackend(t, addr, redis.Options{LockSleep: 20 * time.Millisecond})
	attempts := watchAttempts(waiters)
	ctx := testutil.Context(t)
	key := testutil.Unique("poll")
	h := holders.NewMutex(key)
	testutil.MustLock(t, h)
	w := waiters.NewMutex(key)
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done := testutil.LockAsync(short, w)
	// The first attempt, the one after the subscription's confirmation, and
	// one poll.
	awaitAttempt(t, attempts, 3)
	// The lock ends without a message, as an expiry does.
	if err := raw.Del(ctx, h.Key()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Lock of a lock that ended unheard, lock_sleep 20ms = %v; want it taken by a later poll", err)
	}
	if err := w.Renew(ctx); err != nil {
		t.Fatalf("the waiter does not hold the lock it took: %v", err)
	}
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLockJoiningAConfirmedSubscriptionTriesAgain: a waiter that joins a
// subscription to the lock's releases that its process already has (another
// waiter's, confirmed) tries the lock once more as soon as it has joined: a
// release between its first attempt and its joining was not heard by it.
// Here the lock ends right after the second waiter's first attempt, with no
// message (lock_sleep is an hour), and the second waiter takes it at once.
func TestLockJoiningAConfirmedSubscriptionTriesAgain(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	holders := newTestBackend(t, addr, redis.Options{})
	waiters := newTestBackend(t, addr, redis.Options{LockSleep: time.Hour})
	ctx := testutil.Context(t)
	key := testutil.Unique("join")
	h := holders.NewMutex(key)
	testutil.MustLock(t, h)
	confirmed := make(chan struct{})
	waiters.Client().AddHook(lockAttemptHook{n: new(atomic.Int64), after: func(ctx context.Context, n int64) {
		switch n {
		case 2: // the first waiter's attempt after its subscription was confirmed
			close(confirmed)
		case 3: // the second waiter's first attempt
			raw.Del(ctx, h.Key()) //nolint:errcheck // checked by the second waiter's Lock
		}
	}})
	firstCtx, stopFirst := context.WithCancel(ctx)
	defer stopFirst()
	first := testutil.LockAsync(firstCtx, waiters.NewMutex(key))
	select {
	case <-confirmed:
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the first waiter did not try again after its subscription was confirmed")
	}
	second := waiters.NewMutex(key)
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := second.Lock(short); err != nil {
		t.Fatalf("Lock of a lock that ended while the waiter joined the subscription = %v; want it taken at once (lock_sleep is an hour)", err)
	}
	stopFirst()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("the first waiter's Lock = %v; want context.Canceled", err)
	}
	if err := second.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUnlockPublishesOnlyARelease: Unlock tells the waiters (a message on
// the lock's channel) only when it has released the lock. A holder whose
// lock was taken over by another releases nothing and publishes nothing —
// which would wake every waiting process for a lock still held — and the
// new holder's release publishes once.
func TestUnlockPublishesOnlyARelease(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	b := newTestBackend(t, addr, redis.Options{})
	ctx := testutil.Context(t)
	key := testutil.Unique("publish")
	stale, next := b.NewMutex(key), b.NewMutex(key)
	testutil.MustLock(t, stale)
	// stale's lock ends behind its back, as an expiry would; next takes it.
	if err := raw.Del(ctx, stale.Key()).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.MustLock(t, next)

	ps := raw.Subscribe(ctx, stale.Key())
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	if err := stale.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := next.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	// Messages arrive in the order of the PUBLISHes: this one comes last.
	const end = "end of the test"
	if err := raw.Publish(ctx, stale.Key(), end).Err(); err != nil {
		t.Fatal(err)
	}
	releases := 0
	for {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Payload == end {
			break
		}
		releases++
	}
	if releases != 1 {
		t.Fatalf("the lock's channel had %d release messages; want 1, the holder's (a stale holder's Unlock releases nothing and must tell nobody)", releases)
	}
}

// TestUnlockWithoutPublishPermission: a user whose ACL allows the keys but
// no pub/sub channel still releases its lock — the release's message fails,
// the release stands, and Unlock reports no error — and a waiter, hearing of
// no release, takes the lock at its next poll.
func TestUnlockWithoutPublishPermission(t *testing.T) {
	srv := testserver.StartRedis(t)
	if out := testserver.RedisCLI(t, srv.Addr(), "ACL", "SETUSER", "nopublish", "on", ">pw", "~*", "resetchannels", "+@all"); out != "OK" {
		t.Fatalf("ACL SETUSER: %s", out)
	}
	restricted := &goredis.Options{Addr: srv.Addr(), Username: "nopublish", Password: "pw"}
	ctx := testutil.Context(t)
	holders := newClientBackend(t, restricted)
	if err := holders.Client().Publish(ctx, "any channel", "").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("PUBLISH by the restricted user = %v; want NOPERM (the test's set-up)", err)
	}
	waiters := newTestBackend(t, srv.Addr(), redis.Options{LockSleep: 20 * time.Millisecond})
	attempts := watchAttempts(waiters)
	key := testutil.Unique("nopublish")
	h := holders.NewMutex(key)
	testutil.MustLock(t, h)
	token, err := testserver.Do(ctx, srv.Addr(), "GET", h.Key())
	if err != nil {
		t.Fatal(err)
	}
	w := waiters.NewMutex(key)
	done := testutil.LockAsync(ctx, w)
	awaitAttempt(t, attempts, 1)
	if err := h.Unlock(ctx); err != nil {
		t.Fatalf("Unlock by a user who may not publish = %v; want the lock released, without an error", err)
	}
	// (The waiter may have taken the lock already: it must not be h's.)
	if got, err := testserver.Do(ctx, srv.Addr(), "GET", h.Key()); err != nil || got == token {
		t.Fatalf("after the restricted user's Unlock the lock holds %v (err %v); want it released", got, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiter's Lock after an unheard release = %v; want the lock", err)
	}
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMutexOnUnreachableServer: with the server gone, each of the mutex's
// calls fails at once with an error matching ErrUnreachable — Lock and
// LockOrWait do not wait it out as for a held lock — and none with
// lock.ErrLockLost: a failed Renew or fenced write is a failure to reach
// the store, after which the hold may still be there (the region renews
// again, and keeps its creation going for a TTL), not the loss of the lock.
func TestMutexOnUnreachableServer(t *testing.T) {
	srv := testserver.StartRedis(t)
	b := newTestBackend(t, srv.Addr(), redis.Options{LockSleep: time.Hour})
	ctx := testutil.Context(t)
	key := testutil.Unique("unreachable")
	m := b.NewMutex(key)
	testutil.MustLock(t, m)
	srv.Kill()

	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, redis.ErrUnreachable) || errors.Is(err, lock.ErrLockLost) {
			t.Errorf("%s with the server gone = %v; want an error matching ErrUnreachable and not lock.ErrLockLost", op, err)
		}
	}
	check("Renew", m.Renew(ctx))
	check("SetFenced", m.SetFenced(ctx, key, []byte("v")))
	other := b.NewMutex(key)
	_, err := other.TryLock(ctx)
	check("TryLock", err)
	_, err = other.Locked(ctx)
	check("Locked", err)
	// Bounded, so that a wait that ignores the failure fails in time.
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	check("Lock", other.Lock(short))
	_, err = other.LockOrWait(short)
	check("LockOrWait", err)
	check("Unlock", m.Unlock(ctx)) // last: the holder forgets its hold
}

// TestTryLockOfAHeldLockChangesNothing: TryLock by the holder while it
// holds the lock reports false and leaves the hold as it was: the holder
// still renews it, writes through it and releases it.
func TestTryLockOfAHeldLockChangesNothing(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	b := newTestBackend(t, addr, redis.Options{})
	ctx := testutil.Context(t)
	key := testutil.Unique("again")
	m := b.NewMutex(key)
	testutil.MustLock(t, m)
	token := raw.Get(ctx, m.Key()).Val()
	if ok, err := m.TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock by the holder = %v, %v; want false, nil", ok, err)
	}
	if got := raw.Get(ctx, m.Key()).Val(); got != token {
		t.Fatalf("after the failed TryLock the lock holds %q; want %q", got, token)
	}
	if err := m.Renew(ctx); err != nil {
		t.Fatalf("Renew after a failed TryLock = %v; want the hold kept", err)
	}
	if err := m.SetFenced(ctx, key, []byte("v")); err != nil {
		t.Fatalf("SetFenced after a failed TryLock = %v; want the hold kept", err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if raw.Exists(ctx, m.Key()).Val() != 0 {
		t.Fatal("the holder's Unlock after a failed TryLock left the lock in place")
	}
}

// TestLockTokenNamesItsHolder: a held lock's value, as redis-cli shows it,
// names the host and process that hold it ("host:pid:"), followed by the
// random part that tells holders apart.
func TestLockTokenNamesItsHolder(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	raw := rawClient(t, addr)
	b := newTestBackend(t, addr, redis.Options{})
	ctx := testutil.Context(t)
	m := b.NewMutex(testutil.Unique("token"))
	testutil.MustLock(t, m)
	defer m.Unlock(ctx) //nolint:errcheck
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	prefix := host + ":" + strconv.Itoa(os.Getpid()) + ":"
	if tok := raw.Get(ctx, m.Key()).Val(); !strings.HasPrefix(tok, prefix) || len(tok) == len(prefix) {
		t.Fatalf("the lock's token is %q; want %q and a random part", tok, prefix)
	}
}
