package tiered

import (
	"context"
	"sync"
)

// LocalNotifier is a Notifier within one process: tiers that share one keep
// each other coherent as tiers in several processes do over
// redis.NewNotifier. It serves tests of code that uses a tier, and several
// tiers over one remote backend in one process. Its zero value is ready to
// use; it never loses a message, so a subscription is never reported lost.
type LocalNotifier struct {
	mu   sync.Mutex
	subs map[*func([]byte)]struct{}
}

// Publish delivers msg to every subscriber before it returns.
func (n *LocalNotifier) Publish(_ context.Context, msg []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for deliver := range n.subs {
		(*deliver)(msg)
	}
	return nil
}

// Subscribe delivers the messages published until ctx ends.
func (n *LocalNotifier) Subscribe(ctx context.Context, deliver func(msg []byte), subscribed func(ok bool)) error {
	n.mu.Lock()
	if n.subs == nil {
		n.subs = make(map[*func([]byte)]struct{})
	}
	n.subs[&deliver] = struct{}{}
	subscribed(true) // under the lock: no message is delivered before it
	n.mu.Unlock()
	<-ctx.Done()
	n.mu.Lock()
	delete(n.subs, &deliver)
	n.mu.Unlock()
	return ctx.Err()
}
