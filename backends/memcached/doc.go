// Package memcached is the dogpile backend for Memcached, on one server or
// many with consistent hashing, with an optional distributed dogpile lock.
// Importing it registers the backend "memcached" (and, so that Python
// dogpile.cache configurations carry over, "dogpile.cache.pylibmc",
// "dogpile.cache.memcached", "dogpile.cache.pymemcache",
// "dogpile.cache.bmemcached" and "dogpile.cache.memcache"):
//
//	import _ "github.com/dogpile-go/dogpile/backends/memcached"
//
//	region, err := dogpile.NewRegion().
//		Configure("memcached", dogpile.WithExpiration(time.Hour), dogpile.WithArguments(dogpile.Args{
//			"url":              "10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211",
//			"behaviors":        map[string]any{"tcp_nodelay": true, "ketama": true},
//			"distributed_lock": true,
//		}))
//
// [New] takes typed [Options] instead, and [NewFromClient] an existing
// gomemcache client; both return a *[Backend]. Options names the settings as
// every backend of this project does: memcached_expire_time is TTL,
// distributed_lock DistributedLock, lock_timeout LockTimeout, lock_sleep
// LockSleep and lock_prefix LockPrefix.
//
// # Client
//
// The backend is built on github.com/bradfitz/gomemcache, the de-facto
// standard Go client for Memcached: small, widely used and long maintained,
// safe for concurrent use, with the calls a cache needs (get-multi, add, CAS)
// and a pluggable server selector, which is where this package puts its
// consistent hashing. Its calls take no context: each read and write on a
// socket is bounded by Options.Timeout instead, and the backend checks the
// caller's context before every call and after a failed one, so a call can
// outlive its context by at most that timeout. gomemcache writes no log
// lines (its errors are all returned), and neither does this backend: there
// is no client log to route or silence.
//
// # Arguments
//
// By the names of Python's dogpile.cache (python-memcached's and pylibmc's),
// in dogpile.Args as configuration files give them. Any other argument is an
// error naming it.
//
//	argument               meaning                                                     default
//	url                    a server ("host:port", "host", "[::1]:11211", a Unix         required
//	                       socket path), a comma-separated string of them, or a list
//	distributed_lock       one creator per key across processes (see Locks)            false
//	lock_timeout           the least time a lock lives if neither renewed nor          30s
//	                       released (a dead holder's), ≥ 1s
//	lock_sleep             the longest pause of a process waiting for a lock           50ms
//	lock_prefix            the prefix of lock keys; value keys beginning with it are   "dogpile:lock:"
//	                       refused
//	memcached_expire_time  server-side expiry of every value; keep it longer than the  none
//	                       region's expiration, so expired values stay servable stale
//	socket_timeout         bounds each socket read/write, and connecting (Timeout)    1s
//	dead_retry             how long a server that refused a connection is skipped;    2s
//	                       0: never skipped (DeadRetry)
//	max_idle_conns         idle connections kept per server                            16
//	behaviors              pylibmc behaviors, below
//	binary                 pylibmc's binary protocol: ignored; the text protocol is used
//
// Times are seconds (numbers or numeric strings) or Go durations ("1500ms").
// The pylibmc behaviors that mean something here are mapped; those that mean
// nothing are accepted and ignored; the rest are an error:
//
//	behavior                        maps to
//	ketama: true                    Distribution Ketama (the default anyway); false: Modula
//	ketama_weighted: true           Distribution KetamaWeighted
//	distribution                    "consistent ketama", "consistent weighted", "modula"
//	connect_timeout (ms)            ConnectTimeout
//	send_timeout, receive_timeout   Timeout (the larger; socket_timeout wins)
//	  (µs)
//	retry_timeout, dead_timeout (s) DeadRetry (dead_retry wins)
//	tcp_nodelay, tcp_keepalive,     accepted and ignored: Go sets TCP_NODELAY and
//	no_block, cas, verify_keys,     keep-alive on its connections, CAS ids are always
//	buffer_requests, hash,          fetched, keys always checked, and the hash follows
//	ketama_hash                     from the distribution
//
// # Several servers
//
// Keys are spread by libmemcached's ketama consistent hashing (see
// [Distribution]): each server owns 100 points on a ring, a key goes to the
// server of the next point. Placements are exactly pylibmc's with
// {"ketama": True} (checked against recorded pylibmc placements), so Go and
// Python processes sharing servers agree on where each key lives. Going from
// 3 servers to 4 moved 25.8% of 100,000 keys in the test (24.8% with
// KetamaWeighted; plain modulo hashing moved 75%), all to the new server.
// Servers have equal weight.
//
// Multi-key reads are one get-multi per server holding any of the keys, sent
// to the servers at once (gomemcache groups keys by server): one round trip
// per server. Memcached's text protocol has no multi-set or multi-delete and
// gomemcache does not pipeline, so SetMulti and DeleteMulti are one call per
// key in turn.
//
// # Memcached's limits
//
// Memcached refuses keys longer than 250 bytes, or with spaces or control
// characters. A region on this backend stores any key: unless it is given a
// key mangler of its own, it uses the backend's ([Backend.KeyMangler]),
// which leaves the keys Memcached accepts as they are and replaces the
// others by their SHA-1. With dogpile.WithKeyMangler(nil) (key_mangler =
// "none" in a configuration file) keys reach the backend as they are, and
// one Memcached would refuse is a [*KeyError], matching [ErrInvalidKey] (and
// dogpile.ErrInvalidArgument), that names the key and what is wrong with it,
// before anything is sent.
//
// A value larger than the server's item size limit (memcached -I, 1 MiB by
// default, less the item's overhead) is refused by the server; the backend
// returns an error matching [ErrValueTooLarge] and dogpile.ErrValueRefused.
// Nothing is stored under the key: Memcached also drops the value it held, so
// no reader gets a stale one. A fail-open region returns the creator's value
// uncached, without opening its breaker: other keys stay cached.
//
// memcached_expire_time up to 30 days is sent as seconds from now; longer, as
// the Unix time of expiry, since Memcached reads larger numbers as absolute
// times (so server and client clocks should agree). Expiry times are whole
// seconds, rounded up.
//
// # Locks
//
// With distributed_lock (Options.DistributedLock) the backend's Mutex gives
// the distributed lock (without it, nil: a region then elects one creator
// per key in each process), and one creator runs per key among all processes
// using the servers, in the normal course of things (see "What the lock
// guarantees"). A lock is an item holding a token unique to its holder. A
// holder takes it with "add", which fails if the item exists, or by cas over
// a released lock (below). Waiters poll, as Memcached cannot tell them of a
// release: the first pause is about a millisecond, and each one is an eighth
// of the time waited so far (give or take a quarter, so that processes
// waiting together do not poll in step), at most lock_sleep; a waiter so
// learns of a release within about a sixth of its wait, and a long wait
// costs one poll per lock_sleep. Waiting ends with the caller's context.
//
// A lock lives at least lock_timeout. Memcached keeps time in whole seconds,
// on a clock that a timer sets once a second and that lags the time by up to
// a second — by up to two when the timer, a little late each time, runs just
// after the end of two seconds in a row — so an item sent with n seconds may
// expire anything from n-2 to n seconds later (a 1s lock lived 153 to 830ms).
// The lock is sent with lock_timeout rounded up to whole seconds plus two,
// and lives from lock_timeout (less the server timer's lateness, normally
// microseconds) to two seconds more; the lock of a crashed holder blocks its
// key for that long.
//
// The mutexes are leases (lock.Lease, with TTL lock_timeout): while a
// creation runs, the region renews its lock every lock_timeout/3, so a
// creator may run longer than lock_timeout. A renewal reads the lock with its
// CAS id, checks the token, and writes the same token back with a new expiry
// by cas (which fails if the item changed since the read). A renewal that
// finds the lock gone or another's ends the creation's context with
// lock.ErrLockLost as its cause. So lock_timeout need not exceed the longest
// creation; it is how long a dead holder blocks its key, and how long a
// living one may stall (a GC pause, a stopped process) before it loses its
// lock.
//
// Only the holder releases, and no release can end another holder's lock.
// Memcached's text protocol has no compare-and-delete (a get, compare and
// delete could delete the lock of a holder who took it after ours expired
// between the compare and the delete), so the lock is never deleted: the
// release reads it with its CAS id and, if it holds the holder's token, swaps
// it by cas for the marker of a free lock, which the next holder takes over
// by cas as it would add a missing lock. Every step compares before it
// writes. (The meta protocol's "md key C<cas>" would delete by CAS id; but
// gomemcache does not speak the meta protocol, and a client of our own for
// one command would duplicate its connection handling — dialing, TLS,
// timeouts, pooling, dead servers — and not work with NewFromClient's
// clients. The marker needs only cas, which every Memcached has, and a
// release costs two round trips, as gets and md would.)
//
// A lock's key is the lock prefix (lock_prefix, [DefaultLockPrefix] by default),
// the key's 8-hex-digit placement hash, and "." and the key, or "#" and the
// key's SHA-1 when the key is too long to fit in 250 bytes. Value keys
// beginning with the lock prefix are refused, so locks and values never
// collide. Every process sharing the servers must use the same lock_prefix,
// or their locks do not exclude each other. The selector places a lock by
// the hash it carries: a lock lives on its key's server.
//
// # Fenced writes
//
// The mutexes also write fenced (backend.Fenced): the region stores a value
// created under a lock through the lock, so that a creation that has lost its
// lock never overwrites the value of a later holder. Memcached has no
// server-side scripts to check the lock and write the value in one step; the
// value's CAS id does the job instead. A fenced write:
//
//  1. reads the value's item with its CAS id (or finds none);
//  2. reads the lock, and refuses with an error matching lock.ErrLockLost
//     unless it holds the holder's token;
//  3. writes the value by cas against the CAS id read in 1 (by add if there
//     was no item), which fails if anyone wrote the value after 1; then it
//     goes back to 1 (at most three times).
//
// Why this suffices: the lock item held the holder's token at 2, and another
// holder can take the lock only once that item is gone or released, so any
// later holder took the lock after 2, and any value it writes is written
// after 1: the stale holder's cas in 3 fails, and, reading again, it finds
// the lock not its own. Timing plays no part: a holder stalled
// between 2 and 3 for any length of time is still refused. Conversely the
// holder overwrites only a value written before 2, by an earlier holder (its
// creation began before this one's), or by a plain Set; and a value written
// between 1 and 3 by someone who is not the holder (a late write of a holder
// that lost the lock to this one, say) is read again and overwritten, the
// lock still this holder's. So no value created earlier replaces one created
// later. The windows that remain:
//
//   - An absent value: if there was no value at 1 and a later holder's value
//     is written and then removed (deleted, expired, evicted) before the
//     stale holder's add in 3, the add stores the older value — over
//     nothing, not over a newer one.
//   - A restart between 2 and 3 (one round trip): Memcached numbers CAS ids
//     anew after a restart, so the stale cas would succeed if a later holder
//     had meanwhile taken the lock and written the value under the very CAS
//     id read before the restart.
//   - A selector that moves keys between servers (a client given to
//     NewFromClient whose selector drops dead servers, say): the lock and the
//     value are then not each in one place. New's selector never moves keys.
//
// A fenced write costs three round trips where a set costs one, once per
// creation.
//
// # What the lock guarantees
//
// The lock lives in a cache, which may drop it: when its server restarts
// (Memcached keeps nothing across a restart), when memory pressure evicts it
// (a renewal rewrites it, which keeps a live lock in use, but does not pin
// it), when flush_all runs, or when its holder stalls — a long GC pause, a
// stopped process, a VM migration — past lock_timeout without a renewal. A
// second creator can then run at once. It is an efficiency lock: it keeps
// duplicate creations rare, not impossible. What holds whatever happens: the
// loss is found and counted (Stats.LocksLost) — the holder's next renewal
// ends its creation's context with lock.ErrLockLost, or its fenced write is
// refused, and its value (returned to its callers) is not stored — and,
// with fenced writes, the stored value is never one created before the
// value it replaced (within the windows above). When a key's server is
// down, its lock cannot be taken: the call fails with ErrServerDown, a
// backend error, to which the region's fail-open applies.
//
// # When a server dies
//
// Every error of a call to a server matches dogpile.ErrBackend, and the
// region counts it in Stats.BackendErrors. Calls for the keys of a dead
// server fail; they do not miss. (A miss would run the creator of every such
// key on every call, and its value could not be stored anyway.) The error
// matches [ErrServerDown]. When a connection to a server is refused, the
// server is skipped for dead_retry: calls for its keys fail at once, without
// connecting, and are tried again afterwards, so the region recovers by
// itself when the server is back (empty: its keys are created again). Keys on
// the other servers, and their locks, keep working; a multi-key call fails as
// a whole if it needs the dead server. Idle connections broken by a server's
// restart are noticed by the first call that draws one: the call drops the
// idle connections and goes on on a new one. Idempotent commands (get, set,
// delete, get-multi, a release's cas) are sent again; after a conditional
// write whose outcome matters (the add or cas that takes a lock, a swap, a
// fenced write), the item is read again to see whether it was made. A
// server that accepts connections but does not answer makes calls fail
// after Timeout, each time; it is not skipped.
package memcached
