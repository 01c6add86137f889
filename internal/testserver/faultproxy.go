package testserver

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy on a loopback port between a client and a
// server, for fault injection in tests. Healthy, it
// forwards bytes both ways unchanged. Its faults are the ones a cache client
// meets in production:
//
//   - SetLatency: every reply is delayed (a slow server or network; beyond
//     the client's timeout, a timeout);
//   - Blackhole: connections are accepted and requests read, but nothing is
//     forwarded either way (a hung server, a dropped route, a full accept
//     queue on the far side);
//   - ResetPeer: every connection is reset (TCP RST) as soon as it carries a
//     byte, new ones included; ResetConnections resets the open ones once;
//   - Disable: the port refuses connections and open ones are reset (the
//     server is down).
//
// Heal ends every fault. Connections that lost bytes in a black hole are
// reset when it ends: their byte stream is out of step, as a real client's
// would be after a timeout.
//
// It is about 300 lines of our own rather than toxiproxy's Go library: it
// needs no dependency, starts in microseconds, and its faults are exactly
// the four above. Toxiproxy's toxics are richer (bandwidth, slicing) but
// nothing here needs them.
type FaultProxy struct {
	target string
	addr   string // the listening address, kept across Disable/Enable

	latency   atomic.Int64 // time.Duration added to each reply chunk
	blackhole atomic.Bool
	resetPeer atomic.Bool
	bytesIn   atomic.Int64 // bytes received from clients, forwarded or not
	accepted  atomic.Int64

	mu     sync.Mutex
	ln     net.Listener // nil while disabled
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept loop and the pumps
}

// proxyConn is one client connection and its upstream connection.
type proxyConn struct {
	client net.Conn
	done   chan struct{} // closed by close
	lost   atomic.Bool   // dropped bytes in a black hole

	mu     sync.Mutex
	server net.Conn // nil until dialed
	closed bool
}

// StartFaultProxy starts a FaultProxy to target ("host:port") on a free
// loopback port and closes it when the test ends.
func StartFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	p, err := NewFaultProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() }) //nolint:errcheck // nothing to report at cleanup
	return p
}

// NewFaultProxy starts a FaultProxy to target on a free loopback port. Close
// it when done.
func NewFaultProxy(target string) (*FaultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testserver: fault proxy: %w", err)
	}
	p := &FaultProxy{target: target, addr: ln.Addr().String(), conns: map[*proxyConn]struct{}{}}
	p.serve(ln)
	return p, nil
}

// Addr returns the address clients connect to, "127.0.0.1:port".
func (p *FaultProxy) Addr() string { return p.addr }

// Target returns the address of the server the proxy forwards to.
func (p *FaultProxy) Target() string { return p.target }

// SetLatency delays every chunk of reply bytes by d (0: none). A chunk
// already waiting keeps its delay.
func (p *FaultProxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Blackhole makes the proxy accept connections and read what clients send,
// but forward nothing either way, until Heal.
func (p *FaultProxy) Blackhole() { p.blackhole.Store(true) }

// ResetPeer makes the proxy reset every connection, open or new, as soon as
// either side sends a byte, until Heal.
func (p *FaultProxy) ResetPeer() { p.resetPeer.Store(true) }

// ResetConnections resets every open connection now (the client reads
// "connection reset by peer") and returns how many there were. New
// connections are forwarded as usual.
func (p *FaultProxy) ResetConnections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c := range p.conns {
		c.reset()
	}
	return n
}

// Disable closes the listening port, so that connections are refused, and
// resets the open connections, as a server that went down would.
func (p *FaultProxy) Disable() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close() //nolint:errcheck // the accept loop ends on it
		p.ln = nil
	}
	for c := range p.conns {
		c.reset()
	}
}

// Enable listens again, on the same port, after Disable.
func (p *FaultProxy) Enable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("testserver: fault proxy is closed")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("testserver: fault proxy: listen again on %s: %w", p.addr, err)
	}
	p.serveLocked(ln)
	return nil
}

// Heal ends every fault: no latency, no black hole, no resets, and the port
// listening. Connections that lost bytes in the black hole are reset.
func (p *FaultProxy) Heal() error {
	p.latency.Store(0)
	p.resetPeer.Store(false)
	p.blackhole.Store(false)
	p.mu.Lock()
	for c := range p.conns {
		if c.lost.Load() {
			c.reset()
		}
	}
	p.mu.Unlock()
	return p.Enable()
}

// BytesIn returns how many bytes clients have sent through the proxy,
// forwarded or dropped: a test can tell whether a client tried the server.
func (p *FaultProxy) BytesIn() int64 { return p.bytesIn.Load() }

// Accepted returns how many connections the proxy has accepted.
func (p *FaultProxy) Accepted() int64 { return p.accepted.Load() }

// Conns returns the number of open connections.
func (p *FaultProxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops the proxy, closes every connection and waits for its
// goroutines to end.
func (p *FaultProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		p.ln.Close() //nolint:errcheck // the accept loop ends on it
		p.ln = nil
	}
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *FaultProxy) serve(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(ln)
}

func (p *FaultProxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Disable or Close
			}
			p.accepted.Add(1)
			p.handle(c)
		}
	}()
}

// handle connects an accepted client to the target and starts the pumps.
func (p *FaultProxy) handle(client net.Conn) {
	pc := &proxyConn{client: client, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		client.Close() //nolint:errcheck // refused
		return
	}
	p.conns[pc] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer func() {
			pc.close()
			p.mu.Lock()
			delete(p.conns, pc)
			p.mu.Unlock()
		}()
		// The dial is not subject to faults: the proxy's side of the network
		// is healthy, the faults are between client and proxy.
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			return // the client sees its connection closed
		}
		if !pc.setServer(server) {
			return // reset or closed while dialing
		}
		up := make(chan struct{})
		go func() {
			defer close(up)
			p.pump(pc, server, client, true)
		}()
		p.pump(pc, client, server, false)
		<-up
	}()
}

// pump copies src to dst, applying the faults, until either side ends; then
// it closes both, so the other pump ends too. upstream is true for the
// client-to-server direction.
func (p *FaultProxy) pump(pc *proxyConn, dst, src net.Conn, upstream bool) {
	defer pc.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if upstream {
				p.bytesIn.Add(int64(n))
			}
			if p.resetPeer.Load() {
				pc.reset()
				return
			}
			if p.blackhole.Load() {
				pc.lost.Store(true)
				continue // read and dropped: the sender waits for ever
			}
			if d := time.Duration(p.latency.Load()); d > 0 && !upstream {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-pc.done:
					t.Stop()
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // an end of stream ends the connection: no half-closed state to model
		}
	}
}

// reset closes both sides with an RST (SO_LINGER 0), so the client reads
// "connection reset by peer" rather than a clean end of stream.
func (pc *proxyConn) reset() { pc.end(true) }

func (pc *proxyConn) close() { pc.end(false) }

func (pc *proxyConn) end(rst bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		return
	}
	pc.closed = true
	close(pc.done)
	for _, c := range []net.Conn{pc.client, pc.server} {
		if c == nil {
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok && rst {
			tc.SetLinger(0) //nolint:errcheck // best effort
		}
		c.Close() //nolint:errcheck // closing
	}
}

// setServer records the upstream connection; false (and server closed) if
// the connection ended meanwhile.
func (pc *proxyConn) setServer(server net.Conn) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		server.Close() //nolint:errcheck // not needed
		return false
	}
	pc.server = server
	return true
}
