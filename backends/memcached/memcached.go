package memcached

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

func init() {
	if err := dogpile.RegisterBackend("memcached", func(args dogpile.Args) (dogpile.Backend, error) {
		o, err := ParseArgs(args)
		if err != nil {
			return nil, err
		}
		b, err := New(o)
		if err != nil {
			return nil, err // not a nil *Backend in a non-nil interface
		}
		return b, nil
	}); err != nil {
		panic(err)
	}
}

// Defaults for Options' zero values.
const (
	DefaultTimeout      = time.Second
	DefaultDeadRetry    = 2 * time.Second // libmemcached's retry_timeout
	DefaultLockTimeout  = 30 * time.Second
	DefaultMaxIdleConns = 16
	DefaultLockSleep    = 50 * time.Millisecond
)

// maxRelativeExpiry is the longest expiry Memcached reads as seconds from
// now; a larger number is a Unix time.
const maxRelativeExpiry = 30 * 24 * time.Hour

// Options configure a memcached backend made by New. The zero value of each
// field is its default.
type Options struct {
	// Servers are the servers' addresses: "host:port", "host" (port
	// 11211), "[ipv6]:port" or a Unix socket's path. Required.
	Servers []string
	// Distribution spreads keys over several servers; Ketama by default.
	Distribution Distribution
	// Timeout bounds each read and write on a server's socket, and so each
	// call (gomemcache takes no context): DefaultTimeout if zero.
	Timeout time.Duration
	// ConnectTimeout bounds connecting to a server: Timeout if zero (and it
	// is never more than Timeout).
	ConnectTimeout time.Duration
	// DeadRetry is how long a server that refused a connection is skipped:
	// calls for its keys fail at once with ErrServerDown meanwhile.
	// DefaultDeadRetry if zero; negative: never skip, try every call.
	DeadRetry time.Duration
	// MaxIdleConns is the number of idle connections kept per server:
	// DefaultMaxIdleConns if zero. Set it above the number of concurrent
	// calls expected, or connections are opened and closed per call.
	MaxIdleConns int
	// TTL is the server-side lifetime of every value written
	// (memcached_expire_time): none if zero. It is separate from the
	// region's expiration and should be longer. Over 30 days it is sent as
	// a Unix time, as the protocol requires.
	TTL time.Duration
	// DistributedLock gives the backend a distributed mutex
	// (distributed_lock), which a region takes before it creates a value,
	// so that one creator runs per key across every process sharing the
	// servers. Without it, Mutex returns nil and a region elects one creator
	// per key in each process.
	DistributedLock bool
	// LockTimeout is the least time a lock lives if its holder neither renews
	// nor releases it (a crashed or stalled process): DefaultLockTimeout if
	// zero. A creation renews its lock every LockTimeout/3, so a creator may
	// run longer; LockTimeout bounds how long a dead holder blocks its key.
	// Memcached keeps a clock of whole seconds that lags the time by up to
	// two, so the lock is sent with LockTimeout rounded up plus two seconds,
	// and lives from LockTimeout to 2s more (see the package documentation).
	LockTimeout time.Duration
	// LockSleep (lock_sleep) is the longest pause between attempts to take
	// a held lock: DefaultLockSleep if zero. Memcached cannot tell a waiter
	// that a lock was released, so waiters poll: pauses start at a
	// millisecond and grow with the time waited, up to LockSleep.
	LockSleep time.Duration
	// LockPrefix (lock_prefix) begins the key of every lock:
	// DefaultLockPrefix if empty. Value keys that begin with it are
	// refused. Every process sharing the servers must use the same prefix,
	// or their locks do not exclude each other.
	LockPrefix string
	// DialContext, if set, connects to servers (for TLS, or a proxy).
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
}

// Backend stores values in Memcached through a gomemcache client. It
// implements dogpile.Backend, backend.Multi, backend.Swapper, io.Closer and
// backend.Locking: its mutexes are leases (lock.Lease) whose holder writes
// its value fenced (backend.Fenced), or nil unless Options.DistributedLock
// is set. Safe for concurrent use.
type Backend struct {
	client      *memcache.Client
	sel         *ServerSelector // nil when the client's selector is not ours
	ownClient   bool
	expire      time.Duration
	distributed bool  // Mutex returns mutexes (distributed_lock)
	expireRel   int32 // expire as Memcached's relative seconds; -1: send absolute times
	lockTimeout time.Duration
	lockExpire  int32 // a lock's exptime: at least lockTimeout on the server's clock
	lockSleep   time.Duration
	lockPrefix  string
	dial        func(ctx context.Context, network, address string) (net.Conn, error)
	connect     time.Duration
}

// Mutex returns a would-be holder of key's lock, shared by every process
// that uses the same servers, or nil without Options.DistributedLock; it
// implements backend.Locking. See DefaultLockPrefix for where locks are
// stored. The mutex is a lock.Lease and a backend.Fenced.
func (b *Backend) Mutex(key string) lock.Mutex {
	if !b.distributed {
		return nil // an untyped nil: the region then locks in process
	}
	return &mutex{b: b, key: key, lockKey: b.lockKey(key)}
}

// New returns a backend on opts.Servers.
func New(opts Options) (*Backend, error) {
	if len(opts.Servers) == 0 {
		return nil, &dogpile.ArgError{Name: "url", Reason: "no memcached servers given"}
	}
	sel, err := NewServerSelector(opts.Distribution, opts.Servers...)
	if err != nil {
		return nil, &dogpile.ArgError{Name: "url", Value: opts.Servers, Reason: err.Error()}
	}
	b, err := newBase(opts)
	if err != nil {
		return nil, err
	}
	b.sel, b.ownClient = sel, true
	sel.lockPrefix = b.lockPrefix
	switch {
	case opts.DeadRetry == 0:
		sel.deadRetry = DefaultDeadRetry
	case opts.DeadRetry > 0:
		sel.deadRetry = opts.DeadRetry
	}
	b.dial = opts.DialContext
	if b.dial == nil {
		b.dial = (&net.Dialer{}).DialContext
	}
	b.connect = opts.ConnectTimeout
	c := memcache.NewFromSelector(sel)
	c.Timeout = opts.Timeout
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	c.MaxIdleConns = opts.MaxIdleConns
	if c.MaxIdleConns <= 0 {
		c.MaxIdleConns = DefaultMaxIdleConns
	}
	c.DialContext = b.dialServer
	b.client = c
	return b, nil
}

// NewFromClient returns a backend on an existing client, which stays the
// caller's: Close does not close it. Only the Options that are not about
// connecting apply (TTL and the lock's); the others must be zero.
// Locks are co-located with their values, and dead servers skipped, only if
// the client's selector is a *ServerSelector and the client was made by New;
// with another selector a lock may live on another server than its value.
func NewFromClient(c *memcache.Client, opts Options) (*Backend, error) {
	if c == nil {
		return nil, &dogpile.ArgError{Name: "client", Reason: "NewFromClient needs a client"}
	}
	if len(opts.Servers) > 0 || opts.Timeout != 0 || opts.ConnectTimeout != 0 || opts.DeadRetry != 0 ||
		opts.MaxIdleConns != 0 || opts.DialContext != nil || opts.Distribution != Ketama {
		return nil, &dogpile.ArgError{Name: "client", Reason: "the client's own settings apply: leave Servers, Distribution, timeouts, DeadRetry, MaxIdleConns and DialContext unset"}
	}
	b, err := newBase(opts)
	if err != nil {
		return nil, err
	}
	b.client = c
	return b, nil
}

func newBase(opts Options) (*Backend, error) {
	for name, d := range map[string]time.Duration{"memcached_expire_time": opts.TTL, "lock_timeout": opts.LockTimeout, "socket_timeout": opts.Timeout, "connect_timeout": opts.ConnectTimeout, "lock_sleep": opts.LockSleep} {
		if d < 0 {
			return nil, &dogpile.ArgError{Name: name, Value: d, Reason: "negative duration"}
		}
	}
	b := &Backend{expire: opts.TTL, distributed: opts.DistributedLock, lockTimeout: opts.LockTimeout, lockSleep: opts.LockSleep, lockPrefix: opts.LockPrefix}
	if b.lockTimeout == 0 {
		b.lockTimeout = DefaultLockTimeout
	}
	if b.lockSleep == 0 {
		b.lockSleep = DefaultLockSleep
	}
	if b.lockPrefix == "" {
		b.lockPrefix = DefaultLockPrefix
	}
	if err := checkLockPrefix(b.lockPrefix); err != nil {
		return nil, &dogpile.ArgError{Name: "lock_prefix", Value: opts.LockPrefix, Reason: err.Error()}
	}
	b.expireRel = -1
	if b.expire <= maxRelativeExpiry {
		b.expireRel = expirySeconds(b.expire, time.Time{})
	}
	if b.lockTimeout > maxRelativeExpiry-lockClockSlack {
		// Memcached would read a longer exptime as a Unix time, long past.
		return nil, &dogpile.ArgError{Name: "lock_timeout", Value: opts.LockTimeout, Reason: "longer than 30 days less 2s"}
	}
	b.lockExpire = lockExpiry(b.lockTimeout)
	return b, nil
}

// lockExpiry is the exptime that keeps a lock for at least d. Memcached
// keeps time in whole seconds: a timer sets its clock, once a second, to the
// whole seconds since it started, and an item sent with exptime n expires
// when that clock has advanced by n. The clock lags the time by up to a
// second, and by up to two when the timer, re-armed after each run and so a
// little late each time, runs just after a second's end and then just after
// the next one's: it advances by two at once. So an item sent with n may
// expire n-2 seconds later (less the timer's lateness, microseconds), and
// normally does between n-1 and n (a 1s lock lived from 153 to 830ms). So d
// is rounded up, and two seconds more make up for the clock.
func lockExpiry(d time.Duration) int32 {
	return expirySeconds(d, time.Time{}) + int32(lockClockSlack/time.Second)
}

// lockClockSlack is what a lock's exptime adds to lock_timeout for
// Memcached's clock (see lockExpiry).
const lockClockSlack = 2 * time.Second

var (
	_ backend.Multi     = (*Backend)(nil)
	_ backend.Swapper   = (*Backend)(nil)
	_ backend.Locking   = (*Backend)(nil)
	_ backend.Immutable = (*Backend)(nil)
)

// expirySeconds is d as Memcached's exptime: whole seconds, rounded up so
// that nothing (a lock above all) ends before its time; over 30 days, the
// Unix time now+d, since Memcached reads larger numbers as absolute times.
// 0 means never.
func expirySeconds(d time.Duration, now time.Time) int32 {
	if d <= 0 {
		return 0
	}
	secs := int64((d + time.Second - 1) / time.Second)
	if d <= maxRelativeExpiry {
		return int32(secs)
	}
	abs := now.Unix() + secs
	if abs > math.MaxInt32 { // Memcached's text protocol: a 32-bit time (2038)
		abs = math.MaxInt32
	}
	return int32(abs)
}

// expiration is the exptime for a value stored now.
func (b *Backend) expiration() int32 {
	if b.expireRel >= 0 {
		return b.expireRel
	}
	return expirySeconds(b.expire, time.Now())
}

// Client returns the gomemcache client, for what the backend does not do
// (stats, flush_all, touch).
func (b *Backend) Client() *memcache.Client { return b.client }

// Selector returns the backend's server selector, or nil if it was made by
// NewFromClient.
func (b *Backend) Selector() *ServerSelector { return b.sel }

// Close closes the idle connections of a client New made; the backend can
// still be used afterwards. It leaves a client given to NewFromClient alone.
func (b *Backend) Close() error {
	if !b.ownClient {
		return nil
	}
	return b.client.Close()
}

// dialServer connects to a server. A server that cannot be reached is marked
// down (see Options.DeadRetry), and the error matches ErrServerDown.
func (b *Backend) dialServer(ctx context.Context, network, address string) (net.Conn, error) {
	if b.connect > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.connect)
		defer cancel()
	}
	c, err := b.dial(ctx, network, address)
	if err == nil {
		return c, nil
	}
	b.sel.markDown(address)
	down := &ServerDownError{Addr: address, Err: err}
	if b.sel.deadRetry > 0 {
		down.Until = time.Now().Add(b.sel.deadRetry)
	}
	return nil, down
}

// Get returns the value stored under key.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := b.checkKey(key); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	it, err := b.get(key)
	switch {
	case err == nil:
		return it.Value, true, nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil, false, nil
	}
	return nil, false, b.fail(ctx, "get", key, err)
}

// ValuesImmutable reports true (backend.Immutable): gomemcache reads each
// value into memory of its own, which nothing writes to afterwards.
func (b *Backend) ValuesImmutable() bool { return true }

// get reads key's item (with its CAS id), again on a new connection if the
// first one was broken.
func (b *Backend) get(key string) (*memcache.Item, error) {
	it, err := b.client.Get(key)
	if b.retry(err) {
		it, err = b.client.Get(key)
	}
	return it, err
}

// Set stores value under key, with the backend's TTL. A value over
// the server's item size limit is an error matching ErrValueTooLarge, and
// then nothing is stored under key.
func (b *Backend) Set(ctx context.Context, key string, value []byte) error {
	if m, ok := lock.As[*mutex](lock.Held(ctx, key)); ok && m.b == b {
		// A creation's write, under the key's lock: fenced.
		return m.SetFenced(ctx, key, value)
	}
	if err := b.checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	it := &memcache.Item{Key: key, Value: value, Expiration: b.expiration()}
	err := b.client.Set(it)
	if b.retry(err) { // set is idempotent: retry on a fresh connection
		err = b.client.Set(it)
	}
	if err != nil {
		return b.fail(ctx, "set", key, tooLarge(err, key, len(value)))
	}
	return nil
}

// tooLarge returns err, or an error matching ErrValueTooLarge if err is the
// server's refusal of key's item of n bytes as too large. It matches
// dogpile.ErrValueRefused too: the refusal of one value, not a server down,
// so that a fail-open region neither opens its breaker for it nor runs the
// creator again.
func tooLarge(err error, key string, n int) error {
	if err != nil && strings.Contains(err.Error(), "SERVER_ERROR object too large") {
		return &tooLargeError{key: key, n: n}
	}
	return err
}

// tooLargeError is the server's refusal of an item of n bytes under key. It
// matches ErrValueTooLarge, dogpile.ErrInvalidArgument and
// dogpile.ErrValueRefused; its text says what happened once, without the
// sentinels' words.
type tooLargeError struct {
	key string
	n   int
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("memcached: value too large: %s: %d bytes are over the server's item size limit (memcached -I); nothing is stored under the key", quoteKey(e.key), e.n)
}

func (e *tooLargeError) Is(target error) bool {
	return target == ErrValueTooLarge || target == dogpile.ErrInvalidArgument || target == dogpile.ErrValueRefused
}

// CompareAndSwap stores value under key if key holds old, or holds nothing
// when old is nil, and reports whether it did: by gets and cas (which fails
// if the item changed since the gets), and add for an absent key. It
// implements backend.Swapper. If the connection breaks under the write, so
// that whether it was made is unknown, the key is read again: swapped is
// then whether it holds value.
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, value []byte) (swapped bool, err error) {
	if err := b.checkKey(key); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	it := &memcache.Item{Key: key}
	if old != nil {
		cur, err := b.get(key)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			return false, nil
		case err != nil:
			return false, b.fail(ctx, "compare_and_swap", key, err)
		case !bytes.Equal(cur.Value, old):
			return false, nil
		}
		it = cur
	}
	it.Value, it.Expiration = value, b.expiration()
	if old == nil {
		err = b.client.Add(it)
	} else {
		err = b.client.CompareAndSwap(it)
	}
	switch {
	case err == nil:
		return true, nil
	case notSwapped(err):
		return false, nil
	case b.retry(err):
		cur, err := b.get(key)
		switch {
		case err == nil:
			return bytes.Equal(cur.Value, value), nil
		case errors.Is(err, memcache.ErrCacheMiss):
			return false, nil
		}
		return false, b.fail(ctx, "compare_and_swap", key, err)
	}
	return false, b.fail(ctx, "compare_and_swap", key, tooLarge(err, key, len(value)))
}

// notSwapped reports whether err is a conditional write's refusal: the item
// was there for an add, or changed or gone for a cas.
func notSwapped(err error) bool {
	return errors.Is(err, memcache.ErrNotStored) || errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrCacheMiss)
}

// Delete removes key; a missing key is no error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := b.checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := b.client.Delete(key)
	if b.retry(err) {
		err = b.client.Delete(key)
	}
	if err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return b.fail(ctx, "delete", key, err)
}

// GetMulti returns the values of keys, in order, nil where a key has none.
// It sends one get-multi per server holding any of the keys, to the servers
// at once. If any server fails, the call fails.
func (b *Backend) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	for _, k := range keys {
		if err := b.checkKey(k); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	items, err := b.client.GetMulti(keys)
	if b.retry(err) {
		items, err = b.client.GetMulti(keys)
	}
	if err != nil {
		return nil, b.fail(ctx, "get_multi", keys[0], err)
	}
	for i, k := range keys {
		if it := items[k]; it != nil {
			out[i] = it.Value
		}
	}
	return out, nil
}

// SetMulti stores every item. Memcached's text protocol has no multi-set, and
// gomemcache no pipelining, so this is one set per item, in turn. Every item
// is tried; the first error is returned.
func (b *Backend) SetMulti(ctx context.Context, items map[string][]byte) error {
	for k := range items {
		if err := b.checkKey(k); err != nil {
			return err
		}
	}
	var first error
	for k, v := range items {
		if err := b.Set(ctx, k, v); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// DeleteMulti removes every key, one delete each, as SetMulti does.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if err := b.checkKey(k); err != nil {
			return err
		}
	}
	var first error
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// fail turns a client error into the backend's: the caller's context error if
// its context ended meanwhile (gomemcache cannot be interrupted, so a call
// can outlive its context by up to Timeout), else an error matching
// dogpile.ErrBackend (see serverError).
func (b *Backend) fail(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("memcached: %s %s: %w (the call ended with: %v)", op, quoteKey(key), cerr, err)
	}
	return &serverError{err: err}
}

// retry reports whether a call that failed with err should be tried again,
// once: err is a connection that broke under the call, typically an idle
// pooled connection to a server that has restarted since. The other idle
// connections are then most likely broken too, and the retry could draw one
// of them; so all idle connections are dropped (gomemcache closes only the
// one that failed) and the retry dials afresh. Only idempotent calls retry.
func (b *Backend) retry(err error) bool {
	if !brokenConn(err) {
		return false
	}
	b.client.Close() //nolint:errcheck // closing idle connections; the client stays usable
	return true
}

func brokenConn(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}
