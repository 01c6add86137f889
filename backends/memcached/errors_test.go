package memcached

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// TestBackendErrorsCounted: every call that fails on a dead server is a
// backend error (dogpile.ErrBackend) and is counted once in the region's
// Stats.BackendErrors — values, multi-key calls and the lock alike. (The
// backend used to return *dogpile.BackendError values, which the region
// takes for errors it has wrapped, and counted, already.)
func TestBackendErrorsCounted(t *testing.T) {
	p := testserver.Memcached(t, testserver.MemcachedOptions{})
	b := newBackend(t, dogpile.Args{"url": p.Addr(), "distributed_lock": true, "dead_retry": 0})
	r := newRegion(t, b, dogpile.WithMetrics())
	ctx := testutil.Context(t)
	p.Kill()
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, _, err := dogpile.Get[string](ctx, r, "k"); return err }},
		{"Set", func() error { return r.Set(ctx, "k", "v") }},
		{"Delete", func() error { return r.Delete(ctx, "k") }},
		{"GetMulti", func() error { _, err := dogpile.GetMulti[string](ctx, r, []string{"a", "b"}); return err }},
		{"SetMulti", func() error { return r.SetMulti(ctx, map[string]any{"a": "v"}) }},
		{"DeleteMulti", func() error { return r.DeleteMulti(ctx, []string{"a"}) }},
		{"GetOrCreate", func() error {
			_, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "v", nil })
			return err
		}},
	}
	for i, c := range calls {
		if err := c.call(); !errors.Is(err, dogpile.ErrBackend) || !errors.Is(err, ErrServerDown) {
			t.Fatalf("%s on a dead server: %v; want a backend error (ErrServerDown)", c.name, err)
		}
		if n := r.Stats().BackendErrors; n != uint64(i+1) {
			t.Fatalf("after %s on a dead server, BackendErrors = %d; want %d (one per failed call)", c.name, n, i+1)
		}
	}
}

// TestBackendErrorsCountable: the backend's own calls, the mutex's
// included, give the region an error to count on a dead server: one
// matching dogpile.ErrBackend, not one it would take for its own.
func TestBackendErrorsCountable(t *testing.T) {
	p := testserver.Memcached(t, testserver.MemcachedOptions{})
	b := newBackend(t, dogpile.Args{"url": p.Addr(), "distributed_lock": true, "dead_retry": 0})
	ctx := testutil.Context(t)
	p.Kill()
	m := b.Mutex("k").(*mutex)
	m.setHeld(newToken()) // as if it held the lock when the server died
	for name, err := range map[string]error{
		"TryLock":        func() error { _, err := m.TryLock(ctx); return err }(),
		"Lock":           m.Lock(ctx),
		"Renew":          m.Renew(ctx),
		"SetFenced":      m.SetFenced(ctx, "k", []byte("v")),
		"CompareAndSwap": func() error { _, err := b.CompareAndSwap(ctx, "k", nil, []byte("v")); return err }(),
		"Unlock":         m.Unlock(ctx),
	} {
		var be *dogpile.BackendError
		if !errors.Is(err, dogpile.ErrBackend) || errors.As(err, &be) || errors.Is(err, lock.ErrLockLost) {
			t.Errorf("%s on a dead server: %#v; want an error matching dogpile.ErrBackend that is no *dogpile.BackendError", name, err)
		}
	}
}

// TestLockErrorCounted: a lock that can't be taken (the server fails the
// lock's add) while the value's read works: GetOrCreate returns a backend
// error, counted once.
func TestLockErrorCounted(t *testing.T) {
	srv := servers(t, 1)
	injected := errors.New("injected write failure")
	be, err := New(Options{Servers: srv, DistributedLock: true, DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, address)
		return failingConn{c, "add " + DefaultLockPrefix, injected}, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	r := newRegion(t, be, dogpile.WithMetrics())
	_, err = dogpile.GetOrCreate(testutil.Context(t), r, "k", func(context.Context) (string, error) {
		t.Error("the creator ran without the lock")
		return "v", nil
	})
	if !errors.Is(err, dogpile.ErrBackend) || !errors.Is(err, injected) {
		t.Fatalf("GetOrCreate with the lock failing: %v; want a backend error", err)
	}
	if st := r.Stats(); st.BackendErrors != 1 || st.Misses != 1 {
		t.Fatalf("BackendErrors = %d, Misses = %d; want 1 and 1", st.BackendErrors, st.Misses)
	}
}

// failingConn fails every write that begins with prefix.
type failingConn struct {
	net.Conn
	prefix string
	err    error
}

func (c failingConn) Write(b []byte) (int, error) {
	if strings.HasPrefix(string(b), c.prefix) {
		return 0, c.err
	}
	return c.Conn.Write(b)
}
