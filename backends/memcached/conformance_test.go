package memcached

import (
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/dogpiletest"
)

// TestMC1Conformance runs the conformance suite against one real memcached
// and against three (consistent hashing), with and without the distributed
// lock (its CompareAndSwap subtest checks the backend.Swapper).
func TestMC1Conformance(t *testing.T) {
	for _, n := range []int{1, 3} {
		srv := servers(t, n)
		for _, locking := range []bool{true, false} {
			name := map[int]string{1: "OneServer", 3: "ThreeServers"}[n]
			if !locking {
				name += "NoLock"
			}
			t.Run(name, func(t *testing.T) {
				dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
					b := newBackend(t, dogpile.Args{"url": srv, "distributed_lock": locking})
					if has := b.Mutex("k") != nil; has != locking {
						t.Fatalf("distributed_lock=%v gave a backend with a mutex: %v", locking, has)
					}
					return b
				}, dogpiletest.WithShortLease(func(t *testing.T) dogpile.Backend {
					// Memcached counts whole seconds: the shortest lock there is.
					return newBackend(t, dogpile.Args{"url": srv, "distributed_lock": locking, "lock_timeout": 1})
				}))
			})
		}
	}
}
