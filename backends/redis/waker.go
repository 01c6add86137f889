package redis

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// wakerHealth is how often the waker pings its subscription while anyone
// waits: a subscription that hears nothing, not even the answer to a ping,
// for two intervals is made again (a server that stopped answering without
// closing the connection: a partition, a paused process).
const wakerHealth = time.Second

// waker tells a backend's lock waiters that a lock was released: one
// pub/sub subscription per backend (one connection, however many goroutines
// wait), subscribed to the channels of the locks that someone in this
// process waits for. A holder's release publishes on its lock's channel
// (unlockScript). Redis delivers at most once, so a waiter polls as well;
// and when the subscription is made again after a loss, the waiters of
// every channel are woken, for what they may have missed meanwhile.
type waker struct {
	client goredis.UniversalClient
	logger *slog.Logger

	mu      sync.Mutex
	chans   map[string]*channelWaiters
	ps      *goredis.PubSub // nil until the first wait
	closed  bool
	ctx     context.Context // ends at close
	cancel  context.CancelFunc
	done    chan struct{} // closed when the receiving goroutine has ended
	subMu   sync.Mutex    // orders SUBSCRIBE and UNSUBSCRIBE commands
	applied map[string]bool
}

// channelWaiters are the waiters on one lock's channel.
type channelWaiters struct {
	waiters   map[*waiter]struct{}
	confirmed bool // the server confirmed the subscription (since the last connection)
}

// waiter is one Lock call waiting for a release.
type waiter struct {
	channel string
	wake    chan struct{} // a buffered token: try again now
}

// newWaker returns a waker on client; one that is not enabled wakes nobody
// (its waiters poll).
func newWaker(client goredis.UniversalClient, logger *slog.Logger, enabled bool) *waker {
	ctx, cancel := context.WithCancel(context.Background())
	return &waker{client: client, logger: logger, chans: map[string]*channelWaiters{}, applied: map[string]bool{}, ctx: ctx, cancel: cancel, closed: !enabled}
}

// add registers a waiter on channel, subscribing to it if nobody in this
// process waits on it yet. ready reports that the subscription is already
// confirmed: the caller must try the lock once more before it waits, as a
// release may have come between its last attempt and add. Otherwise the
// confirmation wakes the waiter.
func (k *waker) add(channel string) (w *waiter, ready bool) {
	w = &waiter{channel: channel, wake: make(chan struct{}, 1)}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return w, false // never woken: the caller polls
	}
	if k.ps == nil {
		// An empty subscription: no connection until the first channel.
		k.ps = k.client.Subscribe(k.ctx)
		k.done = make(chan struct{})
		go k.receive(k.ps, k.done)
	}
	cw := k.chans[channel]
	if cw == nil {
		cw = &channelWaiters{waiters: map[*waiter]struct{}{}}
		k.chans[channel] = cw
	}
	cw.waiters[w] = struct{}{}
	ready = cw.confirmed
	k.mu.Unlock()
	if !ready {
		k.sync(channel)
	}
	return w, ready
}

// remove unregisters w, unsubscribing from its channel when it was the
// last waiter on it.
func (k *waker) remove(w *waiter) {
	k.mu.Lock()
	cw := k.chans[w.channel]
	if cw == nil {
		k.mu.Unlock()
		return
	}
	delete(cw.waiters, w)
	last := len(cw.waiters) == 0
	if last {
		delete(k.chans, w.channel)
	}
	k.mu.Unlock()
	if last {
		k.sync(w.channel)
	}
}

// sync brings the server's subscription to channel in line with whether
// anyone waits on it now. Commands go out one at a time, each for the state
// of the moment it is sent, so that a subscription and an unsubscription
// racing from two goroutines end in the state that was asked for last.
func (k *waker) sync(channel string) {
	k.subMu.Lock()
	defer k.subMu.Unlock()
	k.mu.Lock()
	want, ps := k.chans[channel] != nil, k.ps
	closed := k.closed
	k.mu.Unlock()
	if closed || want == k.applied[channel] {
		return
	}
	if ps == nil { // the subscription ended with its last waiter
		delete(k.applied, channel)
		return
	}
	ctx, cancel := context.WithTimeout(k.ctx, wakerHealth)
	defer cancel()
	var err error
	if want {
		err = ps.Subscribe(ctx, channel)
	} else {
		err = ps.Unsubscribe(ctx, channel)
	}
	// go-redis remembers the channel set even when the command failed, and
	// subscribes to it again when it reconnects.
	if want {
		k.applied[channel] = true
	} else {
		delete(k.applied, channel)
	}
	if err != nil && k.ctx.Err() == nil {
		k.logger.Debug("dogpile/redis: lock release subscription command failed; waiters poll", "channel", channel, "err", err)
	}
}

// receive reads the subscription ps until close, waking waiters: on a
// release message, and on a confirmed subscription (the first, and those
// go-redis makes again on a new connection after a loss). It ends, closing
// the subscription, at a failure while nobody waits: the next waiter starts
// another, and an idle process keeps no connection to a server that is down.
func (k *waker) receive(ps *goredis.PubSub, done chan struct{}) {
	defer close(done)
	pause := 50 * time.Millisecond
	silent := 0 // health intervals without anything heard
	lost := false
	for {
		msg, err := ps.ReceiveTimeout(k.ctx, wakerHealth)
		if k.ctx.Err() != nil {
			return
		}
		if err != nil {
			var nerr interface{ Timeout() bool }
			if errors.As(err, &nerr) && nerr.Timeout() {
				if !k.waiting() {
					silent = 0 // an idle subscription needs no health check
					continue
				}
				if silent++; silent < 2 {
					ps.Ping(k.ctx) //nolint:errcheck // a failure shows in the next receive
					continue
				}
				// Nothing, not even a pong: the server is gone without
				// closing the connection. Start a new subscription.
				err = errors.New("no answer to a ping")
				ps = k.replace(ps)
			}
			silent = 0
			if k.stopIdle(ps) {
				return
			}
			if !lost {
				lost = true
				k.logger.Warn("dogpile/redis: lost the subscription to lock releases; waiters poll every lock_sleep until it is back", "err", err)
			}
			k.unconfirm()
			select {
			case <-k.ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Second)
			continue
		}
		silent = 0
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				if lost {
					lost = false
					pause = 50 * time.Millisecond
					k.logger.Info("dogpile/redis: subscription to lock releases restored")
				}
				k.wakeChannel(m.Channel, true)
			}
		case *goredis.Message:
			k.wakeChannel(m.Channel, false)
		}
	}
}

// stopIdle ends the subscription ps if nobody waits, and reports whether it
// did.
func (k *waker) stopIdle(ps *goredis.PubSub) bool {
	k.subMu.Lock()
	defer k.subMu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.chans) > 0 || k.ps != ps {
		return false
	}
	ps.Close() //nolint:errcheck // it failed already
	k.ps = nil
	clear(k.applied)
	return true
}

// waiting reports whether anyone waits.
func (k *waker) waiting() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.chans) > 0
}

// replace replaces a silent subscription with a new one on the channels
// that have waiters.
func (k *waker) replace(old *goredis.PubSub) *goredis.PubSub {
	k.subMu.Lock()
	defer k.subMu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || k.ps != old {
		return old
	}
	old.Close() //nolint:errcheck // it is being replaced
	channels := make([]string, 0, len(k.chans))
	clear(k.applied)
	for ch := range k.chans {
		channels = append(channels, ch)
		k.applied[ch] = true
	}
	k.ps = k.client.Subscribe(k.ctx)
	if len(channels) > 0 {
		ctx, cancel := context.WithTimeout(k.ctx, wakerHealth)
		k.ps.Subscribe(ctx, channels...) //nolint:errcheck // remembered, and sent again on reconnection
		cancel()
	}
	return k.ps
}

// unconfirm marks every subscription unconfirmed after a lost connection.
func (k *waker) unconfirm() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, cw := range k.chans {
		cw.confirmed = false
	}
}

// wakeChannel wakes every waiter on channel; confirmed marks its
// subscription confirmed.
func (k *waker) wakeChannel(channel string, confirmed bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cw := k.chans[channel]
	if cw == nil {
		return
	}
	if confirmed {
		cw.confirmed = true
	}
	for w := range cw.waiters {
		select {
		case w.wake <- struct{}{}:
		default: // already due to try again
		}
	}
}

// close ends the subscription. Waiters still waiting poll from now on.
func (k *waker) close() {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.closed = true
	k.cancel()
	done := k.done
	k.mu.Unlock()
	k.subMu.Lock()
	if k.ps != nil {
		k.ps.Close() //nolint:errcheck // unblocks the receiving goroutine
	}
	k.subMu.Unlock()
	if done != nil {
		<-done
	}
}
