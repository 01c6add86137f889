// Package reliability holds the cross-backend reliability tests: faults
// between the region and its store, a soak, and two hosts whose clocks
// disagree; it has no API. The tests run against real
// servers started by internal/testserver:
//
//   - fault tests (fault_test.go): a TCP fault proxy
//     (testserver.FaultProxy) between the region and Redis or Memcached
//     adds latency, timeouts, connection resets, a server that accepts but
//     never answers, and a server that is down. Each fault must give an
//     error in bounded time, or with dogpile.WithFailOpen the creator's
//     value, never a hang, and the region must recover when the fault ends.
//     The tests measure time to error and time to recover and print a table
//     of them at the end of the run.
//
//   - the soak test (soak_test.go): many goroutines mix get-or-create,
//     get, set, delete and invalidation on 10,000 keys of memory, file and
//     Redis regions at once, Redis being restarted twice, and check that
//     nothing panics or deadlocks, no goroutine leaks, no value is returned
//     for another key or from before the last hard invalidation, and every
//     creator call is accounted for. It runs for 20 s by default and is
//     skipped with -short; DOGPILE_SOAK sets its length for long runs:
//
//     DOGPILE_SOAK=5m go test -run TestRL2 -v -timeout 0 ./reliability
//
// Every test binary of this package checks for leaked goroutines
// (go.uber.org/goleak) when its tests end.
package reliability
