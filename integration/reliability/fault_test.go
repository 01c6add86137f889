package reliability_test

// RL1: faults between the region and its server. Each test puts a
// testserver.FaultProxy between a real server and two regions on it — one
// with the default failure policy, one with WithFailOpen — injects one fault,
// and checks that:
//
//   - a get-or-create on the default region returns an error matching
//     dogpile.ErrBackend within the backend's bound (faultBound), or, for
//     latency below the socket timeout, the value, only later;
//   - the fail-open region returns the creator's value within the same
//     bound, and its next call does not touch the server at all (the
//     circuit breaker);
//   - once the fault ends, both regions read and write the server again, and
//     how long that took.
//
// Times are measured and printed in the table at the end of the run
// (TestMain); the assertions are on the bounds, which are generous multiples
// of the configured timeouts so that a loaded CI machine does not fail them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/memcached"
	_ "github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

const (
	// socketTimeout is both backends' socket_timeout (and connect timeout)
	// in these tests.
	socketTimeout = 250 * time.Millisecond
	// failOpenCooldown is the fail-open region's breaker cooldown.
	failOpenCooldown = 300 * time.Millisecond
	// mcDeadRetry is how long the memcached backend skips a server that
	// refused a connection (dead_retry).
	mcDeadRetry = time.Second
	// recoverWithin bounds the wait for recovery after a fault ends.
	recoverWithin = 15 * time.Second
	// hangGuard is the deadline of every call's context: a call that reaches
	// it has hung, which is the failure these tests look for. The bounds
	// asserted are far below it, so the deadline never decides a call.
	hangGuard = 30 * time.Second
)

// faultBackend is a server kind under test.
type faultBackend struct {
	name string
	// start starts a server and returns its address.
	start func(t *testing.T) string
	// args are the backend arguments for a region on addr.
	args func(addr string) dogpile.Args
	// bound is the longest a call may take to fail during a fault.
	bound time.Duration
}

var (
	// go-redis retries a command that timed out or lost its connection
	// (max_retries, 3 by default) with a backoff of up to 512ms: a call can
	// take (1+3) × (socket_timeout + 512ms) ≈ 3s before it fails.
	redisFB = faultBackend{
		name:  "redis",
		start: func(t *testing.T) string { return testserver.StartRedis(t).Addr() },
		args: func(addr string) dogpile.Args {
			return dogpile.Args{"url": "redis://" + addr, "socket_timeout": socketTimeout, "socket_connect_timeout": socketTimeout}
		},
		bound: 4 * (socketTimeout + 512*time.Millisecond) * 3 / 2,
	}
	// gomemcache does not retry: a call is one connect (≤ socket_timeout)
	// and one exchange (≤ socket_timeout).
	memcachedFB = faultBackend{
		name:  "memcached",
		start: func(t *testing.T) string { return testserver.Memcached(t, testserver.MemcachedOptions{}).Addr() },
		args: func(addr string) dogpile.Args {
			return dogpile.Args{"url": addr, "socket_timeout": socketTimeout, "dead_retry": mcDeadRetry}
		},
		bound: 4 * socketTimeout * 3 / 2,
	}
)

// fault is one kind of failure the proxy injects.
type fault struct {
	name   string
	inject func(p *testserver.FaultProxy)
	// slowOnly: calls succeed, only later (latency within the timeout).
	slowOnly bool
	// latency is the added latency, for slowOnly faults.
	latency time.Duration
}

var (
	faultLatency = fault{name: "latency 100ms (below the timeout)", slowOnly: true, latency: 100 * time.Millisecond,
		inject: func(p *testserver.FaultProxy) { p.SetLatency(100 * time.Millisecond) }}
	faultTimeout = fault{name: "latency 5s (timeout)",
		inject: func(p *testserver.FaultProxy) { p.SetLatency(5 * time.Second) }}
	faultBlackhole = fault{name: "accepts, never answers",
		inject: func(p *testserver.FaultProxy) { p.Blackhole() }}
	faultReset = fault{name: "connections reset",
		inject: func(p *testserver.FaultProxy) { p.ResetPeer() }}
	faultDown = fault{name: "server down (refused)",
		inject: func(p *testserver.FaultProxy) { p.Disable() }}
)

func TestRL1RedisLatency(t *testing.T)       { runFault(t, redisFB, faultLatency) }
func TestRL1RedisTimeout(t *testing.T)       { runFault(t, redisFB, faultTimeout) }
func TestRL1RedisBlackhole(t *testing.T)     { runFault(t, redisFB, faultBlackhole) }
func TestRL1RedisReset(t *testing.T)         { runFault(t, redisFB, faultReset) }
func TestRL1RedisDown(t *testing.T)          { runFault(t, redisFB, faultDown) }
func TestRL1MemcachedLatency(t *testing.T)   { runFault(t, memcachedFB, faultLatency) }
func TestRL1MemcachedTimeout(t *testing.T)   { runFault(t, memcachedFB, faultTimeout) }
func TestRL1MemcachedBlackhole(t *testing.T) { runFault(t, memcachedFB, faultBlackhole) }
func TestRL1MemcachedReset(t *testing.T)     { runFault(t, memcachedFB, faultReset) }
func TestRL1MemcachedDown(t *testing.T)      { runFault(t, memcachedFB, faultDown) }

func TestRL1RedisResetOnce(t *testing.T)     { runResetOnce(t, redisFB) }
func TestRL1MemcachedResetOnce(t *testing.T) { runResetOnce(t, memcachedFB) }

// runResetOnce: every open connection is reset once (a server restart, a
// load balancer dropping its connections) and the network is fine
// afterwards. The pooled connections are all dead: the first call may fail
// — in bounded time — or the client may notice and redial; either way the
// calls after it succeed.
func runResetOnce(t *testing.T, be faultBackend) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*hangGuard)
	defer cancel()
	p := testserver.StartFaultProxy(t, be.start(t))
	strict := faultRegion(t, be, p.Addr())
	open := faultRegion(t, be, p.Addr(), dogpile.WithFailOpen(failOpenCooldown))
	// Fill the pools: a few calls at once on each region.
	done := make(chan error, 8)
	for i := range 8 {
		r := strict
		if i%2 == 1 {
			r = open
		}
		go func() { done <- r.Set(ctx, fmt.Sprintf("warm-%d", i), "x") }()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := p.ResetConnections(); n == 0 {
		t.Fatal("no connection to reset: the regions' clients hold none open")
	}
	row := faultRow{backend: be.name, fault: "open connections reset once"}
	describe := func(r *dogpile.Region) (string, time.Duration) {
		var (
			v   string
			err error
		)
		took := timed(func() {
			v, err = dogpile.GetOrCreate(ctx, r, "k1", func(context.Context) (string, error) { return "created", nil })
		})
		if took > be.bound {
			t.Fatalf("GetOrCreate after the reset took %v, over the bound of %v", took, be.bound)
		}
		switch {
		case err == nil && v == "created":
			return "value (the client redialled) in " + ms(took), took
		case err != nil && errors.Is(err, dogpile.ErrBackend):
			return fmt.Sprintf("error (%s) in %s", errKind(err), ms(took)), took
		}
		t.Fatalf("GetOrCreate after the reset: %q, %v", v, err)
		return "", 0
	}
	row.strict, _ = describe(strict)
	row.failOpen, _ = describe(open)
	healed := time.Now()
	var tries int
	row.recoverStrict = recoverAfter(t, healed, &tries, func(i int) error {
		if err := strict.Set(ctx, "after", "x"); err != nil {
			return err
		}
		_, _, err := dogpile.Get[string](ctx, strict, "after")
		return err
	})
	row.recoverFailOpn = recoverAfter(t, healed, &tries, func(int) error {
		if _, ok, err := dogpile.Get[string](ctx, open, "after"); err != nil || !ok {
			return fmt.Errorf("%v, %v", ok, err)
		}
		return nil
	})
	t.Logf("%s: default %s, fail-open %s; recovered in %s and %s", be.name, row.strict, row.failOpen, row.recoverStrict, row.recoverFailOpn)
	recordFault(row)
}

// faultRegion configures a region on the proxy and closes it at the end.
func faultRegion(t *testing.T, be faultBackend, addr string, opts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	// The region's warnings (a breaker tripping) go to the test's log.
	opts = append(opts, dogpile.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
	r, err := dogpile.NewRegion(opts...).Configure(be.name, dogpile.WithArguments(be.args(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// errKind names the cause of a backend error for the table.
func errKind(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, memcached.ErrServerDown):
		return "server down"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF):
		return "connection closed (EOF)"
	case errors.As(err, &ne) && ne.Timeout():
		return "i/o timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	}
	return err.Error()
}

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func runFault(t *testing.T, be faultBackend, f fault) {
	t.Parallel() // each test has its own server and proxy; most of the time is waiting
	ctx, cancel := context.WithTimeout(context.Background(), 2*hangGuard)
	defer cancel()
	server := be.start(t)
	p := testserver.StartFaultProxy(t, server)
	strict := faultRegion(t, be, p.Addr())
	open := faultRegion(t, be, p.Addr(), dogpile.WithFailOpen(failOpenCooldown))

	creator := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, nil }
	}
	// Healthy: both regions use the server.
	if err := strict.Set(ctx, "before", "stored before the fault"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := dogpile.Get[string](ctx, open, "before"); !ok || err != nil {
		t.Fatalf("before the fault: %q, %v, %v", v, ok, err)
	}

	f.inject(p)
	row := faultRow{backend: be.name, fault: f.name}

	// The default region: an error in bounded time (or the value, later).
	var (
		v   string
		err error
	)
	took := timed(func() { v, err = dogpile.GetOrCreate(ctx, strict, "k1", creator("created")) })
	switch {
	case f.slowOnly:
		if err != nil || v != "created" {
			t.Fatalf("GetOrCreate with %v added latency: %q, %v; want the value", f.latency, v, err)
		}
		if took < f.latency {
			t.Fatalf("GetOrCreate took %v with %v added latency: the proxy did not delay it", took, f.latency)
		}
		row.strict = "value, in " + ms(took)
	case err == nil:
		t.Fatalf("GetOrCreate during %q: %q, no error; want a backend error", f.name, v)
	case !errors.Is(err, dogpile.ErrBackend):
		t.Fatalf("GetOrCreate during %q: %v; want an error matching dogpile.ErrBackend", f.name, err)
	default:
		row.strict = fmt.Sprintf("error (%s) in %s", errKind(err), ms(took))
	}
	if took > be.bound {
		t.Fatalf("GetOrCreate during %q took %v, over the bound of %v (%v)", f.name, took, be.bound, err)
	}
	t.Logf("default region: %s", row.strict)

	// The fail-open region: the creator's value, in bounded time.
	took = timed(func() { v, err = dogpile.GetOrCreate(ctx, open, "k2", creator("fail-open value")) })
	if err != nil || v != "fail-open value" {
		t.Fatalf("fail-open GetOrCreate during %q: %q, %v; want the creator's value", f.name, v, err)
	}
	if took > be.bound {
		t.Fatalf("fail-open GetOrCreate during %q took %v, over the bound of %v", f.name, took, be.bound)
	}
	row.failOpen = "creator's value in " + ms(took)
	if !f.slowOnly {
		// The breaker is open: the next call answers without the server.
		before := p.BytesIn()
		took = timed(func() { v, err = dogpile.GetOrCreate(ctx, open, "k3", creator("without the server")) })
		if err != nil || v != "without the server" {
			t.Fatalf("fail-open GetOrCreate with the breaker open: %q, %v", v, err)
		}
		if p.BytesIn() != before {
			t.Fatalf("fail-open GetOrCreate with the breaker open sent %d bytes to the server", p.BytesIn()-before)
		}
		row.failOpen += fmt.Sprintf("; next call %s without the server", ms(took))
	}
	t.Logf("fail-open region: %s", row.failOpen)

	// The fault ends: both regions must use the server again.
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	var strictErrs int
	row.recoverStrict = recoverAfter(t, healed, &strictErrs, func(i int) error {
		key := fmt.Sprintf("after-%d", i)
		if err := strict.Set(ctx, key, key); err != nil {
			return err
		}
		got, ok, err := dogpile.Get[string](ctx, strict, key)
		if err == nil && (!ok || got != key) {
			err = fmt.Errorf("read back %q, %v", got, ok)
		}
		return err
	})
	if strictErrs > 0 {
		row.recoverStrict += fmt.Sprintf(" (%d failed tries)", strictErrs)
	}
	// The fail-open region is back when it reads what only the server
	// holds, rather than skipping the server.
	var openMisses int
	row.recoverFailOpn = recoverAfter(t, healed, &openMisses, func(int) error {
		got, ok, err := dogpile.Get[string](ctx, open, "before")
		if err == nil && (!ok || got != "stored before the fault") {
			err = fmt.Errorf("the value stored before the fault reads as %q, %v", got, ok)
		}
		return err
	})
	t.Logf("recovered: default region %s, fail-open region %s", row.recoverStrict, row.recoverFailOpn)
	// And the fail-open region writes again: what it creates is cached.
	if _, err := dogpile.GetOrCreate(ctx, open, "k4", creator("cached after recovery")); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := dogpile.Get[string](ctx, strict, "k4"); !ok || err != nil || got != "cached after recovery" {
		t.Fatalf("after recovery the fail-open region did not store its value: %q, %v, %v", got, ok, err)
	}
	recordFault(row)
}

// recoverAfter polls try (an external event: the network healing, a pool
// redialling, a breaker or dead-server timer running out) until it succeeds,
// and returns the time since healed. It fails the test after recoverWithin.
func recoverAfter(t *testing.T, healed time.Time, failures *int, try func(i int) error) string {
	t.Helper()
	for i := 0; ; i++ {
		err := try(i)
		if err == nil {
			return ms(time.Since(healed))
		}
		*failures++
		if time.Since(healed) > recoverWithin {
			t.Fatalf("not recovered %v after the fault ended: %v", recoverWithin, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
