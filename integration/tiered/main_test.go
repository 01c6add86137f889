package tiered_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/integration/internal/roundtrips"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/tiered"
)

// TestMain runs a child role when a cross-process test started the test
// binary again (process_test.go), and otherwise the tests, stopping the
// shared servers at the end.
func TestMain(m *testing.M) {
	testutil.Main(m, map[string]func() error{
		"tier": func() error { return childTier(os.Stdin, os.Stdout) },
	}, testserver.StopShared)
}

// observed is a Notifier that lets a test see what its tier was told, after
// the tier has handled it, and hold messages or a resubscription back. It
// passes everything through to the real (Redis) notifier.
type observed struct {
	tiered.Notifier
	msgs   chan []byte // each message, after the tier handled it
	states chan bool   // each report on the subscription, after the tier handled it

	holdMsgs atomic.Pointer[chan struct{}] // when set, deliveries wait for it to close
	holdUp   atomic.Pointer[chan struct{}] // when set, subscribed(true) waits for it to close
}

func (o *observed) Subscribe(ctx context.Context, deliver func([]byte), subscribed func(bool)) error {
	return o.Notifier.Subscribe(ctx,
		func(m []byte) {
			if h := o.holdMsgs.Load(); h != nil {
				<-*h
			}
			deliver(m)
			select {
			case o.msgs <- m:
			default: // a test that does not read them must not stall the tier
			}
		},
		func(ok bool) {
			if h := o.holdUp.Load(); h != nil && ok {
				<-*h
			}
			subscribed(ok)
			select {
			case o.states <- ok:
			default:
			}
		})
}

// message waits until the tier has handled a message.
func (o *observed) message(t testing.TB) []byte {
	t.Helper()
	select {
	case m := <-o.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message reached the tier within 10s")
	}
	return nil
}

// state waits for the next report on the subscription and checks it.
func (o *observed) state(t testing.TB, want bool) {
	t.Helper()
	select {
	case got := <-o.states:
		if got != want {
			t.Fatalf("subscription report %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no subscription report (want %v) within 10s", want)
	}
}

// node is one "process": a go-redis client of its own, the Redis backend on
// it, and a tier in front.
type node struct {
	tier   *tiered.Backend
	remote *redis.Backend
	obs    *observed
	trips  *roundtrips.Hook // the client's round trips
}

type nodeConfig struct {
	lock        bool          // the distributed lock
	lockTimeout time.Duration // the lock's TTL; the backend's default unless set
	ttl         time.Duration // the local TTL; 1 minute unless set, so that only messages evict
}

// newNode makes a node on addr's channel and waits until its tier is
// subscribed.
// rawClient is a go-redis client of the server at addr, closed when the
// test ends, for changes behind the tiers' backs.
func rawClient(t testing.TB, addr string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func newNode(t testing.TB, addr, channel string, cfg nodeConfig) *node {
	t.Helper()
	return newNodeOn(t, &goredis.Options{Addr: addr}, channel, cfg)
}

func newNodeOn(t testing.TB, o *goredis.Options, channel string, cfg nodeConfig) *node {
	t.Helper()
	rb, err := redis.New(redis.Options{Client: o, DistributedLock: cfg.lock, LockSleep: 10 * time.Millisecond, LockTimeout: cfg.lockTimeout})
	if err != nil {
		t.Fatal(err)
	}
	return finishNode(t, rb, channel, cfg)
}

// finishNode makes a node on rb; rb's own Options say whether it has the
// distributed lock (cfg.lock is for newNodeOn).
func finishNode(t testing.TB, rb *redis.Backend, channel string, cfg nodeConfig) *node {
	t.Helper()
	hook := &roundtrips.Hook{}
	rb.Client().AddHook(hook)
	rn, err := redis.NewNotifier(rb.Client(), channel, redis.NotifierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obs := &observed{Notifier: rn, msgs: make(chan []byte, 1024), states: make(chan bool, 64)}
	if cfg.ttl == 0 {
		cfg.ttl = time.Minute
	}
	tb, err := tiered.New(rb, tiered.Options{Notifier: obs, TTL: cfg.ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	obs.state(t, true)
	return &node{tier: tb, remote: rb, obs: obs, trips: hook}
}
