// Package dogpile is a caching library with the dogpile lock: per key, one
// creator runs at a time — across goroutines and, through the backend, across
// processes — while every other caller is served the previous value or waits
// for the new one. It brings the design of Python's dogpile.cache to Go.
//
// A [Region] fronts a pluggable [Backend]: "memory", "memory_serialized" and
// "null" are built in; "file", "memcached", "redis", "redis_sentinel" and
// "redis_cluster" register themselves when their packages under backends/ are
// imported, as database/sql drivers do.
//
//	region, err := dogpile.NewRegion(dogpile.WithName("users")).
//		Configure("memory", dogpile.WithExpiration(10*time.Minute))
//	...
//	user, err := dogpile.GetOrCreate(ctx, region, "user:42", func(ctx context.Context) (User, error) {
//		return db.LoadUser(ctx, 42)
//	})
//
// or, handing the loader its argument rather than capturing it in a closure
// (a hit then allocates nothing), [GetOrCreateArg]:
//
//	user, err := dogpile.GetOrCreateArg(ctx, region, "user:"+strconv.Itoa(id), id, db.LoadUser)
//
// # Expiration is the region's
//
// Every stored value carries its creation time. The region, not the store,
// decides from it whether a value is fresh or expired, so an expired value is
// still there to be served stale while one caller regenerates it. A store-side
// TTL (redis_expiration_time, memcached_expire_time) is separate and should be
// longer than the region's expiration.
//
// The creation time is the writer's clock, and the reader compares it with
// its own: expiration, unlike shared invalidation, trusts that hosts' clocks
// agree. A value written by a host whose clock runs ten minutes ahead stays
// fresh ten minutes longer on the others; one from a host ten minutes behind
// is expired when written, and is regenerated at the next read. Keep the
// clocks synchronised (NTP) well within the expiration time.
//
// # Invalidation
//
// [Region.Invalidate] with [Hard] makes every older value a miss; with [Soft]
// it makes them expired. Both work without an expiration time. By default an
// invalidation applies in its own process; [SharedInvalidation] makes it
// reach every process sharing the backend, by counting generations in the
// store rather than comparing hosts' clocks.
//
// # Keys and types
//
// A value is stored under the region's key prefix ([WithKeyPrefix]) followed
// by its key, as the key mangler made it — and under nothing else, so the
// store's own tools find it:
//
//	region := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithKeyPrefix("users:"))
//	...
//	$ redis-cli GET users:42
//
// Regions that share a store need distinct prefixes. Keys beginning with
// [ReservedKeyPrefix] are the library's own and are refused.
//
// An entry records the Go type it was written as, and reads only as that
// type: read as another, it is a miss (counted as a decode failure and
// logged once), on every backend; see [Get].
//
// # Function caching
//
// [Cached] and [CachedMulti] wrap a function so that its results are cached
// per argument, as cache_on_arguments does in Python's dogpile.cache; the key
// is built from
// the function's package-qualified name, an optional [Namespace] and the
// argument, in a format [Cached] documents and a [KeyGenerator] can replace.
//
// # Failure policy and observability
//
// By default a backend error is returned, as in Python's dogpile.cache. [WithFailOpen]
// serves creator values without the cache while the backend is down (with a
// circuit breaker that probes the backend once per cooldown), and
// [WithAutoRecovery] replays the writes and invalidations made meanwhile once
// it is back; [WithStaleIfError] serves a stale value when its regeneration
// fails; [WithSoftTimeout] serves it when its regeneration is slow, and lets
// the creation finish in the background. [WithMetrics] counts hits, misses, stale values served,
// regenerations, lock waits and errors ([Region.Stats]; exported by the
// metrics/prometheus and metrics/otel packages). Proxies ([WithWrap], package
// proxy) see every backend call. [SharedInvalidation] makes Invalidate reach
// every process sharing the backend. [WithEarlyRefresh] regenerates hot keys
// shortly before they expire.
//
// # What a creator can say
//
// A creator can set the expiration of the value it returns from the value
// itself ([SetExpiration]: an answer's max-age, a token's expiry), keep it
// from being cached ([DontCache]), or answer that what it was asked for does
// not exist ([ErrNotFound], [NotFoundAt]): "not found" is cached like a
// value, with its own expiration ([WithNegativeExpiration]), so that callers
// asking for a missing key don't run the creator again.
//
// # Values and codecs
//
// The memory backend holds Go values as they are (a hit allocates nothing).
// Backends that store bytes get the value encoded by the region's codec
// (package codec) inside a small versioned envelope with its metadata: the
// creation time, a tag of the value's type, and the invalidation generations
// it was written under. Bytes that don't decode — foreign, corrupt, another
// format, another type — are a miss, never an error or a panic.
package dogpile
