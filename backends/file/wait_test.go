package file_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// ---- DL7: a waiter is woken when the lock is released ----

// holdIn starts a process that holds the locks of keys in db.
func holdIn(t *testing.T, db string, keys ...string) *testutil.Child {
	t.Helper()
	env := []string{dbEnv + "=" + db}
	if len(keys) > 0 {
		env = append(env, keysEnv+"="+strings.Join(keys, ","))
	}
	c := testutil.StartChild(t, "locker", env...)
	c.Expect("held", wait)
	return c
}

// TestDL7WaiterWokenByTheOS: a Lock waiting for a lock another process
// holds waits in the OS, not by polling, and returns once the holder
// releases it.
func TestDL7WaiterWokenByTheOS(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b := open(t, file.Options{Filename: db})
	holder := holdIn(t, db)
	before := file.Polls()
	done := testutil.LockAsync(context.Background(), b.Mutex("k"))
	time.Sleep(20 * time.Millisecond) // a polling Lock would have polled several times
	select {
	case err := <-done:
		t.Fatalf("Lock returned %v while another process held the lock", err)
	default:
	}
	holder.Send("release")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := file.Polls() - before; n != 0 {
		t.Fatalf("Lock polled %d times; want it to wait in the OS", n)
	}
	exitedOK(t, holder)
}

// TestDL7CancelledWaiterReleases: a Lock whose context ends while it waits
// in the OS returns at once; when the holder releases the lock, the wait
// left behind takes and releases it, so that another process gets it.
func TestDL7CancelledWaiterReleases(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b := open(t, file.Options{Filename: db})
	holder := holdIn(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	done := testutil.LockAsync(ctx, b.Mutex("k"))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock after its context was cancelled: %v", err)
	}
	next := testutil.StartChild(t, "locker", dbEnv+"="+db, modeEnv+"=wait")
	holder.Send("release")
	exitedOK(t, holder)
	next.Expect("held", wait) // not kept by the wait this process gave up
	next.Send("release")
	exitedOK(t, next)
	m := b.Mutex("k")
	if err := m.Lock(deadline(t, wait)); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDL7ManyWaitersOneProcess: goroutines of one process wait for a lock
// another process holds, all on the one wait in the OS for its byte, some
// having given up on it; after the release they hold it one at a time, and
// every one that did not give up gets it.
func TestDL7ManyWaitersOneProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b := open(t, file.Options{Filename: db})
	holder := holdIn(t, db)
	const waiters, givenUp = 8, 4
	ctx := deadline(t, wait)
	// These give up at once: the first starts the OS wait, and each leaves
	// it before the others join.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for range givenUp {
		if err := b.Mutex("k").Lock(cancelled); !errors.Is(err, context.Canceled) {
			t.Fatalf("Lock with a cancelled context: %v", err)
		}
	}
	var inside, most, got atomic.Int32
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := b.Mutex("k")
			if err := m.Lock(ctx); err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			got.Add(1)
			inside.Add(-1)
			if err := m.Unlock(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	// The grant then has several claimants, of which one gets the hold and
	// the others wait for it in the process (nothing failed when every
	// claimant took the hold: they held the lock together, and the second
	// Unlock closed a closed channel).
	testutil.Eventually(t, "every waiter to join the wait in the OS", func() bool { return file.OSWaiters(b, "k") == waiters })
	holder.Send("release")
	wg.Wait()
	exitedOK(t, holder)
	if most.Load() != 1 {
		t.Fatalf("%d goroutines held the lock at once", most.Load())
	}
	if got.Load() != waiters {
		t.Fatalf("%d goroutines got the lock; want the %d that did not give up", got.Load(), waiters)
	}
}

// TestDL7BeyondOSWaitsPolls: a process waiting for more locks at once than
// it waits for in the OS polls for the rest, and gets them all once they are
// released.
func TestDL7BeyondOSWaitsPolls(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b := open(t, file.Options{Filename: db})
	var keys []string
	for i := range file.MaxOSWaits + 2 {
		keys = append(keys, fmt.Sprint("k", i))
	}
	holder := holdIn(t, db, keys...)
	before := file.Polls()
	ctx := deadline(t, wait)
	var dones []<-chan error
	for _, k := range keys {
		dones = append(dones, testutil.LockAsync(ctx, b.Mutex(k)))
	}
	for file.Polls() == before { // until the ones past the bound poll
		select {
		case <-ctx.Done():
			t.Fatal("no Lock polled")
		case <-time.After(time.Millisecond):
		}
	}
	// The bound is exact: the Lock that polled found MaxOSWaits waits in the
	// OS, and no Lock started one more (nothing failed when the bound let
	// one wait past it).
	if n := file.OSWaits(b); n != file.MaxOSWaits {
		t.Fatalf("%d waits in the OS at once; want the bound, %d", n, file.MaxOSWaits)
	}
	holder.Send("release")
	for i, done := range dones {
		if err := <-done; err != nil {
			t.Fatalf("Lock of %s: %v", keys[i], err)
		}
	}
	exitedOK(t, holder)
}

// TestDL7CloseWhileWaiting: closing the backend while one of its Locks waits
// in the OS for another process's holder does not wait for that holder.
func TestDL7CloseWhileWaiting(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	b, err := file.New(file.Options{Filename: db, DistributedLock: true})
	if err != nil {
		t.Fatal(err)
	}
	holder := holdIn(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	done := testutil.LockAsync(ctx, b.Mutex("k"))
	cancel()
	<-done
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Close waited for another process's holder")
	}
	holder.Send("release")
	exitedOK(t, holder)
}
