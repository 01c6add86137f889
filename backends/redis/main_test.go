package redis_test

import (
	"net"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// TestMain runs a child role when the test binary was started by a
// cross-process test (see child_test.go), and otherwise the tests, stopping
// the shared servers at the end.
func TestMain(m *testing.M) {
	testutil.Main(m, childRoles, testserver.StopShared)
}

// regionOn configures a region with a registered backend and closes it at
// the end of the test.
func regionOn(t testing.TB, backend string, args dogpile.Args, opts ...dogpile.ConfigOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion().Configure(backend, append([]dogpile.ConfigOption{dogpile.WithArguments(args)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// rawClient is a plain go-redis client of addr, for looking at the server
// beside the backend under test.
func rawClient(t testing.TB, addr string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// countHook counts a client's round trips: single commands and pipelines.
type countHook = testutil.RoundTrips[goredis.Cmder, goredis.DialHook, goredis.ProcessHook, goredis.ProcessPipelineHook]

// refusedAddr is a loopback address where nothing listens.
func refusedAddr(t testing.TB) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
}
