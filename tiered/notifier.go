package tiered

import "context"

// Notifier carries a tier's messages between the processes that share a
// remote backend: the transport of coherence. A Notifier moves opaque bytes on
// one channel; what they say (which keys changed, and who changed them) is
// the tier's business, so a new transport needs no knowledge of the format.
//
// backends/redis provides one over Redis pub/sub (redis.NewNotifier). Any
// broadcast with at-most-once delivery works, provided it reports lost
// subscriptions: a tier serves its local copies only while its subscription is
// known to be intact.
type Notifier interface {
	// Publish sends msg to every process subscribed to the channel (this one
	// included). It returns when the transport has taken the message: after
	// it returns, a subscriber that is subscribed will receive msg.
	Publish(ctx context.Context, msg []byte) error

	// Subscribe receives the channel's messages until ctx ends, and then
	// returns ctx.Err(); it returns early only on a failure it cannot recover
	// from (the tier then subscribes again after a pause). It retries lost
	// connections itself.
	//
	// It calls subscribed(true) when messages begin to flow, and
	// subscribed(false) as soon as it knows messages may have been missed
	// (connection lost, subscription dropped, no answer to a health check),
	// then subscribed(true) again once subscribed anew. deliver is called
	// with each message. The calls never overlap, and come in the order of
	// those events; they must return quickly.
	Subscribe(ctx context.Context, deliver func(msg []byte), subscribed func(ok bool)) error
}
