package memcached

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// tripCounter counts request/response round trips per server: a read that
// follows a write on a connection is one.
type tripCounter struct {
	mu    sync.Mutex
	trips map[string]*atomic.Int64
}

func (tc *tripCounter) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.trips[address] == nil {
		tc.trips[address] = new(atomic.Int64)
	}
	return &tripConn{Conn: c, trips: tc.trips[address]}, nil
}

func (tc *tripCounter) reset() map[string]int64 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	out := map[string]int64{}
	for a, n := range tc.trips {
		out[a] = n.Swap(0)
	}
	return out
}

type tripConn struct {
	net.Conn
	wrote bool // used by one goroutine at a time, as gomemcache uses a conn
	trips *atomic.Int64
}

func (c *tripConn) Write(p []byte) (int, error) {
	c.wrote = true
	return c.Conn.Write(p)
}

func (c *tripConn) Read(p []byte) (int, error) {
	if c.wrote {
		c.wrote = false
		c.trips.Add(1)
	}
	return c.Conn.Read(p)
}

// TestM5MultiGetOneRoundTripPerServer: a multi-key read through a region is
// one get-multi round trip to each server holding any of the keys, and none
// to the others; so is GetOrCreateMulti when every value is there.
func TestM5MultiGetOneRoundTripPerServer(t *testing.T) {
	ps := testserver.MemcachedN(t, 3, testserver.MemcachedOptions{})
	tc := &tripCounter{trips: map[string]*atomic.Int64{}}
	b, err := New(Options{Servers: testserver.Addrs(ps), DialContext: tc.dial})
	if err != nil {
		t.Fatal(err)
	}
	r := newRegion(t, b)
	ctx := testutil.Context(t)
	byServer := keysByServer(t, b.Selector(), "m5", 10)
	var keys []string
	for _, ks := range byServer {
		keys = append(keys, ks...)
	}
	got, err := dogpile.GetOrCreateMulti(ctx, r, keys, func(_ context.Context, ks []string) ([]string, error) {
		return append([]string(nil), ks...), nil
	})
	if err != nil || len(got) != len(keys) {
		t.Fatalf("GetOrCreateMulti = %d values, %v", len(got), err)
	}

	tc.reset()
	hits, err := dogpile.GetMulti[string](ctx, r, keys)
	if err != nil || len(hits) != len(keys) {
		t.Fatalf("GetMulti = %d hits, %v", len(hits), err)
	}
	for srv, n := range tc.reset() {
		if n != 1 {
			t.Errorf("GetMulti of %d keys on 3 servers: %d round trips to %s; want 1", len(keys), n, srv)
		}
	}

	vals, err := dogpile.GetOrCreateMulti(ctx, r, keys, func(context.Context, []string) ([]string, error) {
		t.Error("the creator ran although every value is cached")
		return nil, nil
	})
	if err != nil || len(vals) != len(keys) || vals[0] != keys[0] {
		t.Fatalf("GetOrCreateMulti of cached keys = %v, %v", vals, err)
	}
	for srv, n := range tc.reset() {
		if n != 1 {
			t.Errorf("GetOrCreateMulti of %d cached keys: %d round trips to %s; want 1", len(keys), n, srv)
		}
	}

	// Keys of one server: no trip to the others.
	one := ps[0].Addr()
	before := testserver.MemcachedStats(t, one)
	if _, err := dogpile.GetMulti[string](ctx, r, byServer[one]); err != nil {
		t.Fatal(err)
	}
	for srv, n := range tc.reset() {
		if want := map[bool]int64{true: 1, false: 0}[srv == one]; n != want {
			t.Errorf("GetMulti of %s's keys: %d round trips to %s; want %d", one, n, srv, want)
		}
	}

	// The server agrees: its keys were each asked for once, and found.
	after := testserver.MemcachedStats(t, one)
	for _, stat := range []string{"cmd_get", "get_hits"} {
		if d := atoi(after[stat]) - atoi(before[stat]); d != int64(len(byServer[one])) {
			t.Errorf("server %s: %s went up by %d; want %d", one, stat, d, len(byServer[one]))
		}
	}
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
