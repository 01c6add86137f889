package testserver

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes lines back on a loopback port until the test ends: the
// proxy's own tests need a server, not a cache.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dialProxy connects to p; the connection is closed when the test ends.
func dialProxy(t *testing.T, p *FaultProxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// workingConn dials p and checks that a round trip through it works.
func workingConn(t *testing.T, p *FaultProxy) net.Conn {
	t.Helper()
	c := dialProxy(t, p)
	if err := roundTrip(c, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// newConnWorks checks that a new connection through p makes a round trip,
// when, after what was done to p, it should.
func newConnWorks(t *testing.T, p *FaultProxy, when string) {
	t.Helper()
	if err := roundTrip(dialProxy(t, p), 2*time.Second); err != nil {
		t.Fatalf("a new connection %s: %v", when, err)
	}
}

// healed heals p and checks that a new connection through it works.
func healed(t *testing.T, p *FaultProxy) {
	t.Helper()
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	newConnWorks(t, p, "after Heal")
}

// wantReset checks that a round trip on each of conns fails with
// ECONNRESET.
func wantReset(t *testing.T, what string, conns ...net.Conn) {
	t.Helper()
	for _, c := range conns {
		if err := roundTrip(c, 2*time.Second); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("%s: %v, want ECONNRESET", what, err)
		}
	}
}

// roundTrip sends a line and reads it back within timeout.
func roundTrip(c net.Conn, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout)) //nolint:errcheck // a live conn
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return errors.New("echo returned " + line)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestFaultProxyForwards(t *testing.T) {
	p := StartFaultProxy(t, echoServer(t))
	c := dialProxy(t, p)
	for range 3 {
		if err := roundTrip(c, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if p.BytesIn() != 15 || p.Accepted() != 1 || p.Conns() != 1 {
		t.Fatalf("BytesIn %d, Accepted %d, Conns %d; want 15, 1, 1", p.BytesIn(), p.Accepted(), p.Conns())
	}
}

func TestFaultProxyLatency(t *testing.T) {
	p := StartFaultProxy(t, echoServer(t))
	c := dialProxy(t, p)
	const d = 150 * time.Millisecond
	p.SetLatency(d)
	start := time.Now()
	if err := roundTrip(c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < d {
		t.Fatalf("round trip with %v latency took %v", d, el)
	}
	// Beyond the reader's deadline it is a timeout.
	if err := roundTrip(c, d/3); !isTimeout(err) {
		t.Fatalf("round trip with a deadline below the latency: %v, want a timeout", err)
	}
	healed(t, p)
}

func TestFaultProxyBlackhole(t *testing.T) {
	p := StartFaultProxy(t, echoServer(t))
	old := workingConn(t, p)
	p.Blackhole()
	// A new connection is accepted and its request read, but never
	// answered; so is a request on an open one.
	fresh := dialProxy(t, p)
	for _, c := range []net.Conn{fresh, old} {
		before := p.BytesIn()
		if err := roundTrip(c, 200*time.Millisecond); !isTimeout(err) {
			t.Fatalf("round trip through a black hole: %v, want a timeout", err)
		}
		if p.BytesIn() != before+5 {
			t.Fatalf("the black hole read %d bytes, want 5", p.BytesIn()-before)
		}
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	// The connections that lost bytes are reset; new ones work.
	for _, c := range []net.Conn{fresh, old} {
		if err := roundTrip(c, 2*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("a connection that lost bytes in the black hole: %v, want it reset", err)
		}
	}
	newConnWorks(t, p, "after Heal")
}

func TestFaultProxyResetPeer(t *testing.T) {
	p := StartFaultProxy(t, echoServer(t))
	open := workingConn(t, p)
	p.ResetPeer()
	wantReset(t, "round trip while resetting", open, dialProxy(t, p))
	healed(t, p)
}

func TestFaultProxyResetConnections(t *testing.T) {
	p := StartFaultProxy(t, echoServer(t))
	a, b := workingConn(t, p), workingConn(t, p)
	if n := p.ResetConnections(); n != 2 {
		t.Fatalf("ResetConnections reset %d, want 2", n)
	}
	wantReset(t, "round trip on a reset connection", a, b)
	newConnWorks(t, p, "after the reset")
}

func TestFaultProxyDisable(t *testing.T) {
	p := StartFaultProxy(t, echoServer(t))
	open := workingConn(t, p)
	p.Disable()
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while disabled: %v, want ECONNREFUSED", err)
	}
	if err := roundTrip(open, 2*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("an open connection after Disable: %v, want it reset", err)
	}
	if err := p.Enable(); err != nil {
		t.Fatal(err)
	}
	newConnWorks(t, p, "after Enable")
}

// TestFaultProxyCloseEndsEverything: Close returns only when every
// goroutine of the proxy has ended (goleak in TestMain checks it), with
// connections open, mid-latency and in a black hole.
func TestFaultProxyCloseEndsEverything(t *testing.T) {
	p, err := NewFaultProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	a := workingConn(t, p)
	p.SetLatency(time.Hour)
	a.Write([]byte("ping\n")) //nolint:errcheck // the reply waits an hour
	b := dialProxy(t, p)
	p.Blackhole()
	b.Write([]byte("ping\n")) //nolint:errcheck // dropped
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("the proxy still accepts connections after Close")
	}
}
