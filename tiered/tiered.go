package tiered

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/clock"
	"github.com/dogpile-go/dogpile/internal/lockhook"

	"github.com/maypok86/otter/v2"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/lock"
	"github.com/dogpile-go/dogpile/proxy"
)

// Defaults of Options.
const (
	// DefaultMaxEntries bounds the local tier when Options.MaxEntries is 0.
	DefaultMaxEntries = 10_000
	// DefaultTTL is how long a local copy lives when Options.TTL is 0.
	DefaultTTL = 5 * time.Second
)

// ErrPublish is returned when a change was made in the remote backend but
// the message that tells other processes to drop their local copies could
// not be sent. Until their local TTL passes, they may serve the value from
// before the change.
var ErrPublish = errors.New("dogpile/tiered: change made, but other processes could not be told")

// Options configure a tier.
type Options struct {
	// Notifier carries the messages that keep the tiers of all processes
	// coherent (required). For Redis: redis.NewNotifier. Every process that
	// shares the remote keys must use the same channel.
	Notifier Notifier
	// MaxEntries bounds the number of local copies (DefaultMaxEntries when
	// 0). The tier evicts with W-TinyLFU (otter), keeping the keys most
	// likely to be asked for again.
	MaxEntries int
	// TTL is how long a local copy lives (DefaultTTL when 0): the bound on
	// staleness should a message be lost without the transport noticing.
	// Messages, not the TTL, are what keep the tier coherent.
	TTL time.Duration
	// Logger receives the tier's warnings: a lost subscription, a message
	// that could not be sent. slog.Default() when nil.
	Logger *slog.Logger
	// DecodeEveryHit makes the region decode the local copy's bytes at
	// every hit, so that each caller gets a value of its own, as from the
	// remote backend. By default the tier keeps the value the region decoded
	// beside the bytes (backend.Keeping): a hit then decodes nothing
	// and allocates nothing, but callers share the value, as with the memory
	// backend, and must not modify it.
	DecodeEveryHit bool
}

// Backend is a remote backend with a bounded in-process tier in front of it.
// It implements dogpile.Backend, backend.Multi,
// backend.Locking (the remote's mutex, or none) and backend.Swapper (the
// remote's compare-and-swap). It is safe for
// concurrent use. Close stops its subscription and closes the remote backend.
type Backend struct {
	proxy.Base // the remote backend: writes, misses, the mutex

	local    *otter.Cache[string, *entry]
	ttl      int64 // nanoseconds
	keep     bool  // keep decoded values
	notifier Notifier
	log      *slog.Logger
	from     origin
	seed     maphash.Seed

	// Coherence. A local copy is filled from a remote read only if no change
	// of its key (stripes) and no clear (gen) happened since before the read:
	// see fill.
	live    atomic.Bool // subscribed: local copies may be served and filled
	gen     atomic.Uint64
	stripes [numStripes]atomic.Uint64

	ctx       context.Context // ends with Close
	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	remoteReads, messages, evicted, clears, published, publishErrors atomic.Uint64

	// Tests' hooks into fill, nil otherwise: beforeStore runs between the
	// first check and the store, afterStore between the store and the
	// second check (the two windows a change can race into).
	beforeStore, afterStore func(key string)
}

const numStripes = 256

// entry is a local copy: a value, or the remote's answer that there is none;
// and what the region decoded from the value, once it has.
type entry struct {
	v       []byte
	ok      bool
	expires int64 // Unix nanoseconds (internal/clock)
	kept    atomic.Pointer[any]
}

var (
	_ backend.Multi   = (*Backend)(nil)
	_ backend.Locking = (*Backend)(nil)
	_ backend.Swapper = (*Backend)(nil)

	_ backend.Keeping = (*Backend)(nil)
)

// New returns a tier in front of remote and starts its subscription. Until
// the subscription is up (see Stats.Subscribed) every read goes to remote;
// New does not wait for it, so a region can be configured while the remote
// server is down.
func New(remote dogpile.Backend, opts Options) (*Backend, error) {
	if remote == nil {
		return nil, &dogpile.ArgError{Name: "remote", Reason: "tiered.New needs a remote backend"}
	}
	if opts.Notifier == nil {
		return nil, &dogpile.ArgError{Name: "Notifier", Reason: "a tier needs a Notifier to stay coherent with other processes (redis.NewNotifier)"}
	}
	if opts.MaxEntries < 0 {
		return nil, &dogpile.ArgError{Name: "MaxEntries", Value: opts.MaxEntries, Reason: "must not be negative"}
	}
	if opts.TTL < 0 {
		return nil, &dogpile.ArgError{Name: "TTL", Value: opts.TTL, Reason: "must not be negative"}
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	// The tier checks the TTL itself, on a coarse clock: otter's own expiry
	// doubles the cost of a lookup, and reading the system clock at every
	// hit is the largest single cost of a hit on a virtual machine. TTLs are
	// seconds; a lag of a few milliseconds does not matter. Expired copies
	// are dropped when read, or evicted as the least useful.
	local, err := otter.New(&otter.Options[string, *entry]{MaximumSize: opts.MaxEntries})
	if err != nil {
		return nil, &dogpile.ArgError{Name: "MaxEntries", Value: opts.MaxEntries, Reason: err.Error()}
	}
	b := &Backend{
		Base:     proxy.Base{Next: remote},
		local:    local,
		ttl:      int64(opts.TTL),
		keep:     !opts.DecodeEveryHit,
		notifier: opts.Notifier,
		log:      opts.Logger,
		seed:     maphash.MakeSeed(),
		done:     make(chan struct{}),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	rand.Read(b.from[:]) //nolint:errcheck // crypto/rand.Read does not fail
	b.ctx, b.stop = context.WithCancel(context.Background())
	go b.listen(b.ctx)
	return b, nil
}

// Remote returns the backend behind the tier.
func (b *Backend) Remote() dogpile.Backend { return b.Next }

// The pauses before subscribing again after the notifier's Subscribe
// returned: the first, doubled after each failure up to the last (variables
// for the tests).
var (
	firstResubscribePause = 50 * time.Millisecond
	maxResubscribePause   = 2 * time.Second
)

// listen keeps the subscription up until Close.
func (b *Backend) listen(ctx context.Context) {
	defer close(b.done)
	pause := firstResubscribePause
	for {
		err := b.notifier.Subscribe(ctx, b.receive, b.subscribed)
		b.subscribed(false) // whatever the notifier said last, nothing flows now
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("dogpile/tiered: subscription ended; serving from the remote backend until it is back", "err", err, "retry_in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, maxResubscribePause)
	}
}

// subscribed is the notifier's report on the subscription. Either way the
// local tier is cleared: while no messages arrive (and until a new
// subscription is up) changes made elsewhere go unheard, so no copy made
// before — or during — the gap can be trusted.
func (b *Backend) subscribed(ok bool) {
	if ok {
		b.clear()
		b.live.Store(true)
		return
	}
	if b.live.Swap(false) && b.ctx.Err() == nil {
		b.log.Warn("dogpile/tiered: subscription lost; local tier cleared and bypassed until it is back")
	}
	b.clear()
}

// receive handles a message from the notifier.
func (b *Backend) receive(msg []byte) {
	from, all, keys, err := decodeMessage(msg)
	if err != nil {
		b.log.Warn("dogpile/tiered: unreadable message; local tier cleared", "err", err, "bytes", len(msg))
		b.clear()
		return
	}
	if from == b.from {
		return // our own change: applied when it was made
	}
	b.messages.Add(1)
	if all {
		b.clear()
		return
	}
	for _, k := range keys {
		b.forget(k)
	}
	b.evicted.Add(uint64(len(keys)))
}

// clear drops every local copy. gen moves first, so that a fill racing with
// the clear drops what it stored (see fill).
func (b *Backend) clear() {
	b.clears.Add(1)
	b.gen.Add(1)
	b.local.InvalidateAll()
}

// forget drops key's local copy; its stripe moves first, as in clear.
func (b *Backend) forget(key string) {
	b.stripe(key).Add(1)
	b.local.Invalidate(key)
}

func (b *Backend) stripe(key string) *atomic.Uint64 {
	return &b.stripes[maphash.String(b.seed, key)%numStripes]
}

// snapshot is what fill compares against: taken before a remote read.
type snapshot struct {
	live bool
	gen  uint64
	seq  uint64
}

func (b *Backend) snap(key string) snapshot {
	return snapshot{live: b.live.Load(), gen: b.gen.Load(), seq: b.stripe(key).Load()}
}

// fill stores what a remote read returned, unless the key changed (or the
// tier was cleared) since the snapshot s taken before that read.
//
// Check, store, check again: a change's handler moves the counter, then
// drops the copy. If it moved the counter before our first check, we store
// nothing, so that a copy older than a change that has completed is not
// shown to a caller that comes after it (a caller that arrives once a
// creation stored its value must not read the "no value" of a read made
// before; it would create again); if between the checks, we drop what we
// stored, visible only until the second check; if after, its drop comes
// after our store. Either way no copy older than a change survives it.
func (b *Backend) fill(key string, s snapshot, e *entry) {
	changed := func() bool { return !b.live.Load() || b.gen.Load() != s.gen || b.stripe(key).Load() != s.seq }
	if !s.live || changed() {
		return
	}
	e.expires = clock.For(time.Duration(b.ttl)) + b.ttl
	if b.beforeStore != nil {
		b.beforeStore(key)
	}
	b.local.Set(key, e)
	if b.afterStore != nil {
		b.afterStore(key)
	}
	if changed() {
		b.local.Invalidate(key)
	}
}

// lookup returns key's local copy, if the tier may serve one.
func (b *Backend) lookup(key string) (*entry, bool) {
	if !b.live.Load() {
		return nil, false
	}
	e, ok := b.local.GetIfPresent(key)
	if !ok || clock.For(time.Duration(b.ttl)) > e.expires {
		return nil, false
	}
	return e, true
}

// Get returns the local copy of key, or reads it from the remote backend and
// keeps a copy. The remote's "no value" is kept too, so a key nobody has
// created does not cost a round trip per read.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if e, ok := b.lookup(key); ok {
		return e.v, e.ok, nil
	}
	return b.getRemote(ctx, key)
}

func (b *Backend) getRemote(ctx context.Context, key string) ([]byte, bool, error) {
	s := b.snap(key)
	b.remoteReads.Add(1)
	v, ok, err := b.Next.Get(ctx, key)
	if err != nil {
		return nil, false, err
	}
	b.fill(key, s, &entry{v: v, ok: ok})
	return v, ok, nil
}

// ValuesImmutable reports the remote backend's answer (backend.Immutable):
// the tier hands out the remote's values or copies of its own.
func (b *Backend) ValuesImmutable() bool { return backend.ValuesImmutable(b.Next) }

// KeepsDecoded reports whether the tier keeps the region's decoded values
// (backend.Keeping): true unless Options.DecodeEveryHit.
func (b *Backend) KeepsDecoded() bool { return b.keep }

// GetKept is Get that also returns the value the region decoded from the
// local copy, if it was kept (backend.Keeping).
func (b *Backend) GetKept(ctx context.Context, key string) ([]byte, any, bool, error) {
	if e, ok := b.lookup(key); ok {
		if p := e.kept.Load(); p != nil {
			return e.v, *p, e.ok, nil
		}
		return e.v, nil, e.ok, nil
	}
	v, ok, err := b.getRemote(ctx, key)
	return v, nil, ok, err
}

// Keep keeps the region's decoded value with key's local copy, if the copy
// still holds value (backend.Keeping). A later change of the key
// replaces or drops the copy, and what was kept with it.
func (b *Backend) Keep(key string, value []byte, kept any) {
	if len(value) == 0 {
		return
	}
	e, ok := b.local.GetIfPresent(key)
	if !ok || !e.ok || len(e.v) != len(value) || &e.v[0] != &value[0] {
		return
	}
	e.kept.Store(&kept)
}

// GetMulti answers from local copies where it can and reads the rest from
// the remote backend in one call.
func (b *Backend) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var miss []int
	if b.live.Load() {
		for i, k := range keys {
			if e, ok := b.lookup(k); ok {
				out[i] = e.v
				continue
			}
			miss = append(miss, i)
		}
		if len(miss) == 0 {
			return out, nil
		}
	} else {
		miss = make([]int, len(keys))
		for i := range keys {
			miss[i] = i
		}
	}
	ask := make([]string, len(miss))
	snaps := make([]snapshot, len(miss))
	for j, i := range miss {
		ask[j], snaps[j] = keys[i], b.snap(keys[i])
	}
	b.remoteReads.Add(1)
	vals, err := b.Base.GetMulti(ctx, ask)
	if err != nil {
		return nil, err
	}
	if len(vals) != len(ask) {
		return nil, fmt.Errorf("dogpile/tiered: remote GetMulti returned %d values for %d keys", len(vals), len(ask))
	}
	for j, i := range miss {
		v := vals[j]
		if snaps[j].live {
			// A remote's multi-key values may share one buffer (Redis's
			// MGET reply): the copy kept holds only its own bytes.
			v = bytes.Clone(v)
		}
		out[i] = v
		b.fill(ask[j], snaps[j], &entry{v: v, ok: v != nil})
	}
	return out, nil
}

// Set stores value in the remote backend, drops the local copy and tells the
// other processes to drop theirs. The local copy is not replaced by value:
// with several writers the tier cannot know which write the remote kept
// last, so the next read fetches it.
func (b *Backend) Set(ctx context.Context, key string, value []byte) error {
	err := b.Next.Set(ctx, key, value)
	b.forget(key) // even on error: the write may have happened
	if err != nil {
		return err
	}
	return b.publish(ctx, encodeKeys(b.from, key), 1)
}

// Delete deletes key in the remote backend, then drops the local copies as
// Set does.
func (b *Backend) Delete(ctx context.Context, key string) error {
	err := b.Next.Delete(ctx, key)
	b.forget(key)
	if err != nil {
		return err
	}
	return b.publish(ctx, encodeKeys(b.from, key), 1)
}

// SetMulti stores every item in the remote backend, then drops the local
// copies of their keys here and, with one message, everywhere.
func (b *Backend) SetMulti(ctx context.Context, items map[string][]byte) error {
	if len(items) == 0 {
		return nil
	}
	err := b.Base.SetMulti(ctx, items)
	keys := make([]string, 0, len(items))
	for k := range items {
		b.forget(k)
		keys = append(keys, k)
	}
	if err != nil {
		return err
	}
	return b.publish(ctx, encodeKeys(b.from, keys...), len(keys))
}

// DeleteMulti deletes every key in the remote backend, then drops the local
// copies as SetMulti does.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	err := b.Base.DeleteMulti(ctx, keys)
	for _, k := range keys {
		b.forget(k)
	}
	if err != nil {
		return err
	}
	return b.publish(ctx, encodeKeys(b.from, keys...), len(keys))
}

// CompareAndSwap compares and swaps in the remote backend (backend.Swapper)
// and drops the local copy, whether or not the swap happened: a swap that
// failed because the local copy was behind the remote reads the remote
// next. A swap that happened tells the other processes, as Set does. If the
// remote can't compare and swap, it stores nothing and returns an error
// matching errors.ErrUnsupported.
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	swapped, err := b.Base.CompareAndSwap(ctx, key, old, new)
	b.forget(key)
	if err != nil || !swapped {
		return swapped, err
	}
	return true, b.publish(ctx, encodeKeys(b.from, key), 1)
}

// EvictAll drops every local copy in every process sharing the channel, for
// changes made to the remote store behind the tiers' back (a bulk load, a
// FLUSHDB).
func (b *Backend) EvictAll(ctx context.Context) error {
	b.clear()
	return b.publish(ctx, encodeAll(b.from), 0)
}

func (b *Backend) publish(ctx context.Context, msg []byte, keys int) error {
	if err := b.notifier.Publish(ctx, msg); err != nil {
		b.publishErrors.Add(1)
		b.log.Warn("dogpile/tiered: could not tell other processes of a change", "keys", keys, "err", err)
		return fmt.Errorf("%w: %d key(s): %w", ErrPublish, keys, err)
	}
	b.published.Add(1)
	return nil
}

// Mutex returns the remote backend's mutex for key (nil if it has none),
// made to drop key's local copy whenever it is taken. The region reads the
// key again right after taking the lock, to see whether another process
// stored it meanwhile; that read must reach the remote backend, not a copy
// whose eviction message may still be on its way.
func (b *Backend) Mutex(key string) lock.Mutex {
	return lockhook.Wrap(b.Base.Mutex(key), func(_ context.Context, _ lockhook.Op, _ time.Time, held bool, _ error) {
		if held {
			b.forget(key)
		}
	})
}

// Stats describes a tier's work since it was made.
type Stats struct {
	// Subscribed: messages are flowing, so local copies are served.
	Subscribed bool
	// Entries is the number of local copies (an estimate).
	Entries int
	// RemoteReads counts reads that went to the remote backend (a
	// GetMulti counts once): local misses, and every read while not
	// subscribed.
	RemoteReads uint64
	// Messages counts the messages received from other processes; Evicted
	// the keys they named.
	Messages, Evicted uint64
	// Clears counts the times the whole local tier was dropped: on every
	// change of the subscription, EvictAll, and unreadable messages.
	Clears uint64
	// Published counts the messages sent; PublishErrors those that failed
	// (see ErrPublish).
	Published, PublishErrors uint64
}

// Stats returns the tier's counters.
func (b *Backend) Stats() Stats {
	return Stats{
		Subscribed:    b.live.Load(),
		Entries:       b.local.EstimatedSize(),
		RemoteReads:   b.remoteReads.Load(),
		Messages:      b.messages.Load(),
		Evicted:       b.evicted.Load(),
		Clears:        b.clears.Load(),
		Published:     b.published.Load(),
		PublishErrors: b.publishErrors.Load(),
	}
}

// Close ends the subscription, drops the local tier and closes the remote
// backend (if it is an io.Closer). It waits for the subscription to end.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.stop()
		<-b.done
		b.local.InvalidateAll()
		b.local.StopAllGoroutines()
		b.closeErr = b.Base.Close()
	})
	return b.closeErr
}
