package dogpile_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/lock"
)

// leaseStore is a user's backend with a distributed lock that is a lease
// with fenced writes, the way a Redis lock with a token is: the lock is a
// holder's token per key, which another holder can take over (steal) as if
// the first one's had expired; a fenced write checks the token.
type leaseStore struct {
	*storeBackend
	mu      sync.Mutex
	holders map[string]int // key → the token holding its lock (0: free)
	next    int
	fenced  int // fenced writes stored
	lockErr error
}

func newLeaseStore() *leaseStore {
	return &leaseStore{storeBackend: newStore(), holders: map[string]int{}}
}

func (s *leaseStore) Mutex(key string) lock.Mutex { return &leaseHolder{s: s, key: key} }

// Set writes a creation's value (its ctx holds one of our mutexes for the
// key) through the fence, as a backend.Fenced backend does.
func (s *leaseStore) Set(ctx context.Context, key string, value []byte) error {
	if h, ok := lock.Held(ctx, key).(*leaseHolder); ok && h.s == s {
		return h.SetFenced(ctx, key, value)
	}
	return s.storeBackend.Set(ctx, key, value)
}

// steal gives key's lock to a new holder, as another process taking it after
// ours expired would.
func (s *leaseStore) steal(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.holders[key] = s.next
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
	if h.s.holders[h.key] != 0 {
		return false, nil
	}
	h.s.next++
	h.token = h.s.next
	h.s.holders[h.key] = h.token
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
	if h.s.holders[h.key] == h.token {
		delete(h.s.holders, h.key)
	}
	return nil
}

func (h *leaseHolder) TTL() time.Duration { return time.Hour }

func (h *leaseHolder) Renew(context.Context) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.holders[h.key] != h.token {
		return lock.ErrLockLost
	}
	return nil
}

func (h *leaseHolder) SetFenced(ctx context.Context, key string, value []byte) error {
	h.s.mu.Lock()
	if h.s.holders[h.key] != h.token {
		h.s.mu.Unlock()
		return lock.ErrLockLost
	}
	h.s.fenced++
	h.s.mu.Unlock()
	return h.s.storeBackend.Set(ctx, key, value)
}

func TestDL6CreationThatLostItsLockDoesNotOverwrite(t *testing.T) {
	ctx := context.Background()
	store := newLeaseStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithMetrics()})
	other := regionFor(t, store.storeBackend, nil)

	creating, finish := make(chan struct{}), make(chan struct{})
	res := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
		close(creating)
		<-finish
		return "older", nil
	})
	<-creating
	// Meanwhile our lock expires and another process takes it, creates and
	// stores a newer value.
	store.steal("k")
	mustSet(t, other, "k", "newer")
	close(finish)

	got := recv(t, res, "the stalled creation")
	if got.err != nil || got.v != "older" {
		t.Fatalf("the caller got %q, %v; want its own creator's value", got.v, got.err)
	}
	if v, ok := mustGet[string](t, r, "k"); !ok || v != "newer" {
		t.Fatalf("stored %q (%v); the later holder's value was overwritten", v, ok)
	}
	if n := r.Stats().LocksLost; n != 1 {
		t.Fatalf("LocksLost = %d, want 1", n)
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
	newRegion := func(ropts ...dogpile.RegionOption) (*dogpile.Region, *leaseStore) {
		store := newLeaseStore()
		return regionFor(t, store, append(ropts, dogpile.WithMetrics())), store
	}
	create := func(context.Context) (string, error) { return "created", nil }

	t.Run("returned wrapped", func(t *testing.T) {
		r, store := newRegion()
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
		r, store := newRegion(dogpile.WithFailOpen(time.Minute))
		store.lockErr = down
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "created" {
			t.Fatalf("got %q, %v; want the creator's value", v, err)
		}
	})
	t.Run("stale served", func(t *testing.T) {
		r, store := newRegion()
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
