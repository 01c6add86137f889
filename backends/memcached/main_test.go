package memcached

import (
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// The cross-process tests run this test binary again as child processes
// (internal/testutil's harness), in the roles of child_test.go.
func TestMain(m *testing.M) {
	testutil.Main(m, childRoles)
}

// servers starts n memcached servers for the test and returns their addresses.
func servers(t testing.TB, n int) []string {
	t.Helper()
	return testserver.Addrs(testserver.MemcachedN(t, n, testserver.MemcachedOptions{}))
}

// lockingBackend starts a memcached server and makes a backend on it with
// the distributed lock and a lock_timeout of seconds: where the lock and
// lease tests begin. It returns the server's address too, for a raw client
// that looks behind the backend.
func lockingBackend(t testing.TB, seconds int) (*Backend, string) {
	t.Helper()
	srv := servers(t, 1)
	return newBackend(t, dogpile.Args{"url": srv, "distributed_lock": true, "lock_timeout": seconds}), srv[0]
}

// newBackend makes a backend through the registry, from the arguments a
// configuration file would give.
func newBackend(t testing.TB, args dogpile.Args) *Backend {
	t.Helper()
	b, err := dogpile.NewBackend("memcached", args)
	if err != nil {
		t.Fatalf("NewBackend(memcached, %v): %v", args, err)
	}
	t.Cleanup(func() { b.(interface{ Close() error }).Close() })
	return b.(*Backend)
}

func newRegion(t testing.TB, b dogpile.Backend, opts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(opts...).ConfigureBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawClient is a plain gomemcache client of one server, to look at what the
// backend stored without going through it.
func rawClient(addr string) *memcache.Client { return memcache.New(addr) }

func itemOf(key, value string) *memcache.Item {
	return &memcache.Item{Key: key, Value: []byte(value)}
}
