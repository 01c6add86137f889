// Package tiered puts a bounded in-process tier in front of a remote backend
// (Redis), kept coherent across processes: a Set, Delete or invalidation in
// one process drops the local copies in every other within milliseconds.
// Hits then cost a lookup in process memory instead of a network round trip,
// without the staleness of a plain local cache in front of a shared one.
//
//	rb, err := redis.New(redis.Options{Client: &goredis.Options{Addr: "localhost:6379"}, DistributedLock: true})
//	n, err := redis.NewNotifier(rb.Client(), "dogpile:tier:users", redis.NotifierOptions{})
//	tier, err := tiered.New(rb, tiered.Options{
//		Notifier:   n,           // the coherence transport: Redis pub/sub
//		MaxEntries: 50_000,      // local copies (W-TinyLFU eviction)
//		TTL:        10 * time.Second,
//	})
//	region, err := dogpile.NewRegion(dogpile.WithName("users")).ConfigureBackend(tier,
//		dogpile.WithExpiration(time.Hour),
//		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
//	defer region.Close() // the tier, then the Redis backend
//
// Every process sharing the keys uses the same channel; one channel may
// serve many regions (each message names its keys), or each region may have
// its own, so that processes hear only about the regions they use.
//
// # Reads and writes
//
// A read is served from the local tier when it holds the key; otherwise it
// goes to the remote backend and the answer is kept — a value, or the
// remote's "no value", so that a key nobody has created, such as the shared
// invalidation key of a region never invalidated, does not cost a round trip
// per read. GetMulti reads only the keys not held locally, in one remote
// call.
//
// A write (Set, SetMulti, Delete, DeleteMulti) goes to the remote backend,
// then drops the key's local copy and publishes the keys it changed, one
// message per call. The writer does not keep what it wrote: with writers in
// several goroutines or processes it cannot know which write the remote
// backend kept last, so its next read fetches it (one round trip per write).
// A writer reads its own writes at once; other processes after the message.
//
// The distributed mutex is the remote backend's (a tier over a backend
// without one has none), wrapped so that taking it drops the key's local
// copy: the region reads the key again right after taking the lock, to see
// whether another process stored it meanwhile, and that read must reach
// Redis rather than a copy whose eviction message is still on its way — or
// two processes would create the same value.
//
// # Coherence
//
// A process drops its copies of the keys named in every message it receives
// from another (its own messages it ignores: it applied them when it made
// the changes). Two races are closed:
//
//   - A read that fetched the old value from Redis just before a change, and
//     stores its copy just after the change's message was handled, would
//     keep the old value for the whole TTL. Each key hashes to a counter
//     that every eviction moves before dropping the copy; a read notes the
//     counter before going to Redis, stores its copy, then checks the
//     counter and drops the copy if it moved. Whichever order the two
//     interleave in, no copy older than a change survives it.
//   - A subscription that was lost has missed messages, and so has one not
//     yet made. The tier therefore serves and keeps copies only while the
//     notifier reports the subscription up; when it reports it lost, the
//     tier drops every copy and sends every read to Redis until the
//     subscription is back — and drops everything once more then, since
//     messages sent during the gap are gone for good (Redis pub/sub delivers
//     at most once and keeps nothing for absent subscribers).
//
// redis.Notifier reports a closed or reset connection at once, and a silent
// one (a partition, a hung server) after two health-check intervals with
// neither message nor pong (1s each by default). The local TTL is the last
// bound on staleness, for a loss no one noticed; DefaultTTL is 5s. EvictAll
// drops every copy in every process, for changes made behind the tiers' back
// (a bulk load with redis-cli, FLUSHDB); a message no tier can read (from a
// future version) clears the tier too.
//
// With SharedInvalidation(0) the region's invalidation record is a key like
// any other: kept locally and evicted by the message of the Invalidate that
// updates it (a compare-and-swap through the tier, which drops the local
// copy whether or not the swap happened). An invalidation is therefore seen by other processes within
// the propagation time rather than on their very next call, and hits cost no
// round trip at all. SharedInvalidation(refresh > 0) works too, and adds its
// interval. The records of tags (dogpile.Region.InvalidateTags) are keys of
// the same kind: a hit on a tagged value reads its tags' records from the
// tier, and a tag's invalidation reaches other processes with its message.
//
// # Why pub/sub rather than RESP3 client-side caching
//
// Redis can track the keys a client has read and push invalidations to it
// (CLIENT TRACKING, RESP3). go-redis v9.23's client-side cache built on it is
// marked experimental, works with the standalone client only — not the
// Sentinel failover client, not the Cluster client — requires RESP3 and
// database 0, is disabled when a credentials provider is set, and applies an
// idle pooled connection's invalidations at a background drainer's next tick.
// It also caches command replies beneath the region, with no per-call way
// (that we found) to send the read made under dogpile's distributed lock
// through to Redis. Pub/sub works the same on a standalone server, behind Sentinel
// and on a Cluster (a PUBLISH reaches the subscribers of every node), keeps
// no tracking table on the server, costs one PUBLISH per write, and fits a
// small interface (Notifier) that other transports (NATS, Postgres
// LISTEN/NOTIFY, a Memcached deployment's own bus) can implement: the tier
// owns the message format, a transport moves bytes. (rueidis offers tracking
// on all three deployments, but this project is built on go-redis.) On a
// large Cluster, classic pub/sub sends every message to every node; sharded
// pub/sub (SPUBLISH, Redis 7) would not, and could be a NotifierOptions
// switch later.
//
// # Decoded values
//
// The tier holds bytes, as the remote does, and the region's envelope,
// expiry and codec apply as on any byte backend. But decoding at every hit
// would cost several times the lookup, so the tier also keeps the value the
// region decoded beside the bytes it came from (backend.Keeping), and
// a hit on the same bytes returns it without decoding or allocating. As with
// the memory backend, callers then share the value and must not modify it.
// Options.DecodeEveryHit turns this off: every hit decodes, and every caller
// gets a copy of its own, as from Redis. A proxy between the region and the
// tier (WithWrap) has the same effect, since proxies do not pass
// backend.Keeping on.
//
// # Costs (measured, see the benchmarks)
//
// On the 2-core build machine (a KVM guest, shared with other work), a
// GetOrCreate hit served by the tier costs about 50ns and allocates nothing,
// against about 34ns on the memory backend in the same runs: 1.47x (1.35x to
// 1.59x over 12 paired runs). A bounded
// memory backend (otter too) costs about 55ns. A tier hit costs about 90ns
// with SharedInvalidation(0) (a second local lookup) and about 200ns with
// DecodeEveryHit (as on memory_serialized); a Redis hit 45-65µs over
// loopback. The tier checks its TTL itself on a coarse clock: otter's own
// expiry doubled the cost of a lookup, and reading the system clock at every
// hit is the largest single cost of a hit on a virtual machine.
//
// A change is seen by another process (its Get returns the new value) a
// median 0.08ms after the writer's Set returned, p99 0.4ms, max a few ms on
// a loaded machine, measured over loopback in one process and across real
// processes (BENCHMARKS.md in the repository has the commands). The message usually arrives before the writer's PUBLISH returns; most of
// the time is the reader's one read from Redis.
//
// Stats reports the tier's work: remote reads, messages, evictions, clears,
// publish failures. A write whose message could not be sent returns an error
// wrapping ErrPublish: the value is stored, but other processes may serve
// the old one until their TTL passes.
package tiered
