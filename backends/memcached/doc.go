// Package memcached is the dogpile backend for Memcached, on one server or
// many with consistent hashing, with an optional distributed dogpile lock.
// Importing it registers the backend "memcached" (and so the seed's names
// "dogpile.cache.pylibmc", "dogpile.cache.memcached", "dogpile.cache.pymemcache",
// "dogpile.cache.bmemcached" and "dogpile.cache.memcache"):
//
//	import _ "github.com/dogpile-go/dogpile/backends/memcached"
//
//	region, err := dogpile.NewRegion(dogpile.WithKeyMangler(dogpile.SHA1Mangler)).
//		Configure("memcached", dogpile.WithExpiration(time.Hour), dogpile.WithArguments(dogpile.Args{
//			"url":              "10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211",
//			"behaviors":        map[string]any{"tcp_nodelay": true, "ketama": true},
//			"distributed_lock": true,
//		}))
//
// [New] takes typed [Options] instead, and [NewFromClient] an existing
// gomemcache client.
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
// outlive its context by at most that timeout.
//
// # Arguments
//
// By the seed's names (python-memcached's and pylibmc's), in dogpile.Args as
// configuration files give them. Any other argument is an error naming it.
//
//	argument               meaning                                                     default
//	url                    a server ("host:port", "host", "[::1]:11211", a Unix         required
//	                       socket path), a comma-separated string of them, or a list
//	distributed_lock       one creator per key across processes (see Locks)            false
//	lock_timeout           a lock's lifetime if never released, ≥ 1s                  30s
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
// Keys longer than 250 bytes, or with spaces or control characters, are
// refused with an error matching [ErrInvalidKey] (and
// dogpile.ErrInvalidArgument) that names the key, before anything is sent.
// Configure regions on Memcached with dogpile.WithKeyMangler(dogpile.SHA1Mangler),
// which turns every key into 40 hexadecimal characters; then any key works.
//
// A value larger than the server's item size limit (memcached -I, 1 MiB by
// default, less the item's overhead) is refused by the server; the backend
// returns an error matching [ErrValueTooLarge]. Nothing is stored under the
// key: Memcached also drops the value it held, so no reader gets a stale one.
//
// memcached_expire_time up to 30 days is sent as seconds from now; longer, as
// the Unix time of expiry, since Memcached reads larger numbers as absolute
// times (so server and client clocks should agree). Expiry times are whole
// seconds, rounded up.
//
// # Locks
//
// With distributed_lock the backend is a backend.Locking ([LockingBackend]):
// one creator runs per key among all processes using the servers. A lock is
// an item created with "add" (which fails if the key exists) holding a token
// unique to the holder, expiring after lock_timeout so that the lock of a
// crashed holder ends; keep lock_timeout longer than any creator runs.
// Waiting for a held lock polls, with pauses from 1ms doubling up to
// Options.LockPoll (50ms), and ends with the caller's context. Only the
// holder releases: the release reads the lock with its CAS id, checks the
// token, swaps the item for a marker by CAS (which fails if the lock changed
// hands) and deletes the marker.
//
// A lock's key is [LockPrefix] ("dogpile:lock:"), the key's 8-hex-digit
// placement hash, and "." and the key, or "#" and the key's SHA-1 when the
// key is too long to fit in 250 bytes. Value keys beginning with LockPrefix
// are refused, so locks and values never collide. The selector places a lock
// by the hash it carries: a lock lives on its key's server.
//
// # When a server dies
//
// Calls for the keys of a dead server fail; they do not miss. (A miss would
// run the creator of every such key on every call, and its value could not
// be stored anyway.) The error matches [ErrServerDown] and
// dogpile.ErrBackend. When a connection to a server is refused, the server
// is skipped for dead_retry: calls for its keys fail at once, without
// connecting, and are tried again afterwards, so the region recovers by
// itself when the server is back (empty: its keys are created again). Keys on
// the other servers, and their locks, keep working; a multi-key call fails as
// a whole if it needs the dead server. Idle connections broken by a server's
// restart are noticed by the first call that draws one: idempotent calls
// (get, set, delete, get-multi, and lock taking, which checks its own token)
// drop the idle connections and retry once on a new one. A server that
// accepts connections but does not answer makes calls fail after Timeout,
// each time; it is not skipped.
package memcached
