package memcached

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// gate holds the first write on a connection that matches until released,
// so that a test can act between two commands of one call. Released, the
// write goes on, or the connection breaks under it (see gateFault), as
// under a server that restarts or a network that fails mid-call.
type gate struct {
	match    atomic.Pointer[func([]byte) bool] // nil: open
	fault    atomic.Int32                      // a gateFault: what becomes of the held write
	arrived  chan struct{}
	released chan struct{}
}

// gateFault is what becomes of the write a gate held, once released.
type gateFault int32

const (
	// passWrite sends the write; the call goes on as if nothing happened.
	passWrite gateFault = iota
	// loseReply sends the write, lets the server act on it, and breaks the
	// connection before the client reads the reply: the client sees io.EOF
	// and cannot tell whether the command was carried out.
	loseReply
	// dropWrite breaks the connection instead of sending the write: the
	// command never reaches the server, and the client sees EPIPE.
	dropWrite
)

func newGate() *gate { return &gate{arrived: make(chan struct{}), released: make(chan struct{})} }

// arm makes the gate hold the next write that begins with prefix.
func (g *gate) arm(prefix string) {
	p := []byte(prefix)
	g.armFunc(passWrite, func(b []byte) bool { return bytes.HasPrefix(b, p) })
}

// armFunc makes the gate hold the next write that match accepts, and then
// do f with it.
func (g *gate) armFunc(f gateFault, match func([]byte) bool) {
	g.fault.Store(int32(f))
	g.match.Store(&match)
}

// storageOf matches a command that writes key — set, add, cas or any other
// storage command, but no read — so that a gate holds a write whichever
// command the code under test sends for it.
func storageOf(key string) func([]byte) bool {
	return func(b []byte) bool {
		line, _, _ := bytes.Cut(b, []byte("\r\n"))
		f := bytes.Fields(line)
		return len(f) >= 5 && string(f[1]) == key && !bytes.HasPrefix(f[0], []byte("get")) && !bytes.HasPrefix(f[0], []byte("touch"))
	}
}

// readOf matches the read of key alone, as the backend's get sends it.
func readOf(key string) func([]byte) bool {
	cmd := []byte("gets " + key + "\r\n")
	return func(b []byte) bool { return bytes.Equal(b, cmd) }
}

// await returns once the gate holds a write, and fails the test if none
// comes: the code under test did not send the command the test waits for.
func (g *gate) await(t testing.TB) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(testutil.WaitTimeout):
		t.Fatal("the gate held no write: the command it waits for was never sent")
	}
}

func (g *gate) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, g: g}, nil
}

type gatedConn struct {
	net.Conn
	g      *gate
	lose   atomic.Bool // the reply to the last write is to be lost
	broken atomic.Bool
}

func (c *gatedConn) Write(b []byte) (int, error) {
	if c.broken.Load() {
		return 0, syscall.EPIPE
	}
	if p := c.g.match.Load(); p != nil && (*p)(b) && c.g.match.CompareAndSwap(p, nil) {
		close(c.g.arrived)
		<-c.g.released
		switch gateFault(c.g.fault.Load()) {
		case dropWrite:
			c.breakConn()
			return 0, syscall.EPIPE
		case loseReply:
			c.lose.Store(true)
		}
	}
	return c.Conn.Write(b)
}

func (c *gatedConn) Read(b []byte) (int, error) {
	if c.lose.Load() {
		// The server replies once it has carried the command out: wait
		// for the reply's first bytes, and lose them.
		c.Conn.Read(b) //nolint:errcheck // the reply is lost either way
		c.breakConn()
	}
	if c.broken.Load() {
		return 0, io.EOF
	}
	return c.Conn.Read(b)
}

func (c *gatedConn) breakConn() {
	c.lose.Store(false)
	c.broken.Store(true)
	c.Conn.Close()
}

// gatedMutex returns a mutex of key on srv whose connections pass g.
func gatedMutex(t *testing.T, srv string, key string, g *gate) *mutex {
	t.Helper()
	b, err := New(Options{Servers: []string{srv}, DistributedLock: true, LockTimeout: time.Second, Timeout: 10 * time.Second, DialContext: g.dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.Mutex(key).(*mutex)
}

// lostTo ends the lock of key on srv — deleted, as the server would delete
// it once expired — and has another process take it: the mutex returned,
// of a backend of its own.
func lostTo(t *testing.T, srv, key string) *mutex {
	t.Helper()
	b := newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true})
	if err := b.Client().Delete(b.lockKey(key)); err != nil {
		t.Fatal(err)
	}
	next := b.Mutex(key).(*mutex)
	testutil.MustLock(t, next)
	return next
}
