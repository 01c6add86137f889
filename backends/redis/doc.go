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
// The seed's dotted names (dogpile.cache.redis, dogpile.cache.redis_sentinel,
// dogpile.cache.redis_cluster) are aliases of redis, redis_sentinel and
// redis_cluster.
//
// # Arguments
//
// The seed's names. Numbers may be ints, floats or numeric strings; times
// are seconds or Go durations ("1500ms"); booleans are true/false or
// "true"/"false". An argument the backend does not know is an error that
// names it (*dogpile.ArgError), so a misspelling is never silently ignored.
//
//	argument                 variants   meaning
//	url                      redis      redis://[user:password@]host:port/db or rediss:// (TLS); unix:///path.
//	                         cluster    one URL or a list; every URL's host is a startup node.
//	                                    The URL's user, password and db win over the arguments (as in the seed).
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
//	                                    above (the seed's place for them); the top level wins
//	sentinels                sentinel   required: [["host", port], …], ["host:port", …] or "host:port,host:port"
//	service_name             sentinel   the master's name, default "mymaster"
//	sentinel_kwargs          sentinel   {"username": …, "password": …} for the sentinels themselves;
//	                                    by default they get username and password, as in the seed
//	startup_nodes            cluster    nodes as for sentinels (any one node is enough to find the rest)
//	redis_expiration_time    all        the server-side TTL of every value written; default none
//	distributed_lock         all        take the distributed lock before creating; default false for
//	                                    redis and redis_cluster, true for redis_sentinel (the seed's defaults)
//	lock_timeout             all        how long a lock lives unless released; default 30s
//	lock_sleep               all        pause between attempts to take a held lock; default 0.1s
//	lock_blocking_timeout    all        bound on waiting for a lock (then ErrLockWait); default: the caller's context
//	lock_blocking, thread_local_lock  all  accepted for the seed's configurations; no effect (the region decides
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
// Either returns a *Backend; its WithDistributedLock method returns the same
// backend with the distributed lock, for ConfigureBackend:
//
//	b, err := redis.New(redis.Options{Client: &goredis.Options{Addr: "localhost:6379"}, Expiration: time.Hour})
//	region, err := dogpile.NewRegion().ConfigureBackend(b.WithDistributedLock())
//
// The lock is a separate type because a region takes the distributed lock
// whenever its backend has one (backend.Locking); distributed_lock false
// gives a *Backend, true a *LockingBackend.
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
// Sentinel: reads and writes both go to the master. The seed reads from a
// replica; here that would break the lock, whose holder reads the key again
// after taking the lock to see whether another process has just stored it —
// a lagging replica would say no, and a second creator would run.
//
// # The distributed lock
//
// The lock of key K is the Redis key LockKey(K) = "\xffdogpile:lock:" + K.
// A holder takes it with SET lock token NX PX lock_timeout, where token is
// random (prefixed with the holder's host name and process id, for whoever
// inspects it) and releases it with a Lua script that deletes the key only if
// it still holds the holder's token, so a holder whose lock expired never
// releases another's. A holder that dies (a crash, SIGKILL) leaves its lock
// to expire after lock_timeout; meanwhile waiters poll every lock_sleep,
// bounded by their context. lock_timeout should be longer than the longest
// creation: a creation that outlives its lock may overlap another's.
//
// Lock keys cannot collide with values: the prefix begins with the byte 0xFF,
// which no UTF-8 text contains, and every value operation refuses a key with
// the prefix (ErrReservedKey). The seed's lock name ("_lock" + key) is an
// ordinary value key here. A hash tag in K is kept in its lock key, so in a
// Cluster a tagged key's lock lives on the key's slot.
//
// Within one process the region elects one caller per key before the lock
// is touched, so a process sends the server one lock attempt at a time per
// key, however many goroutines wait.
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
// a miss.
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
