// Package resilience holds the tests of the region's resilience features
// against real servers (started by internal/testserver) and the file
// backend; it has no API:
//
//   - negative caching (negative_test.go): a "not found" is cached on the
//     memory, file, Redis and Memcached backends, and a thousand calls for a
//     missing key run the creator once;
//   - auto-recovery (recovery_test.go): Redis is killed, a process
//     invalidates the region and writes during the outage, Redis restarts,
//     and another process — a child process of the test binary — honours
//     the invalidation within a breaker cooldown, the writes replayed in
//     order;
//   - the breaker (breaker_test.go): a value Memcached refuses as too large
//     leaves the other keys cached; after the cooldown one probe, and only
//     one, reaches a Redis paused with SIGSTOP; backend errors are counted on
//     every backend.
package resilience
