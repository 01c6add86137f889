package dogpile_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dogpile-go/dogpile"
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
			eventually(t, "the hard-invalidated caller to join the stale flight", func() bool { return dogpile.FlightWaiters(r, "k") == 1 })
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
