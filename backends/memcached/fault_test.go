package memcached

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// keysByServer returns n keys for each server of sel, with prefix.
func keysByServer(t *testing.T, sel *ServerSelector, prefix string, n int) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if s := sel.Server(k); len(out[s]) < n {
			out[s] = append(out[s], k)
		}
		done := len(out) == len(sel.Servers())
		for _, ks := range out {
			done = done && len(ks) == n
		}
		if done {
			return out
		}
		if i > 100_000 {
			t.Fatal("could not find keys for every server")
		}
	}
}

// TestMC4DeadServer: one of three servers is killed while a loop runs.
// Calls for its keys fail cleanly and at once with ErrServerDown (they do
// not miss: a miss would run every creator on every call while the server is
// down and still fail to store); the loop on the other servers' keys goes on
// without an error, creating new values too (each key's lock lives on the
// key's server); while the server is skipped (dead_retry) nothing dials it;
// when it comes back the region uses it again.
func TestMC4DeadServer(t *testing.T) {
	t.Parallel() // mostly waiting: for a lock or a server to expire or come back
	ps := testserver.MemcachedN(t, 3, testserver.MemcachedOptions{})
	var dials atomic.Int64
	deadAddr := ps[1].Addr()
	be, err := New(Options{
		Servers:         testserver.Addrs(ps),
		DistributedLock: true,
		DeadRetry:       time.Second,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			if address == deadAddr {
				dials.Add(1)
			}
			return (&net.Dialer{}).DialContext(ctx, network, address)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	r := newRegion(t, be)
	sel := be.Selector()
	ctx := testutil.Context(t)
	keys := keysByServer(t, sel, "mc4", 10)
	made := func(k string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return "value-of-" + k, nil }
	}
	for _, ks := range keys {
		for _, k := range ks {
			if _, err := dogpile.GetOrCreate(ctx, r, k, made(k)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The loop over the live servers' keys, running throughout.
	var live []string
	for s, ks := range keys {
		if s != deadAddr {
			live = append(live, ks...)
		}
	}
	stop := make(chan struct{})
	var loops atomic.Int64
	var loopErr atomic.Pointer[error]
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, k := range live {
				select {
				case <-stop:
					return
				default:
				}
				v, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) {
					return "", fmt.Errorf("the creator ran for %q, whose value should be there", k)
				})
				if err == nil && v != "value-of-"+k {
					err = fmt.Errorf("key %q: got %q", k, v)
				}
				if err != nil {
					loopErr.Store(&err)
					return
				}
			}
			loops.Add(1)
		}
	}()

	ps[1].Kill()
	before := loops.Load()
	dialsAtKill := dials.Load()
	for i, k := range keys[deadAddr] {
		start := time.Now()
		_, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) {
			t.Errorf("a creator ran for %q, on the dead server", k)
			return "", nil
		})
		if !errors.Is(err, ErrServerDown) || !errors.Is(err, dogpile.ErrBackend) {
			t.Fatalf("GetOrCreate(%q) with its server dead: %v; want ErrServerDown", k, err)
		}
		if d := time.Since(start); d > DefaultTimeout/2 {
			t.Errorf("call %d for a dead server's key took %v", i, d)
		}
	}
	// One connection attempt found it dead; the other calls skipped it.
	if n := dials.Load() - dialsAtKill; n > 1 {
		t.Errorf("%d connection attempts to the dead server for %d calls; want at most 1 within dead_retry", n, len(keys[deadAddr]))
	}
	// New keys on live servers: created, their locks on their own servers.
	for s, ks := range keysByServer(t, sel, "mc4-new", 5) {
		if s == deadAddr {
			continue
		}
		for _, k := range ks {
			if v, err := dogpile.GetOrCreate(ctx, r, k, made(k)); err != nil || v != "value-of-"+k {
				t.Fatalf("creating %q on a live server while another is dead: %q, %v", k, v, err)
			}
		}
	}
	// A multi-key call fails as a whole if it needs the dead server, and
	// works if it does not.
	if _, err := dogpile.GetMulti[string](ctx, r, []string{live[0], keys[deadAddr][0]}); !errors.Is(err, ErrServerDown) {
		t.Errorf("GetMulti touching the dead server: %v; want ErrServerDown", err)
	}
	if got, err := dogpile.GetMulti[string](ctx, r, live); err != nil || len(got) != len(live) {
		t.Errorf("GetMulti of the live servers' keys: %d values, %v", len(got), err)
	}
	// The loop went on (whole rounds over the live keys) while the server was down.
	for loops.Load() < before+3 && loopErr.Load() == nil {
		time.Sleep(time.Millisecond) // waiting for the loop goroutine's progress
	}

	ps[1].Restart(t)
	// Recovery: once dead_retry is over the server is used again. It
	// restarted empty, so the creator runs.
	deadline := time.Now().Add(10 * time.Second)
	k := keys[deadAddr][0]
	for {
		v, err := dogpile.GetOrCreate(ctx, r, k, made(k))
		if err == nil {
			if v != "value-of-"+k {
				t.Fatalf("after the restart: %q", v)
			}
			break
		}
		if !errors.Is(err, ErrServerDown) || time.Now().After(deadline) {
			t.Fatalf("the region did not recover after the server came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the end of dead_retry
	}
	for _, k := range keys[deadAddr] {
		if _, err := dogpile.GetOrCreate(ctx, r, k, made(k)); err != nil {
			t.Fatalf("after recovery, %q: %v", k, err)
		}
	}
	close(stop)
	wg.Wait()
	if err := loopErr.Load(); err != nil {
		t.Fatalf("the loop on the live servers' keys failed: %v", *err)
	}
	t.Logf("%d rounds over %d live keys; %d while the server was down", loops.Load(), len(live), loops.Load()-before)
}

// TestMC4NoDeadRetry: with dead_retry 0 every call tries the server, and
// the first call after the restart succeeds.
func TestMC4NoDeadRetry(t *testing.T) {
	p := testserver.Memcached(t, testserver.MemcachedOptions{})
	b := newBackend(t, dogpile.Args{"url": p.Addr(), "dead_retry": 0})
	ctx := testutil.Context(t)
	if err := b.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	for range 3 {
		if _, _, err := b.Get(ctx, "k"); !errors.Is(err, ErrServerDown) {
			t.Fatalf("Get with the server dead: %v; want ErrServerDown", err)
		}
	}
	p.Restart(t)
	if _, ok, err := b.Get(ctx, "k"); err != nil || ok {
		t.Fatalf("first Get after the restart = %v, %v; want a clean miss", ok, err)
	}
}

// TestBrokenConnectionRetried: idle pooled connections to a server that
// restarted are broken; calls notice, and retry once on a new connection
// instead of failing.
func TestBrokenConnectionRetried(t *testing.T) {
	p := testserver.Memcached(t, testserver.MemcachedOptions{})
	b := newBackend(t, dogpile.Args{"url": p.Addr(), "distributed_lock": true})
	ctx := testutil.Context(t)
	// Fill the pool with several idle connections.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Set(ctx, fmt.Sprintf("k%d", i), []byte("v")) //nolint:errcheck
		}()
	}
	wg.Wait()
	p.Kill()
	p.Restart(t)
	for i := range 8 {
		if _, _, err := b.Get(ctx, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatalf("Get %d after a restart: %v", i, err)
		}
	}
	p.Kill()
	p.Restart(t)
	m := b.Mutex("k")
	if ok, err := m.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after a restart = %v, %v", ok, err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
