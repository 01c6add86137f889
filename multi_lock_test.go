package dogpile_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// Issue 15, case 11 (I1): a caller finds a key hard-invalidated and joins the
// key's flight, which another caller started on the stale value it had read
// before the invalidation; that flight's try of the key's lock loses to
// another process, so it ends with the stale value. The joiner must not
// return it: it waits for the other process's value, as GetOrCreate does —
// GetOrCreateMulti the same.
func TestI1JoiningLostStaleFlightNeverServesHardInvalidated(t *testing.T) {
	for _, how := range []string{"GetOrCreate", "GetOrCreateMulti"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			inner, err := dogpile.NewBackend("memory_serialized", nil)
			if err != nil {
				t.Fatal(err)
			}
			b := &mutexBackend{Backend: inner}
			r := regionFor(t, b, nil)
			other := regionFor(t, inner, nil) // another process on the store
			mustSet(t, r, "k", "old")
			// The other process holds the key's lock: it is regenerating.
			theirs := b.locks.Mutex("k")
			if ok, _ := theirs.TryLock(ctx); !ok {
				t.Fatal("TryLock of a free mutex failed")
			}
			trying, proceed := make(chan struct{}), make(chan struct{})
			var once sync.Once
			b.onTry = func(string) { once.Do(func() { close(trying); <-proceed }) }
			b.onLock = func(key string) {
				// The other process finishes: it stores its value and
				// releases the lock this caller waits for.
				if err := other.Set(ctx, key, "theirs"); err != nil {
					t.Error(err)
				}
				theirs.Unlock(ctx) //nolint:errcheck
			}

			stale := goGetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				t.Error("the stale caller created although another process holds the lock")
				return "", nil
			}, expiredNow)
			recv(t, trying, "the stale caller's lock attempt")
			if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			joined := make(chan result[string], 1)
			go func() {
				var res result[string]
				if how == "GetOrCreate" {
					res.v, res.err = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
						calls.Add(1)
						return "mine", nil
					})
				} else {
					var vs []string
					vs, res.err = dogpile.GetOrCreateMulti(ctx, r, []string{"k"}, func(_ context.Context, keys []string) ([]string, error) {
						calls.Add(1)
						return slices.Repeat([]string{"mine"}, len(keys)), nil
					})
					if len(vs) == 1 {
						res.v = vs[0]
					}
				}
				joined <- res
			}()
			testutil.Eventually(t, "the hard-invalidated caller to join the stale flight", func() bool { return dogpile.FlightWaiters(r, "k") == 1 })
			close(proceed)

			if got := recv(t, stale, "the stale caller"); got.err != nil || got.v != "old" {
				t.Fatalf("the stale caller got %q, %v; want the stale value it read", got.v, got.err)
			}
			got := recv(t, joined, "the hard-invalidated caller")
			if got.err != nil || got.v != "theirs" {
				t.Fatalf("the caller that found the value hard-invalidated got %q, %v; want the other process's new value", got.v, got.err)
			}
			if n := calls.Load(); n != 0 {
				t.Fatalf("its creator ran %d times; the other process's value was there", n)
			}
		})
	}
}

func TestDL6MultiCreationThatLostALockDoesNotOverwrite(t *testing.T) {
	ctx := context.Background()
	store, r, other := leaseRegions(t)

	creating, finish := make(chan struct{}), make(chan struct{})
	res := make(chan result[[]string], 1)
	go func() {
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, func(context.Context, []string) ([]string, error) {
			close(creating)
			<-finish
			return []string{"older a", "b"}, nil
		})
		res <- result[[]string]{vs, err}
	}()
	<-creating
	// Meanwhile a's lock expires and another process takes it, creates and
	// stores a newer value. b's lock is still ours.
	store.steal("a")
	mustSet(t, other, "a", "newer a")
	close(finish)

	got := recv(t, res, "the stalled creation")
	if got.err != nil || !slices.Equal(got.v, []string{"older a", "b"}) {
		t.Fatalf("the caller got %q, %v; want its own creator's values", got.v, got.err)
	}
	if v, ok := mustGet[string](t, r, "a"); !ok || v != "newer a" {
		t.Fatalf("a holds %q (%v); the later holder's value was overwritten", v, ok)
	}
	if v, ok := mustGet[string](t, r, "b"); !ok || v != "b" {
		t.Fatalf("b holds %q (%v); want the created value", v, ok)
	}
	if n := r.Stats().LocksLost; n != 1 {
		t.Fatalf("LocksLost = %d, want 1", n)
	}
	store.mu.Lock()
	fenced := store.fenced
	store.mu.Unlock()
	if fenced != 1 {
		t.Fatalf("%d fenced writes, want 1 (b's)", fenced)
	}
}

func TestM5MultiCreationUnderUnfencedLocksStoresInOneCall(t *testing.T) {
	// Mutexes that don't fence writes: the created values are written in
	// one round trip, as without a lock.
	b := newLockStore()
	r := regionFor(t, b, nil)
	if _, err := dogpile.GetOrCreateMulti(context.Background(), r, []string{"a", "b", "c"}, func(_ context.Context, keys []string) ([]string, error) {
		return keys, nil
	}); err != nil {
		t.Fatal(err)
	}
	if b.count("set_multi") != 1 || b.count("set") != 0 || b.count("get_multi") != 2 {
		t.Fatalf("calls %v; want two get_multi (the read, and again under the locks) and one set_multi", b.seen())
	}
}

func TestDL8MultiLockErrorIsBackendError(t *testing.T) {
	ctx := context.Background()
	down := errors.New("store unreachable")
	create := func(_ context.Context, keys []string) ([]string, error) {
		return slices.Repeat([]string{"created"}, len(keys)), nil
	}

	t.Run("returned wrapped", func(t *testing.T) {
		r, store := leaseRegion(t)
		store.lockErr = down
		_, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, create)
		var be *dogpile.BackendError
		if !errors.As(err, &be) || !errors.Is(err, down) || be.Op != "lock" || be.Key != "a" {
			t.Fatalf("got %v; want a backend error of a's lock wrapping the store's", err)
		}
	})
	t.Run("fail-open creates", func(t *testing.T) {
		r, store := leaseRegion(t, dogpile.WithFailOpen(time.Minute))
		store.lockErr = down
		if vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, create); err != nil || !slices.Equal(vs, []string{"created", "created"}) {
			t.Fatalf("got %q, %v; want the creator's values", vs, err)
		}
	})
	t.Run("stale served", func(t *testing.T) {
		r, store := leaseRegion(t)
		mustSet(t, r, "a", "stale a")
		mustSet(t, r, "b", "stale b")
		if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
			t.Fatal(err)
		}
		store.lockErr = down
		if vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "b"}, create); err != nil || !slices.Equal(vs, []string{"stale a", "stale b"}) {
			t.Fatalf("got %q, %v; want the stale values", vs, err)
		}
		if s := r.Stats(); s.BackendErrors != 2 || s.StaleServed != 2 {
			t.Fatalf("BackendErrors = %d, StaleServed = %d; want 2 and 2", s.BackendErrors, s.StaleServed)
		}
	})
}
