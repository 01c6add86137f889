package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strings"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

// Errors of this package. They are wrapped with detail; test for them with
// errors.Is. The go-redis error stays in the chain too.
var (
	// ErrAuth: the server refused the username or password (WRONGPASS,
	// NOAUTH).
	ErrAuth = errors.New("dogpile/redis: authentication failed (check the username and password arguments)")
	// ErrUnreachable: no connection to the server could be made.
	ErrUnreachable = errors.New("dogpile/redis: cannot connect")
	// ErrReservedKey: the key lies in the namespace of the distributed
	// lock's keys (it begins with the lock prefix, DefaultLockPrefix unless
	// lock_prefix sets another), which values may not use.
	ErrReservedKey = errors.New("dogpile/redis: key is in the lock namespace")
	// ErrLockWait: waiting for the distributed lock took longer than
	// lock_blocking_timeout.
	ErrLockWait = errors.New("dogpile/redis: gave up waiting for the lock")
)

// Default values of the lock arguments.
const (
	// DefaultLockTimeout is lock_timeout when it is not given: the lifetime
	// of a lock's lease, renewed every third of it while the creator runs,
	// so it bounds how long a holder that died (or stalled) keeps others
	// waiting, not how long a creation may take. It is the lease time of
	// Redisson's lock watchdog. (Python's dogpile.cache has no timeout by
	// default, which leaves a crashed holder's lock in place for ever.)
	DefaultLockTimeout = 30 * time.Second
	// DefaultLockSleep is lock_sleep when it is not given (Python's
	// dogpile.cache's default): how often a waiter tries the lock again when
	// it hears of no release.
	DefaultLockSleep = 100 * time.Millisecond
)

// Options configures a Backend made by New or NewFromClient.
//
// For New, set exactly one of Client, Failover and Cluster: the go-redis
// options of the client the backend creates, owns and closes. NewFromClient
// takes a client instead and ignores those three.
type Options struct {
	// Client: a standalone server.
	Client *goredis.Options
	// Failover: a master found through Redis Sentinel. The backend reads from
	// the master only (see the package documentation).
	Failover *goredis.FailoverOptions
	// Cluster: a Redis Cluster.
	Cluster *goredis.ClusterOptions

	// TTL is the server-side lifetime of every value written
	// (redis_expiration_time); 0: values don't expire in Redis. It is apart
	// from the region's expiration and should be longer, so that an expired
	// value is still there to be served while it is regenerated.
	TTL time.Duration

	// DistributedLock gives the backend a distributed mutex
	// (distributed_lock), which a region takes before it creates a value,
	// so that one creator runs per key across every process sharing the
	// server. Without it, Mutex returns nil and a region elects one creator
	// per key in each process.
	DistributedLock bool
	// LockTimeout is the lifetime of the distributed lock's lease
	// (lock_timeout): renewed every third of it while the creator runs, it
	// is how long a holder that died or stalled keeps the lock from others;
	// DefaultLockTimeout when 0.
	LockTimeout time.Duration
	// LockSleep is how often a waiter tries a held lock again when it hears
	// of no release (lock_sleep); DefaultLockSleep when 0. Waiters are woken
	// by the release itself; this is the fallback.
	LockSleep time.Duration
	// LockWait bounds how long Mutex.Lock waits (lock_blocking_timeout);
	// 0: only by the caller's context.
	LockWait time.Duration
	// LockPrefix begins every lock key (lock_prefix); DefaultLockPrefix
	// when empty. Value keys that begin with it are refused (ErrReservedKey). It
	// may not contain "{": the hash tag after it keeps each lock in its
	// value's Cluster slot.
	LockPrefix string
	// Logger receives the backend's own log lines (the subscription to lock
	// releases lost and restored); when nil, the logger of the region the
	// backend is configured in (SetLogger), or slog.Default().
	Logger *slog.Logger
	// ClientLogger receives go-redis's log lines about the backend's
	// servers, where they are routed (RouteClientLogs, the registered
	// factories' default); when nil, Logger's.
	ClientLogger *slog.Logger
	// QuietClient drops go-redis's routed log lines about the backend's
	// servers (client_log = false).
	QuietClient bool
}

// Backend stores a region's values in Redis: standalone, behind Sentinel, or
// in a Cluster. It implements dogpile.Backend, backend.Multi,
// backend.Swapper and backend.Locking (its mutexes are lock.Lease and
// backend.Fenced; nil unless Options.DistributedLock is set). It is safe for
// concurrent use.
type Backend struct {
	client  goredis.UniversalClient
	cluster *goredis.ClusterClient // non-nil for a Cluster: multi-key calls go by slot
	single  bool                   // one server (or a Sentinel master): multi-key commands span all keys
	owned   bool                   // the backend created client and closes it
	where   string                 // the server(s), for error messages

	ttl         time.Duration
	distributed bool // Mutex returns mutexes (distributed_lock)
	lockTimeout time.Duration
	lockSleep   time.Duration
	lockWait    time.Duration
	lockPrefix  string
	waker       *waker // wakes this backend's lock waiters on a release
	logs        *logSink
}

// New returns a backend on a client it creates from opts. Close closes that
// client. New does not connect: the first call does (as go-redis does), so a
// region can be configured while Redis is still starting.
//
// New sets ContextTimeoutEnabled in the client's options, so that a call's
// context deadline bounds its network reads and writes, and makes a call to
// a server that can't be reached fail after one dial attempt, bounded by the
// options' DialTimeout (see the package documentation).
func New(opts Options) (*Backend, error) {
	n := 0
	for _, set := range []bool{opts.Client != nil, opts.Failover != nil, opts.Cluster != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, &dogpile.ArgError{Name: "Options", Reason: "set exactly one of Client, Failover and Cluster"}
	}
	var c goredis.UniversalClient
	where := ""
	switch {
	case opts.Client != nil:
		o := *opts.Client
		o.ContextTimeoutEnabled = true
		o.DialerRetries, o.Dialer = failFast(o.DialerRetries, o.Dialer, o.DialTimeout, o.TLSConfig)
		c = goredis.NewClient(&o)
	case opts.Failover != nil:
		o := *opts.Failover
		o.ContextTimeoutEnabled = true
		o.DialerRetries, o.Dialer = failFast(o.DialerRetries, o.Dialer, o.DialTimeout, o.TLSConfig)
		c = goredis.NewFailoverClient(&o)
		where = sentinelWhere(&o)
	default:
		o := *opts.Cluster
		o.ContextTimeoutEnabled = true
		o.DialerRetries, o.Dialer = failFast(o.DialerRetries, o.Dialer, o.DialTimeout, o.TLSConfig)
		c = goredis.NewClusterClient(&o)
	}
	b, err := newBackend(c, opts, where)
	if err != nil {
		c.Close() //nolint:errcheck // the options were wrong; nothing was used
		return nil, err
	}
	b.owned = true
	return b, nil
}

// sentinelWhere names a Sentinel-managed master for error messages.
func sentinelWhere(o *goredis.FailoverOptions) string {
	return fmt.Sprintf("redis master %q through sentinels %s", o.MasterName, strings.Join(o.SentinelAddrs, ","))
}

// NewFromClient returns a backend on an existing client: a *redis.Client
// (standalone or from NewFailoverClient), a *redis.ClusterClient, or any
// other redis.UniversalClient (a Ring: multi-key calls then pipeline one
// command per key). The client stays the caller's: Close does not close it.
// opts.Client, opts.Failover and opts.Cluster are ignored.
func NewFromClient(client goredis.UniversalClient, opts Options) (*Backend, error) {
	if client == nil {
		return nil, &dogpile.ArgError{Name: "client", Reason: "NewFromClient needs a client"}
	}
	return newBackend(client, opts, "")
}

// newBackend makes a backend on c; where names the server(s) in errors
// (worked out from c when empty).
func newBackend(c goredis.UniversalClient, opts Options, where string) (*Backend, error) {
	for name, d := range map[string]time.Duration{"TTL": opts.TTL, "LockTimeout": opts.LockTimeout, "LockSleep": opts.LockSleep, "LockWait": opts.LockWait} {
		if d < 0 {
			return nil, &dogpile.ArgError{Name: name, Value: d, Reason: "negative duration"}
		}
	}
	if opts.TTL > 0 && opts.TTL < time.Millisecond {
		return nil, &dogpile.ArgError{Name: "TTL", Value: opts.TTL, Reason: "below Redis's resolution of a millisecond"}
	}
	if opts.LockTimeout > 0 && opts.LockTimeout < time.Millisecond {
		return nil, &dogpile.ArgError{Name: "LockTimeout", Value: opts.LockTimeout, Reason: "below Redis's resolution of a millisecond"}
	}
	if strings.Contains(opts.LockPrefix, "{") {
		return nil, &dogpile.ArgError{Name: "LockPrefix", Value: opts.LockPrefix, Reason: `may not contain "{": the lock's hash tag must be the first, to keep the lock in its value's cluster slot`}
	}
	b := &Backend{
		client:      c,
		ttl:         opts.TTL,
		distributed: opts.DistributedLock,
		lockTimeout: opts.LockTimeout,
		lockSleep:   opts.LockSleep,
		lockWait:    opts.LockWait,
		lockPrefix:  opts.LockPrefix,
	}
	if b.lockPrefix == "" {
		b.lockPrefix = DefaultLockPrefix
	}
	if b.lockTimeout == 0 {
		b.lockTimeout = DefaultLockTimeout
	}
	if b.lockSleep == 0 {
		b.lockSleep = DefaultLockSleep
	}
	switch x := c.(type) {
	case *goredis.Client:
		b.single = true
		b.where = "redis at " + x.Options().Addr
		if x.Options().Addr == "FailoverClient" { // go-redis's placeholder; the master changes with failovers
			b.where = "redis master through Sentinel"
		}
	case *goredis.ClusterClient:
		b.cluster = x
		b.where = "redis cluster at " + strings.Join(x.Options().Addrs, ",")
	default:
		b.where = fmt.Sprintf("redis (%T)", c)
	}
	if where != "" {
		b.where = where
	}
	// One subscription hears every release on one server and, as PUBLISH
	// reaches every node, in a Cluster; a client that shards otherwise (a
	// Ring) would need one per shard: its waiters poll.
	b.logs = newLogSink(opts, b.where)
	b.waker = newWaker(c, b.logs.logger(), b.single || b.cluster != nil)
	return b, nil
}

// Client returns the go-redis client the backend uses, for what the backend
// does not do (health checks, metrics hooks, other data).
func (b *Backend) Client() goredis.UniversalClient { return b.client }

// Close ends the backend's subscription to lock releases and closes the
// client if the backend created it (New, or a registered factory); a client
// given to NewFromClient is left open.
func (b *Backend) Close() error {
	b.waker.close()
	b.logs.close()
	if !b.owned {
		return nil
	}
	if err := b.client.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		return err
	}
	return nil
}

// Mutex returns a would-be holder of key's distributed lock, or nil without
// Options.DistributedLock; it implements backend.Locking. The mutex is a
// *Mutex: a lock.Lease and a backend.Fenced.
func (b *Backend) Mutex(key string) lock.Mutex {
	if !b.distributed {
		return nil // an untyped nil: the region then locks in process
	}
	return b.NewMutex(key)
}

// checkKey refuses keys in the lock namespace, so that a value can never
// overwrite, read or delete a lock.
func (b *Backend) checkKey(key string) error {
	if strings.HasPrefix(key, b.lockPrefix) {
		return fmt.Errorf("%w: %q begins with the lock prefix %q", ErrReservedKey, key, b.lockPrefix)
	}
	return nil
}

func (b *Backend) checkKeys(keys []string) error {
	for _, k := range keys {
		if err := b.checkKey(k); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the value stored under key: the reply's memory, not a copy,
// which must not be modified.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := b.checkKey(key); err != nil {
		return nil, false, err
	}
	// Bytes is the reply's own buffer, not a copy (see replyBytes).
	v, err := b.client.Get(ctx, key).Bytes()
	if err != nil {
		if err == goredis.Nil {
			return nil, false, nil
		}
		return nil, false, b.wrap(err)
	}
	if v == nil {
		v = []byte{} // a stored empty value: present
	}
	return v, true, nil
}

var _ backend.Immutable = (*Backend)(nil)

// ValuesImmutable reports true (backend.Immutable): a value is the memory of
// go-redis's reply string, which nothing writes to, one string a value.
func (b *Backend) ValuesImmutable() bool { return true }

// Set stores value under key, with the server-side TTL if one is set.
func (b *Backend) Set(ctx context.Context, key string, value []byte) error {
	if m := b.heldMutex(ctx, key); m != nil {
		// A creation's write, under the key's lock: fenced.
		return m.SetFenced(ctx, key, value)
	}
	if err := b.checkKey(key); err != nil {
		return err
	}
	return b.wrap(b.client.Set(ctx, key, value, b.ttl).Err())
}

// heldMutex returns the mutex of this backend that ctx holds for key (the
// context of a creation under key's lock, see lock.Held), or nil.
func (b *Backend) heldMutex(ctx context.Context, key string) *Mutex {
	if m, ok := lock.As[*Mutex](lock.Held(ctx, key)); ok && m.b == b {
		return m
	}
	return nil
}

// Delete removes key.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := b.checkKey(key); err != nil {
		return err
	}
	return b.wrap(b.client.Del(ctx, key).Err())
}

// GetMulti returns the values of keys in one round trip: one MGET on a
// single server; in a Cluster one MGET per hash slot, pipelined, which
// go-redis sends as one pipeline per node, all nodes at once. The values are
// the memory go-redis read them into, not copies, and must not be modified.
func (b *Backend) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if err := b.checkKeys(keys); err != nil {
		return nil, err
	}
	if b.single {
		return b.mget(ctx, keys)
	}
	out := make([][]byte, len(keys))
	groups := b.groups(keys)
	cmds := make([]*goredis.SliceCmd, len(groups))
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, g := range groups {
			cmds[i] = p.MGet(ctx, g.keys...)
		}
		return nil
	})
	if err != nil {
		return nil, b.wrap(err)
	}
	for i, g := range groups {
		fill(out, cmds[i].Val(), g.index)
	}
	return out, nil
}

// mget is GetMulti on one server: one MGET, with the keys handed to go-redis
// by pointer (keyArg), not boxed, and go-redis's own reader and retries.
// (Reading the raw reply into one buffer instead, to split it, saved an
// allocation a value but was slower: go-redis copies the raw reply a value
// at a time, through a reader made for each.)
func (b *Backend) mget(ctx context.Context, keys []string) ([][]byte, error) {
	args := make([]any, 1+len(keys))
	args[0] = "mget"
	for i := range keys {
		args[1+i] = (*keyArg)(&keys[i])
	}
	cmd := goredis.NewSliceCmd(ctx, args...)
	if err := b.client.Process(ctx, cmd); err != nil {
		return nil, b.wrap(err)
	}
	out := make([][]byte, len(keys))
	fill(out, cmd.Val(), nil)
	return out, nil
}

// keyArg is a key handed to go-redis as a command argument by pointer: a
// string boxed into an interface is one allocation per key, a pointer none.
// go-redis writes it through MarshalBinary (the key's own bytes, not a copy:
// it only reads them); a hook that prints commands, such as a tracer's,
// through String.
type keyArg string

// MarshalBinary returns the key's bytes, which go-redis writes and does not keep.
func (k *keyArg) MarshalBinary() ([]byte, error) {
	return unsafe.Slice(unsafe.StringData(string(*k)), len(*k)), nil
}

// String returns the key.
func (k *keyArg) String() string { return string(*k) }

// fill puts MGET's reply into out, at index[i] (or i when index is nil).
func fill(out [][]byte, vals []any, index []int) {
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // nil: no value
		}
		j := i
		if index != nil {
			j = index[i]
		}
		out[j] = replyBytes(s)
	}
}

// replyBytes returns the bytes of s, a value go-redis read from a reply,
// without copying them. go-redis reads every bulk string into a buffer made
// for it alone (its proto.Reader) and hands it out as a string; its own
// StringCmd.Bytes returns that buffer as a []byte the same way. Nothing else
// holds the buffer, and nothing writes to it: a region only reads the bytes
// a backend returns (backend.Backend), and may keep them, as this memory is
// never reused.
func replyBytes(s string) []byte {
	if s == "" {
		return []byte{} // a stored empty value: present, not nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// SetMulti stores every item in one round trip: MSET (one server, no TTL),
// or pipelined SET … PX (with a TTL, or in a Cluster, grouped by slot).
func (b *Backend) SetMulti(ctx context.Context, items map[string][]byte) error {
	// A creation's writes, under the keys' locks: each fenced (one script
	// per key), the rest in one round trip.
	var rest map[string][]byte
	for k, v := range items {
		if m := b.heldMutex(ctx, k); m != nil {
			if rest == nil {
				rest = maps.Clone(items)
			}
			delete(rest, k)
			if err := m.SetFenced(ctx, k, v); err != nil {
				return err
			}
		}
	}
	if rest != nil {
		items = rest
	}
	if len(items) == 0 {
		return nil
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		if err := b.checkKey(k); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	if b.single && b.ttl == 0 {
		pairs := make([]any, 0, 2*len(items))
		for k, v := range items {
			pairs = append(pairs, k, v)
		}
		return b.wrap(b.client.MSet(ctx, pairs...).Err())
	}
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if b.ttl > 0 || b.cluster == nil {
			for _, k := range keys {
				p.Set(ctx, k, items[k], b.ttl)
			}
			return nil
		}
		for _, g := range b.groups(keys) {
			pairs := make([]any, 0, 2*len(g.keys))
			for _, k := range g.keys {
				pairs = append(pairs, k, items[k])
			}
			p.MSet(ctx, pairs...)
		}
		return nil
	})
	return b.wrap(err)
}

// DeleteMulti removes every key in one round trip (DEL, by slot in a
// Cluster).
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := b.checkKeys(keys); err != nil {
		return err
	}
	if b.single {
		return b.wrap(b.client.Del(ctx, keys...).Err())
	}
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, g := range b.groups(keys) {
			p.Del(ctx, g.keys...)
		}
		return nil
	})
	return b.wrap(err)
}

// keyGroup is keys that one multi-key command may carry, with their
// positions in the caller's list.
type keyGroup struct {
	keys  []string
	index []int
}

// groups splits keys by Cluster hash slot; for other sharded clients (a
// Ring), into one key per group, as their pipelines route by a command's
// first key only.
func (b *Backend) groups(keys []string) []keyGroup {
	if b.cluster == nil {
		gs := make([]keyGroup, len(keys))
		for i, k := range keys {
			gs[i] = keyGroup{keys: []string{k}, index: []int{i}}
		}
		return gs
	}
	bySlot := make(map[uint16]int, len(keys))
	var gs []keyGroup
	for i, k := range keys {
		s := Slot(k)
		g, ok := bySlot[s]
		if !ok {
			g = len(gs)
			bySlot[s] = g
			gs = append(gs, keyGroup{})
		}
		gs[g].keys = append(gs[g].keys, k)
		gs[g].index = append(gs[g].index, i)
	}
	return gs
}

// casScript stores ARGV[3] under KEYS[1] if the key holds ARGV[2] — or
// holds nothing, when ARGV[1] is "absent" — with the server-side TTL in
// milliseconds (ARGV[4], 0: none).
var casScript = goredis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if ARGV[1] == "absent" then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
if ARGV[4] == "0" then
  redis.call("SET", KEYS[1], ARGV[3])
else
  redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
end
return 1`)

// CompareAndSwap stores new under key if key holds old — or holds nothing,
// when old is nil — and reports whether it did (backend.Swapper). The check
// and the write are one script on the server; the write carries the
// server-side TTL, as Set's does.
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if err := b.checkKey(key); err != nil {
		return false, err
	}
	mode := "equal"
	if old == nil {
		mode = "absent"
	}
	n, err := casScript.Run(ctx, b.client, []string{key}, mode, old, new, b.ttl.Milliseconds()).Int()
	if err != nil {
		return false, b.wrap(err)
	}
	return n == 1, nil
}

// wrap makes the two errors users meet first say what they are: a refused
// password and an unreachable server. Other errors pass as they are (the
// region adds the operation and key).
func (b *Backend) wrap(err error) error {
	if err == nil {
		return nil
	}
	if goredis.IsAuthError(err) {
		return fmt.Errorf("%w: %s: %w", ErrAuth, b.where, err)
	}
	if strings.HasPrefix(err.Error(), "OOM ") {
		// maxmemory with noeviction: this value is refused, the server is
		// up — the region's breaker must not take it for an outage.
		return fmt.Errorf("%w: %s: %w", dogpile.ErrValueRefused, b.where, err)
	}
	var de *dialError
	if errors.As(err, &de) {
		err = de.err // what failFast hid from go-redis's retries
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w to %s: %w", ErrUnreachable, b.where, err)
	}
	var (
		verify *tls.CertificateVerificationError
		header tls.RecordHeaderError
	)
	// "remote error": the server's TLS alert, such as a refused client
	// certificate.
	if errors.As(err, &verify) || errors.As(err, &header) || op != nil && op.Op == "remote error" {
		return fmt.Errorf("%w to %s (TLS handshake): %w", ErrUnreachable, b.where, err)
	}
	return err
}
