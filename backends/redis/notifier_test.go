package redis_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/tiered"
)

var _ tiered.Notifier = (*redis.Notifier)(nil)

// subscription runs n.Subscribe in the background and reports what it
// says on channels.
type subscription struct {
	msgs   chan []byte
	states chan bool
	stop   func() error // cancels Subscribe's context and returns what it returned
}

func subscribe(t *testing.T, n *redis.Notifier) *subscription {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s := &subscription{msgs: make(chan []byte, 16), states: make(chan bool, 16)}
	s.stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	go func() {
		done <- n.Subscribe(ctx, func(m []byte) { s.msgs <- m }, func(ok bool) { s.states <- ok })
	}()
	t.Cleanup(func() { s.stop() }) //nolint:errcheck // checked by the tests that care
	return s
}

func (s *subscription) state(t *testing.T, want bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case got := <-s.states:
		if got != want {
			t.Fatalf("subscribed(%v), want subscribed(%v)", got, want)
		}
	case <-time.After(within):
		t.Fatalf("no subscribed(%v) within %v", want, within)
	}
	return time.Since(start)
}

func (s *subscription) message(t *testing.T, want []byte) {
	t.Helper()
	select {
	case got := <-s.msgs:
		if string(got) != string(want) {
			t.Fatalf("delivered %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q not delivered within 10s", want)
	}
}

// TestNotifierDeliversAndReportsLoss: messages arrive byte for byte; a
// dropped connection is reported, then the subscription is made again; the
// end of the context ends Subscribe.
func TestNotifierDeliversAndReportsLoss(t *testing.T) {
	ctx := testutil.Context(t)
	p := testserver.StartRedis(t)
	c := rawClient(t, p.Addr())
	n, err := redis.NewNotifier(c, testutil.Unique("channel"), redis.NotifierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := subscribe(t, n)
	s.state(t, true, 10*time.Second)

	msg := []byte("binary\x00\xff\xfe message")
	if err := n.Publish(ctx, msg); err != nil {
		t.Fatal(err)
	}
	s.message(t, msg)

	if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	s.state(t, false, 10*time.Second)
	s.state(t, true, 10*time.Second)
	if err := n.Publish(ctx, []byte("again")); err != nil {
		t.Fatal(err)
	}
	s.message(t, []byte("again"))

	if err := s.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v after its context was canceled; want context.Canceled", err)
	}
	s.state(t, false, 10*time.Second)
}

// TestNotifierHealthCheckNoticesSilentServer: a server that stops answering
// without closing the connection (here: paused with SIGSTOP) is noticed
// within two health-check intervals, and the subscription comes back when
// the server does.
func TestNotifierHealthCheckNoticesSilentServer(t *testing.T) {
	p := testserver.StartRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr(), DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	const health = 100 * time.Millisecond
	n, err := redis.NewNotifier(c, testutil.Unique("channel"), redis.NotifierOptions{HealthCheck: health})
	if err != nil {
		t.Fatal(err)
	}
	s := subscribe(t, n)
	s.state(t, true, 10*time.Second)

	p.Pause(t)
	t.Cleanup(func() { p.Resume(t) }) // so that it can be stopped
	took := s.state(t, false, 5*time.Second)
	t.Logf("silent server noticed after %v (health check every %v)", took, health)
	if took > 10*health {
		t.Errorf("silence noticed after %v; want about 2-3 health-check intervals (%v each)", took, health)
	}
	p.Resume(t)
	s.state(t, true, 10*time.Second)
}

// TestNotifierStaysUpOnAQuietChannel: a channel nobody publishes on is not
// taken for a silent server. The health check pings while subscribed, and
// its answer counts as hearing from the server, so no loss is reported
// over many health-check intervals (a false loss would clear every tier's
// local copies each time).
func TestNotifierStaysUpOnAQuietChannel(t *testing.T) {
	p := testserver.SharedRedis(t)
	// Long enough that a loaded machine does not starve the session for two
	// intervals (it failed now and then at 100 ms with a load of 14).
	const health = 400 * time.Millisecond
	n, err := redis.NewNotifier(rawClient(t, p.Addr()), testutil.Unique("channel"), redis.NotifierOptions{HealthCheck: health})
	if err != nil {
		t.Fatal(err)
	}
	s := subscribe(t, n)
	s.state(t, true, 10*time.Second)
	// Without pings, or with their answers unheard, the session would end
	// after two intervals: eight of them show it does not.
	select {
	case ok := <-s.states:
		t.Fatalf("subscribed(%v) on a quiet channel with the server up", ok)
	case <-time.After(8 * health):
	}
}

// TestNewNotifierErrors: bad arguments are errors naming them.
func TestNewNotifierErrors(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for name, f := range map[string]func() error{
		"client":      func() error { _, err := redis.NewNotifier(nil, "ch", redis.NotifierOptions{}); return err },
		"channel":     func() error { _, err := redis.NewNotifier(c, "", redis.NotifierOptions{}); return err },
		"HealthCheck": func() error { _, err := redis.NewNotifier(c, "ch", redis.NotifierOptions{HealthCheck: -1}); return err },
	} {
		var ae *dogpile.ArgError
		if err := f(); !errors.As(err, &ae) || ae.Name != name {
			t.Errorf("bad %s: %v; want an *ArgError naming it", name, err)
		}
	}
}

// TestNotifierPublishError: a PUBLISH that fails is Publish's error, which
// names the channel and has go-redis's error in its chain.
func TestNotifierPublishError(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	c.Close()
	n, err := redis.NewNotifier(c, "tier-channel", redis.NotifierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Publish(context.Background(), []byte("m")); !errors.Is(err, goredis.ErrClosed) || !strings.Contains(err.Error(), `"tier-channel"`) {
		t.Fatalf("Publish on a closed client = %v; want go-redis's ErrClosed in an error naming the channel", err)
	}
}

// TestNotifierDefaultHealthCheck: without a HealthCheck, the subscription is
// still checked, every second (DefaultHealthCheck): a server that stops
// answering is noticed within a few seconds.
func TestNotifierDefaultHealthCheck(t *testing.T) {
	p := testserver.StartRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: p.Addr(), DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	n, err := redis.NewNotifier(c, testutil.Unique("channel"), redis.NotifierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := subscribe(t, n)
	s.state(t, true, 10*time.Second)
	p.Pause(t)
	t.Cleanup(func() { p.Resume(t) }) // so that it can be stopped
	took := s.state(t, false, 6*time.Second)
	t.Logf("silent server noticed after %v with the default health check", took)
}
