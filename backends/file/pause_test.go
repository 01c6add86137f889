package file_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// ---- DL5/DL6: a stalled holder keeps the file lock; no lease is needed ----

// pauseFor is how long the holder stays stopped: far past the waiter's
// polls, and longer than the lock timeouts of the backends whose locks
// expire (their tests stop holders for about a second).
const pauseFor = 2 * time.Second

// childHolder creates the value of "paused" and, in its creator, says
// "creating" and waits for "finish" (it is stopped meanwhile).
func childHolder() error {
	r, closeRegion, err := readyRegion(false)
	if err != nil {
		return err
	}
	defer closeRegion()
	v, err := dogpile.GetOrCreate(context.Background(), r, "paused", func(context.Context) (string, error) {
		if _, err := appendCount(os.Getenv(countEnv)); err != nil {
			return "", err
		}
		say("creating")
		if err := expectLine("finish"); err != nil {
			return "", err
		}
		return "made-by-the-holder", nil
	})
	if err != nil {
		return err
	}
	say("ok %s", v)
	return nil
}

// childWaiter asks for "paused" while the holder is stopped: it says "lock"
// as it starts waiting for the file lock, "still waiting" once it has waited
// pauseFor without an answer, and "ok <value>" with the answer.
func childWaiter() error {
	r, closeRegion, err := readyRegion(true)
	if err != nil {
		return err
	}
	defer closeRegion()
	done := make(chan struct{})
	go func() {
		select {
		case <-time.After(pauseFor):
			say("still waiting")
		case <-done:
		}
	}()
	v, err := dogpile.GetOrCreate(context.Background(), r, "paused", func(context.Context) (string, error) {
		if _, err := appendCount(os.Getenv(countEnv)); err != nil {
			return "", err
		}
		return "made-by-the-waiter", nil
	})
	close(done)
	if err != nil {
		return err
	}
	say("ok %s", v)
	return nil
}

// readyRegion is a region on the cache of the child's environment, its
// mutex traced (tracing) if asked, made once the child has told the parent
// it is ready and had its "go".
func readyRegion(traced bool) (*dogpile.Region, func(), error) {
	b, err := readyBackend()
	if err != nil {
		return nil, nil, err
	}
	var be dogpile.Backend = b
	if traced {
		be = tracing{b}
	}
	r, err := dogpile.NewRegion(dogpile.WithCreationTimeout(time.Minute)).ConfigureBackend(be)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return r, func() { b.Close() }, nil
}

// TestDL5StalledHolderKeepsFileLock: the process holding the file lock while
// it creates is stopped (SIGSTOP, as a long GC pause, a VM migration or a
// debugger would stop it) for pauseFor. The file lock does not expire: all
// that time another process waits for it and does not create; once the
// holder continues and finishes, the waiter gets the holder's value, and the
// creator has run once.
func TestDL5StalledHolderKeepsFileLock(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "creators")
	env := []string{dbEnv + "=" + filepath.Join(dir, "c.db"), countEnv + "=" + count}
	holder := testutil.StartChild(t, "holder", env...)
	waiter := testutil.StartChild(t, "waiter", env...)
	holder.Expect("ready", wait)
	waiter.Expect("ready", wait)
	holder.Send("go")
	holder.Expect("creating", wait)
	holder.Pause()
	waiter.Send("go")
	waiter.Expect("lock", wait)
	waiter.Expect("still waiting", pauseFor+wait)
	holder.Send("finish") // read once it continues
	holder.Resume()
	holder.Expect("ok made-by-the-holder", wait)
	waiter.Expect("ok made-by-the-holder", wait)
	exitedOK(t, holder)
	exitedOK(t, waiter)
	if n, err := countLines(count); err != nil || n != 1 {
		t.Fatalf("the creator ran %d times (%v); want once, by the holder", n, err)
	}
}
