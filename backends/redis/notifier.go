package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
)

// DefaultHealthCheck is NotifierOptions.HealthCheck when it is not given.
const DefaultHealthCheck = time.Second

// NotifierOptions configure a Notifier.
type NotifierOptions struct {
	// HealthCheck is how often the subscription is pinged
	// (DefaultHealthCheck when 0). A subscription that hears nothing — no
	// message, no answer to a ping — for two intervals counts as lost: the
	// way to notice a server that stopped answering without closing the
	// connection (a network partition, a paused process).
	HealthCheck time.Duration
}

// Notifier carries a tiered cache's messages over Redis pub/sub: PUBLISH to
// send, a SUBSCRIBE connection of its own to receive. It is the transport for
// package tiered (it implements tiered.Notifier):
//
//	n, err := redis.NewNotifier(backend.Client(), "dogpile:tier:users", redis.NotifierOptions{})
//	tier, err := tiered.New(backend, tiered.Options{Notifier: n})
//
// It works the same on a standalone server, behind Sentinel (the
// subscription follows the master, as the client does) and on a Cluster
// (PUBLISH reaches the subscribers of every node). Redis pub/sub delivers at
// most once: a message sent while a subscriber is disconnected is lost to it,
// which is why Subscribe reports every lost connection.
type Notifier struct {
	client  goredis.UniversalClient
	channel string
	health  time.Duration
}

// NewNotifier returns a notifier on client's channel. It uses client, and
// leaves it open: close it after the tiers that use the notifier.
func NewNotifier(client goredis.UniversalClient, channel string, opts NotifierOptions) (*Notifier, error) {
	if client == nil {
		return nil, &dogpile.ArgError{Name: "client", Reason: "NewNotifier needs a client"}
	}
	if channel == "" {
		return nil, &dogpile.ArgError{Name: "channel", Reason: "NewNotifier needs a channel name"}
	}
	if opts.HealthCheck < 0 {
		return nil, &dogpile.ArgError{Name: "HealthCheck", Value: opts.HealthCheck, Reason: "negative duration"}
	}
	if opts.HealthCheck == 0 {
		opts.HealthCheck = DefaultHealthCheck
	}
	return &Notifier{client: client, channel: channel, health: opts.HealthCheck}, nil
}

// Channel returns the notifier's channel.
func (n *Notifier) Channel() string { return n.channel }

// Publish sends msg on the channel. When it returns, Redis has put msg in
// the output buffer of every subscribed connection.
func (n *Notifier) Publish(ctx context.Context, msg []byte) error {
	if err := n.client.Publish(ctx, n.channel, msg).Err(); err != nil {
		return fmt.Errorf("dogpile/redis: publish on channel %q: %w", n.channel, err)
	}
	return nil
}

// Subscribe receives the channel's messages until ctx ends (see
// tiered.Notifier). A lost connection is reported with subscribed(false)
// as soon as it is seen, and the subscription is made again, with pauses
// from 50ms doubling to 1s while the server cannot be reached.
func (n *Notifier) Subscribe(ctx context.Context, deliver func([]byte), subscribed func(bool)) error {
	pause := 50 * time.Millisecond
	for {
		if n.session(ctx, deliver, subscribed) {
			pause = 50 * time.Millisecond
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// subState serializes the callbacks of one session: the receiving
// goroutine and the health check both may end it.
type subState struct {
	mu    sync.Mutex
	up    bool // subscribed(true) was the last report
	ended bool
}

func (s *subState) report(subscribed func(bool), up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.up == up {
		return
	}
	s.up = up
	subscribed(up)
}

func (s *subState) end(subscribed func(bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		subscribed(false)
	}
	s.up, s.ended = false, true
}

func (s *subState) deliver(deliver func([]byte), msg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	deliver(msg)
}

func (s *subState) isUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// session is one subscription, from SUBSCRIBE to its loss; it reports
// whether it got as far as being subscribed.
func (n *Notifier) session(ctx context.Context, deliver func([]byte), subscribed func(bool)) (wasUp bool) {
	ps := n.client.Subscribe(ctx, n.channel)
	var (
		st    subState
		heard atomic.Int64 // when anything last arrived, Unix nanoseconds
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	heard.Store(time.Now().UnixNano())
	wg.Add(1)
	go func() { // health check; also ends the session when ctx ends
		defer wg.Done()
		t := time.NewTicker(n.health)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				st.end(subscribed)
				ps.Close() //nolint:errcheck // unblocks Receive
				return
			case <-t.C:
				if time.Since(time.Unix(0, heard.Load())) > 2*n.health {
					// Nothing heard, not even a pong: report the loss now,
					// before Receive notices (it may never, on a silent
					// network).
					st.end(subscribed)
					ps.Close() //nolint:errcheck // unblocks Receive
					return
				}
				if st.isUp() {
					ps.Ping(ctx) //nolint:errcheck // a failure shows in Receive or as silence
				}
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		st.end(subscribed)
		ps.Close() //nolint:errcheck // it may be closed already
	}()
	for {
		// No timeout: the health check above bounds the silence.
		msg, err := ps.Receive(ctx)
		if err != nil {
			return wasUp
		}
		heard.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *goredis.Subscription:
			switch m.Kind {
			case "subscribe":
				st.report(subscribed, true)
				wasUp = true
			case "unsubscribe":
				return wasUp // someone unsubscribed us: start again
			}
		case *goredis.Message:
			st.deliver(deliver, []byte(m.Payload))
		}
	}
}
