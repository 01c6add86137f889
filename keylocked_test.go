package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// isLocked is Region.KeyIsLocked failing the test on an error.
func isLocked(t *testing.T, r *dogpile.Region, key string) bool {
	t.Helper()
	locked, err := r.KeyIsLocked(context.Background(), key)
	if err != nil {
		t.Fatalf("KeyIsLocked(%q): %v", key, err)
	}
	return locked
}

// Issue 18 (Python's key_is_locked): in this process, a key is locked while
// its value is being created.
func TestKeyIsLockedWhileCreatingInProcess(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"GetOrCreate", "GetOrCreateMulti"} {
		t.Run(how, func(t *testing.T) {
			r := regionOn(t, "memory")
			creating, finish := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				var err error
				if how == "GetOrCreate" {
					_, err = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
						close(creating)
						<-finish
						return "v", nil
					})
				} else {
					_, err = dogpile.GetOrCreateMulti(ctx, r, []string{"k", "k2"}, func(_ context.Context, keys []string) ([]string, error) {
						close(creating)
						<-finish
						return make([]string, len(keys)), nil
					})
				}
				done <- err
			}()
			recv(t, creating, "the creator")
			if !isLocked(t, r, "k") {
				t.Fatal("KeyIsLocked = false while the key's value is being created")
			}
			if how == "GetOrCreateMulti" && !isLocked(t, r, "k2") {
				t.Fatal("KeyIsLocked = false for the second key of a multi-key creation")
			}
			if isLocked(t, r, "other") {
				t.Fatal("KeyIsLocked = true for a key nobody creates")
			}
			close(finish)
			if err := recv(t, done, "the creation"); err != nil {
				t.Fatal(err)
			}
			if isLocked(t, r, "k") {
				t.Fatal("KeyIsLocked = true after the creation ended")
			}
		})
	}
}

// Issue 18: across processes, where the backend's mutex can tell.
func TestKeyIsLockedAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	t.Run("mutex that can tell", func(t *testing.T) {
		b := newLockStore() // lock.Local mutexes: a lock.Prober
		r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithKeyMangler(func(k string) string { return "m:" + k })})
		other := b.locks.Mutex("m:k") // another process creating k
		if ok, _ := other.TryLock(ctx); !ok {
			t.Fatal("TryLock")
		}
		if !isLocked(t, r, "k") {
			t.Fatal("KeyIsLocked = false while another process holds the key's lock")
		}
		if isLocked(t, r, "j") {
			t.Fatal("KeyIsLocked = true for a key nobody holds")
		}
		other.Unlock(ctx) //nolint:errcheck
		if isLocked(t, r, "k") {
			t.Fatal("KeyIsLocked = true after the other process released the lock")
		}
	})
	t.Run("mutex that can't tell", func(t *testing.T) {
		inner, err := dogpile.NewBackend("memory_serialized", nil)
		if err != nil {
			t.Fatal(err)
		}
		b := &mutexBackend{Backend: inner} // its mutex is no lock.Prober
		r := regionFor(t, b, nil)
		other := b.locks.Mutex("k")
		if ok, _ := other.TryLock(ctx); !ok {
			t.Fatal("TryLock")
		}
		defer other.Unlock(ctx) //nolint:errcheck
		if isLocked(t, r, "k") {
			t.Fatal("KeyIsLocked = true, yet nothing can tell")
		}
	})
	t.Run("store failing", func(t *testing.T) {
		down := errors.New("store unreachable")
		store := newLeaseStore()
		store.lockErr = down
		r := regionFor(t, store, nil)
		if _, err := r.KeyIsLocked(ctx, "k"); !errors.Is(err, dogpile.ErrBackend) || !errors.Is(err, down) {
			t.Fatalf("KeyIsLocked with the store down: %v; want a backend error wrapping the store's", err)
		}
		open := regionFor(t, store, []dogpile.RegionOption{dogpile.WithFailOpen(time.Minute)})
		if locked, err := open.KeyIsLocked(ctx, "k"); err != nil || locked {
			t.Fatalf("fail-open KeyIsLocked with the store down = %v, %v; want false, nil", locked, err)
		}
	})
	t.Run("unconfigured", func(t *testing.T) {
		if _, err := dogpile.NewRegion().KeyIsLocked(ctx, "k"); !errors.Is(err, dogpile.ErrNotConfigured) {
			t.Fatalf("KeyIsLocked on an unconfigured region: %v", err)
		}
	})
}

// A key is locked while its value is being created.
func ExampleRegion_KeyIsLocked() {
	ctx := context.Background()
	r, err := dogpile.NewRegion().Configure("memory")
	if err != nil {
		panic(err)
	}
	creating, finish := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		dogpile.GetOrCreate(ctx, r, "report", func(context.Context) (string, error) { //nolint:errcheck
			close(creating)
			<-finish
			return "rendered", nil
		})
	}()
	<-creating
	locked, _ := r.KeyIsLocked(ctx, "report")
	fmt.Println("while creating:", locked)
	close(finish)
	<-done
	locked, _ = r.KeyIsLocked(ctx, "report")
	fmt.Println("afterwards:", locked)
	// Output:
	// while creating: true
	// afterwards: false
}

// While a fail-open region's breaker is open, KeyIsLocked asks only this
// process: it does not go to the store for the key's lock, which another
// process holds.
func TestKeyIsLockedAsksOnlyThisProcessWhileTheBreakerIsOpen(t *testing.T) {
	ctx := context.Background()
	store := newLeaseStore()
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithFailOpen(time.Hour)})
	other := store.Mutex("k") // another process creating k
	if ok, err := other.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer other.Unlock(ctx) //nolint:errcheck
	if !isLocked(t, r, "k") {
		t.Fatal("KeyIsLocked = false while another process holds the key's lock")
	}
	setLockErr := func(err error) {
		store.mu.Lock()
		defer store.mu.Unlock()
		store.lockErr = err
	}
	setLockErr(errors.New("store unreachable"))
	if isLocked(t, r, "k") { // the failure opens the breaker
		t.Fatal("fail-open KeyIsLocked with the store down = true")
	}
	setLockErr(nil)
	if isLocked(t, r, "k") {
		t.Fatal("KeyIsLocked = true while the breaker is open: it asked the store")
	}
}
