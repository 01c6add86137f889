package dogpile_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
	"github.com/dogpile-go/dogpile/proxy"
	"github.com/dogpile-go/dogpile/tiered"
)

// leaseStore is a user's backend with a distributed lock that is a lease
// with fenced writes, the way a Redis lock with a token is: the lock is a
// holder's token per key, which lapses ttl after it was taken or last
// renewed, and which another holder can take over (steal) as if the first
// one's had lapsed; a fenced write checks the token. It can also tell whether
// a lock is held (lock.Prober) and swap values (backend.Swapper). It is the
// in-process reference that the conformance suite's checks of these are
// tried on; broken names a deliberate bug, to show that the suite finds it.
type leaseStore struct {
	*storeBackend
	ttl     time.Duration
	broken  string
	mu      sync.Mutex
	holders map[string]hold // key → its lock's holder
	next    int
	fenced  int // fenced writes stored
	renewed int // successful renewals
	lockErr error
}

// hold is a holder's token and when its hold lapses.
type hold struct {
	token int
	until time.Time
}

func newLeaseStore() *leaseStore {
	return &leaseStore{storeBackend: newStore(), ttl: time.Hour, holders: map[string]hold{}}
}

func (s *leaseStore) Mutex(key string) lock.Mutex { return &leaseHolder{s: s, key: key} }

// Set writes a creation's value (its ctx holds one of our mutexes for the
// key) through the fence, as a backend.Fenced backend does.
func (s *leaseStore) Set(ctx context.Context, key string, value []byte) error {
	if h, ok := lock.As[*leaseHolder](lock.Held(ctx, key)); ok && h.s == s {
		return h.SetFenced(ctx, key, value)
	}
	return s.storeBackend.Set(ctx, key, value)
}

// holder returns the token holding key's lock, 0 if it is free or lapsed.
// s.mu is held.
func (s *leaseStore) holder(key string) int {
	h, ok := s.holders[key]
	if !ok || !time.Now().Before(h.until) {
		return 0
	}
	return h.token
}

// take gives key's lock to a new holder and returns its token; s.mu is
// held.
func (s *leaseStore) take(key string) int {
	s.next++
	ttl := s.ttl
	if s.broken == "hold shorter than its TTL" {
		ttl /= 3
	}
	s.holders[key] = hold{token: s.next, until: time.Now().Add(ttl)}
	return s.next
}

// steal gives key's lock to a new holder, as another process taking it after
// ours expired would.
func (s *leaseStore) steal(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.take(key)
}

func (s *leaseStore) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.storeBackend.mu.Lock()
	defer s.storeBackend.mu.Unlock()
	cur, ok := s.data[key]
	if s.broken != "swap ignores old" && (old == nil && ok || old != nil && (!ok || !bytes.Equal(cur, old))) {
		return false, nil
	}
	s.data[key] = slices.Clone(new)
	return true, nil
}

type leaseHolder struct {
	s     *leaseStore
	key   string
	token int
}

func (h *leaseHolder) TryLock(context.Context) (bool, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.lockErr != nil {
		return false, h.s.lockErr
	}
	if h.s.holder(h.key) != 0 {
		return false, nil
	}
	h.token = h.s.take(h.key)
	return true, nil
}

func (h *leaseHolder) Lock(ctx context.Context) error {
	for {
		ok, err := h.TryLock(ctx)
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (h *leaseHolder) Unlock(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.holder(h.key) == h.token {
		delete(h.s.holders, h.key)
	}
	return nil
}

func (h *leaseHolder) TTL() time.Duration {
	if h.s.broken == "reports no TTL" {
		return 0
	}
	return h.s.ttl
}

func (h *leaseHolder) Renew(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	switch {
	case h.s.broken == "renew always succeeds":
		return nil
	case h.s.broken == "renew takes over another's lock" && h.token != 0 && h.s.holder(h.key) != 0:
		h.s.holders[h.key] = hold{token: h.token, until: time.Now().Add(h.s.ttl)}
		return nil
	case h.s.holder(h.key) != h.token || h.token == 0:
		return lock.ErrLockLost
	case h.s.broken != "renew does not extend":
		h.s.holders[h.key] = hold{token: h.token, until: time.Now().Add(h.s.ttl)}
		h.s.renewed++
	}
	return nil
}

func (h *leaseHolder) Locked(context.Context) (bool, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.lockErr != nil {
		return false, h.s.lockErr
	}
	return h.s.broken != "locked is always false" && h.s.holder(h.key) != 0, nil
}

func (h *leaseHolder) SetFenced(ctx context.Context, key string, value []byte) error {
	// The check and the write in one step, as a store's script does.
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.broken != "fenced write unchecked" && (h.s.holder(h.key) != h.token || h.token == 0) {
		return lock.ErrLockLost
	}
	h.s.fenced++
	return h.s.storeBackend.Set(ctx, key, value)
}

// leaseRegion returns a region with metrics (and ropts) over a new lease
// store.
func leaseRegion(t *testing.T, ropts ...dogpile.RegionOption) (*dogpile.Region, *leaseStore) {
	store := newLeaseStore()
	return regionFor(t, store, append(ropts, dogpile.WithMetrics())), store
}

// leaseRegions returns a lease store, a region with metrics over it, and
// another process's region on the same store.
func leaseRegions(t *testing.T) (store *leaseStore, r, other *dogpile.Region) {
	r, store = leaseRegion(t)
	return store, r, regionFor(t, store.storeBackend, nil)
}

// overtakeStalledCreation starts a creation of "k" in r that stalls; meanwhile
// its lock expires and another process (other, on store) takes it, creates
// and stores "newer"; then the stalled creator returns "older". It returns
// what the stalled creation's caller got.
func overtakeStalledCreation(t *testing.T, store *leaseStore, r, other *dogpile.Region) result[string] {
	t.Helper()
	creating, finish := make(chan struct{}), make(chan struct{})
	res := goGetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) {
		close(creating)
		<-finish
		return "older", nil
	})
	<-creating
	store.steal("k")
	mustSet(t, other, "k", "newer")
	close(finish)
	return recv(t, res, "the stalled creation")
}

func TestDL6CreationThatLostItsLockDoesNotOverwrite(t *testing.T) {
	ctx := context.Background()
	store, r, other := leaseRegions(t)

	got := overtakeStalledCreation(t, store, r, other)
	if got.err != nil || got.v != "older" {
		t.Fatalf("the caller got %q, %v; want its own creator's value", got.v, got.err)
	}
	if v, ok := mustGet[string](t, r, "k"); !ok || v != "newer" {
		t.Fatalf("stored %q (%v); the later holder's value was overwritten", v, ok)
	}
	if n := r.Stats().LocksLost; n != 1 {
		t.Fatalf("LocksLost = %d, want 1", n)
	}
	// The fence refusing the write is not the store failing: no backend
	// error is counted (which would also count towards fail-open's breaker).
	if n := r.Stats().BackendErrors; n != 0 {
		t.Fatalf("BackendErrors = %d after a lost lock, want 0", n)
	}
	// A creation that keeps its lock writes through the fence.
	if _, err := dogpile.GetOrCreate(ctx, r, "k2", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	if store.fenced != 1 {
		t.Fatalf("%d fenced writes, want 1", store.fenced)
	}
}

func TestDL8LockErrorIsBackendError(t *testing.T) {
	ctx := context.Background()
	down := errors.New("store unreachable")
	create := func(context.Context) (string, error) { return "created", nil }

	t.Run("returned wrapped", func(t *testing.T) {
		r, store := leaseRegion(t)
		store.lockErr = down
		_, err := dogpile.GetOrCreate(ctx, r, "k", create)
		if !errors.Is(err, dogpile.ErrBackend) || !errors.Is(err, down) {
			t.Fatalf("got %v; want a backend error wrapping the lock's", err)
		}
		if n := r.Stats().BackendErrors; n != 1 {
			t.Fatalf("BackendErrors = %d, want 1", n)
		}
	})
	t.Run("fail-open creates", func(t *testing.T) {
		r, store := leaseRegion(t, dogpile.WithFailOpen(time.Minute))
		store.lockErr = down
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "created" {
			t.Fatalf("got %q, %v; want the creator's value", v, err)
		}
	})
	t.Run("stale served", func(t *testing.T) {
		r, store := leaseRegion(t)
		mustSet(t, r, "k", "stale")
		if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		store.lockErr = down
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "stale" {
			t.Fatalf("got %q, %v; want the stale value", v, err)
		}
		if s := r.Stats(); s.BackendErrors != 1 || s.StaleServed != 1 {
			t.Fatalf("BackendErrors = %d, StaleServed = %d; want 1 and 1", s.BackendErrors, s.StaleServed)
		}
	})
}

// renewals reports how many renewals s has granted.
func (s *leaseStore) renewals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewed
}

// overWrappers runs test on a region over a lease store behind each kind of
// wrapper that hooks the store's mutex: the logging proxy, and a tier.
func overWrappers(t *testing.T, test func(t *testing.T, store *leaseStore, r *dogpile.Region)) {
	for name, region := range map[string]func(t *testing.T, store *leaseStore) *dogpile.Region{
		"logging proxy": func(t *testing.T, store *leaseStore) *dogpile.Region {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			return regionFor(t, store, []dogpile.RegionOption{dogpile.WithMetrics()}, dogpile.WithWrap(proxy.Logging(log, slog.LevelDebug)))
		},
		"tier": func(t *testing.T, store *leaseStore) *dogpile.Region {
			tier, err := tiered.New(store, tiered.Options{Notifier: &tiered.LocalNotifier{}})
			if err != nil {
				t.Fatal(err)
			}
			r := regionFor(t, tier, []dogpile.RegionOption{dogpile.WithMetrics()})
			t.Cleanup(func() { r.Close() }) // and the tier's subscription
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			store := newLeaseStore()
			test(t, store, region(t, store))
		})
	}
}

// A wrapper between the region and a store whose lock is a lease (the
// logging proxy, a tier) keeps what the lease does: a creator slower than
// the lease keeps it by renewals, and writes through the fence.
func TestLeaseRenewedAndFencedThroughWrappers(t *testing.T) {
	overWrappers(t, func(t *testing.T, store *leaseStore, r *dogpile.Region) {
		store.ttl = 30 * time.Millisecond
		v, err := dogpile.GetOrCreate(context.Background(), r, "k", func(ctx context.Context) (string, error) {
			// Not t.Fatal: the creation may run in a goroutine of its own.
			for deadline := time.Now().Add(testutil.WaitTimeout); store.renewals() < 2; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					return "", errors.New("the lease was not renewed while the creator ran")
				}
			}
			return "v", ctx.Err()
		})
		if err != nil || v != "v" {
			t.Fatalf("GetOrCreate = %q, %v", v, err)
		}
		if store.fenced != 1 || r.Stats().LocksLost != 0 {
			t.Fatalf("%d fenced writes, %d locks lost; want the value written through the fence, the lock kept", store.fenced, r.Stats().LocksLost)
		}
	})
}

// A creation behind such a wrapper that lost its lock does not overwrite
// the value of the holder that took it over.
func TestLostLeaseFencedThroughWrappers(t *testing.T) {
	overWrappers(t, func(t *testing.T, store *leaseStore, r *dogpile.Region) {
		other := regionFor(t, store.storeBackend, nil)
		overtakeStalledCreation(t, store, r, other)
		if v, ok := mustGet[string](t, other, "k"); !ok || v != "newer" {
			t.Fatalf("stored %q (%v); the later holder's value was overwritten", v, ok)
		}
		if n := r.Stats().LocksLost; n != 1 {
			t.Fatalf("LocksLost = %d, want 1", n)
		}
	})
}
