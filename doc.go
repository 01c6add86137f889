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
// # Expiration is the region's
//
// Every stored value carries its creation time. The region, not the store,
// decides from it whether a value is fresh or expired, so an expired value is
// still there to be served stale while one caller regenerates it. A store-side
// TTL (redis_expiration_time, memcached_expire_time) is separate and should be
// longer than the region's expiration.
//
// # Invalidation
//
// [Region.Invalidate] with [Hard] makes every older value a miss; with [Soft]
// it makes them expired. Both work without an expiration time.
//
// # Values and codecs
//
// The memory backend holds Go values as they are (a hit allocates nothing).
// Backends that store bytes get the value encoded by the region's codec
// (package codec) inside a small versioned envelope with its metadata. Bytes
// that don't decode — foreign, corrupt, another format — are a miss, never an
// error or a panic.
package dogpile
