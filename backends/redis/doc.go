// Package redis stores dogpile regions in Redis — a standalone server, a
// master behind Redis Sentinel, or a Redis Cluster — and provides the
// distributed dogpile lock, so that one creator runs per key across every
// process and host sharing the server. It is built on go-redis v9.
//
// Importing the package registers three backends:
//
//	import _ "github.com/dogpile-go/dogpile/backends/redis"
//
//	region, err := dogpile.NewRegion().Configure("redis", dogpile.WithArguments(dogpile.Args{
//		"url":                   "redis://localhost:6379/0",
//		"redis_expiration_time": 3600,
//		"distributed_lock":      true,
//	}))
//
// Python's dotted names (dogpile.cache.redis, dogpile.cache.redis_sentinel,
// dogpile.cache.redis_cluster) are aliases of redis, redis_sentinel and
// redis_cluster.
//
// # Arguments
//
// Python's dogpile.cache's names. Numbers may be ints, floats or numeric strings; times
// are seconds or Go durations ("1500ms"); booleans are true/false or
// "true"/"false". An argument the backend does not know is an error that
// names it (*dogpile.ArgError), so a misspelling is never silently ignored.
//
//	argument                 variants   meaning
//	url                      redis      redis://[user:password@]host:port/db or rediss:// (TLS); unix:///path.
//	                         cluster    one URL or a list; every URL's host is a startup node.
//	                                    username, password and db fill in what the URL lacks; given in
//	                                    both places with different values, they are an error.
//	host, port               redis      default localhost, 6379 (ignored when url is given)
//	                         cluster    one startup node
//	db                       redis, sentinel  database number, default 0 (Cluster has only 0)
//	username, password       all        ACL user and password
//	socket_timeout           all        read and write timeout per command (go-redis's default, 5s, when not given)
//	socket_connect_timeout   all        dial timeout (go-redis's default, 5s, when not given)
//	socket_keepalive         all        accepted; TCP keep-alive is always on
//	ssl                      all        true: TLS (also on when any ssl_* file is given, or with rediss://)
//	ssl_ca_certs             all        PEM file of the CAs to trust (the system's otherwise)
//	ssl_certfile, ssl_keyfile all       client certificate and key (PEM; the key may be in the certificate's file)
//	ssl_cert_reqs            all        "required" (default; "optional" is the same for a client) or "none": no verification
//	ssl_check_hostname       all        default true; false verifies the chain but not the server's name
//	max_connections, pool_size all      connection pool size (go-redis PoolSize; per node in a Cluster)
//	client_name              all        CLIENT SETNAME of every connection
//	max_retries              all        go-redis MaxRetries (0: default 3; -1: none)
//	connection_kwargs        all        a map holding any of the arguments from username to max_retries
//	                                    above (Python's place for them); the top level wins
//	sentinels                sentinel   required: [["host", port], …], ["host:port", …] or "host:port,host:port"
//	service_name             sentinel   the master's name, default "mymaster"
//	sentinel_kwargs          sentinel   {"username": …, "password": …} for the sentinels themselves;
//	                                    by default they get username and password, as in Python
//	startup_nodes            cluster    nodes as for sentinels (any one node is enough to find the rest)
//	redis_expiration_time    all        the server-side TTL of every value written; default none
//	distributed_lock         all        take the distributed lock before creating; default false for
//	                                    redis and redis_cluster, true for redis_sentinel (Python's defaults)
//	lock_timeout             all        the lock's lease, renewed every third of it while the creator runs:
//	                                    how long a dead or stalled holder keeps others waiting; default 30s
//	lock_sleep               all        how often a waiter tries again when it hears of no release; default 0.1s
//	lock_blocking_timeout    all        bound on waiting for a lock (then ErrLockWait); default: the caller's context
//	lock_prefix              all        the beginning of every lock key; default "\xffdogpile:lock:"
//	client_log               all        false drops go-redis's log lines about the backend's servers (see Logging)
//	lock_blocking, thread_local_lock  all  accepted for Python's configurations; no effect (the region decides
//	                                    per call whether to wait, and a Go mutex has no thread)
//
// connection_pool and socket_keepalive_options (redis-py objects and socket
// options) are refused with an error that says what to do instead: build a
// go-redis client and pass it to NewFromClient.
//
// # Typed constructors
//
// New makes, owns and closes a client from go-redis's own options (exactly
// one of Options.Client, Options.Failover, Options.Cluster); NewFromClient
// uses a client the application already has and leaves it open on Close.
// Either returns a *Backend, for ConfigureBackend; Options.DistributedLock
// switches the distributed lock on, as distributed_lock does:
//
//	b, err := redis.New(redis.Options{
//		Client:          &goredis.Options{Addr: "localhost:6379"},
//		TTL:             time.Hour,
//		DistributedLock: true,
//	})
//	region, err := dogpile.NewRegion().ConfigureBackend(b)
//
// A *Backend is a backend.Locking either way; without the lock its Mutex
// returns nil, and a region then elects one creator per key in each process.
// Backend.NewMutex gives a lock to use without a region, whatever the
// setting.
//
// Options names the settings as every backend of this project does:
// redis_expiration_time is TTL, distributed_lock DistributedLock,
// lock_timeout LockTimeout, lock_sleep LockSleep, lock_blocking_timeout
// LockWait, lock_prefix LockPrefix and client_log = false QuietClient.
//
// # Values and round trips
//
// A value is stored under the key exactly as the region hands it over (after
// the region's key mangler), with no prefix: redis-cli GET key finds it.
// redis_expiration_time sets its TTL on every write (SET … PX); it is apart
// from the region's expiration and should be longer, so that an expired value
// is still there to be served while one caller regenerates it.
//
// Multi-key calls are one round trip: GetMulti is one MGET, SetMulti one MSET
// (or, with a TTL, pipelined SET … PX), DeleteMulti one DEL. In a Cluster
// the keys are grouped by hash slot (Slot), one MGET/MSET/DEL per slot, and
// go-redis sends each node its commands in one pipeline, all nodes at once:
// one round trip per node. GetOrCreateMulti therefore costs three round trips
// however many keys it asks for (read, read again under the locks, write) —
// plus, with distributed_lock, a lock and an unlock per key to create, which
// the region takes one at a time.
//
// Sentinel: reads and writes both go to the master. Python's dogpile.cache
// reads from a replica; here that would break the lock, whose holder reads
// the key again after taking the lock to see whether another process has
// just stored it — a lagging replica would say no, and a second creator
// would run.
//
// # The distributed lock
//
// The lock of the value key K is the Redis key
//
//	lock_prefix + "{" + tag + "}" + K
//
// (LockKey; the default prefix is DefaultLockPrefix, "\xffdogpile:lock:"). The tag
// is K's own hash tag when it has one ("user:{42}:name" → "42"), otherwise K
// itself, so that in a Cluster the lock lives in its value's slot — one
// script can then check the one and write the other — and a client that
// shards by hash tag (a Ring) sends both to one server. (A key without a tag
// that contains "}" can't be its own tag; its lock gets a tag of up
// to three letters and digits that hashes to the same slot, which a Ring does not
// honour: on a Ring such keys' fenced writes are refused, counted as lost
// locks.) Lock keys cannot collide with values: the default prefix begins
// with the byte 0xFF, which no UTF-8 text contains, and every value
// operation refuses a key that begins with the lock prefix (ErrReservedKey).
// Python's lock name ("_lock" + key) is an ordinary value key here, unless
// lock_prefix is "_lock".
//
// A holder takes the lock with SET lock token NX PX lock_timeout, where the
// token is random (prefixed with the holder's host name and process id, for
// whoever inspects it). While the creator runs, the region renews the lock
// every lock_timeout/3 (Mutex.Renew: PEXPIRE, only if the lock still holds
// the token; the watchdog of Redisson's locks), so a creator may take as
// long as it needs, and lock_timeout is how long a holder that died or
// stalled keeps the others waiting. The default, 30s, is the lease of
// Redisson's watchdog: long enough that a stall of the holder (a long pause,
// a slow network) does not lose the lock, short enough that a crashed
// holder's key is free again within half a minute. A renewal that finds the
// lock gone ends the creation's context with lock.ErrLockLost as its cause.
//
// The value is written through the lock (Mutex.SetFenced): one script
// compares the lock's token and sets the value with redis_expiration_time,
// so a holder that lost its lock — it expired while the holder was stalled,
// another process took it, or it was lost in a restart or a failover —
// writes nothing, and its caller still gets the value it made. The release
// is a script too: it deletes the lock only if it holds the holder's token,
// so a holder whose lock expired never releases another's.
//
// What the lock guarantees. It is an efficiency lock on one master, as
// every Redis lock without consensus is: it makes one creator per key the
// rule, not a certainty. A held lock is lost — and a second creator may run
// at once — when the server restarts without persistence, when Sentinel
// fails over to a replica that had not yet received the lock (replication
// is asynchronous), or when the server evicts it (a maxmemory policy that
// evicts keys with a TTL: volatile-* and allkeys-*). What the lease and the
// fenced write keep right is the data: a creation that lost its lock never
// writes over the value of the holder that came after it, so no older value
// is ever stored over a newer one and served as fresh. (After a failover, the
// old master may accept writes until Sentinel demotes it; what it took is
// discarded when it resynchronizes from the new master.)
//
// Waiting. A process that finds the lock held waits for its release: the
// release script PUBLISHes on a channel named like the lock key, and each
// backend keeps one subscription connection (opened at the first wait) to
// the channels of the locks its goroutines wait for — one connection
// however many goroutines wait — and wakes the waiters of a channel at once.
// Redis delivers a message at most once, so a waiter also tries every
// lock_sleep (a lost subscription, or a holder that died and whose lock
// expired without a release); a subscription made again after a lost
// connection wakes every waiter, for what it may have missed. In a Cluster
// the release uses PUBLISH, which the cluster bus carries to every node, so
// that the one subscription, on any node, hears every slot's releases and
// survives resharding; SPUBLISH would keep a release on its shard but need a
// subscription per shard owner, followed through every slot migration and
// failover. A release is one small message per creation, which is rare next
// to reads. A user whose ACL forbids the channels still releases; its
// waiters poll. So do the waiters of a Ring (NewFromClient), whose releases
// are spread over shards that one subscription can't hear.
//
// Within one process the region elects one caller per key before the lock
// is touched, so a process sends the server one lock attempt at a time per
// key, however many goroutines wait.
//
// Upgrading: the lock key's format changed with the tag. While processes of
// an older version (lock key DefaultLockPrefix + K) and of this one share a
// server, they don't exclude each other; each version still runs one
// creator per key among its own processes.
//
// CompareAndSwap (backend.Swapper) replaces a value only if it still is
// what the caller read, in one script; the region updates its shared
// invalidation record with it.
//
// # Errors
//
// A refused password or user is ErrAuth; a server that can't be reached, or
// a failed TLS handshake, is ErrUnreachable; both name the server and keep
// go-redis's error in the chain (errors.Is and errors.As work). Clients made
// by this package set go-redis's ContextTimeoutEnabled, so a context's
// deadline bounds each network call; socket_timeout and
// socket_connect_timeout bound them otherwise. A key holding another Redis
// type is Redis's WRONGTYPE error; bytes that are not a dogpile entry read as
// a miss. No error shows a password: URLs are shown redacted, and a password
// argument's value never.
//
// A server that can't be reached fails a call after one dial attempt,
// bounded by socket_connect_timeout (go-redis's DialTimeout with New), for
// clients made by New and by the factories: go-redis alone dials five times
// per command and retries a command whose dial failed, each try bounded by
// the timeout. Other failures — a connection that broke, a server loading or
// failing over — are retried by go-redis as before (max_retries).
//
// # Logging
//
// go-redis logs through one logger for the whole process, by default to
// standard error. The backends made by the registered factories route its
// lines (RouteClientLogs) at debug level — most repeat an error the call
// returns — to the logger of the region the backend is configured in
// (dogpile.WithLogger; slog.Default() otherwise): each line to the backends
// whose server address or Sentinel master name it quotes, a line that
// quotes none to every live backend's. Options.ClientLogger routes a
// backend's lines elsewhere, and client_log = false (Options.QuietClient)
// drops them. The application keeps the last word: SetClientLogger sends
// every go-redis line, this package's and any other client's, to one logger,
// and a call of it (or of RouteClientLogs) before the first factory-made
// backend is kept. New and NewFromClient leave go-redis's logger as it is.
// The backend's own lines (the subscription to lock releases lost, restored)
// go to Options.Logger, or the region's logger.
//
// # What was tested
//
// The tests run against real servers started by internal/testserver: Redis
// 7.0.15 (Debian's redis-server package) standalone, with TLS, a Sentinel
// setup (master, replica, three sentinels; the master killed mid-test), and a
// three-master Cluster. Valkey is not packaged on the build machines, so it
// was not tested; it speaks the same protocol and go-redis supports it, so it
// is expected to work.
package redis
