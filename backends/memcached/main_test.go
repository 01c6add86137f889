package memcached

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// helperEnv names the role a re-executed test binary plays (the
// cross-process lock tests run the binary itself as other processes).
const helperEnv = "DOGPILE_MEMCACHED_HELPER"

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role))
	}
	os.Exit(m.Run())
}

// servers starts n memcached servers for the test and returns their addresses.
func servers(t testing.TB, n int) []string {
	t.Helper()
	return testserver.Addrs(testserver.MemcachedN(t, n, testserver.MemcachedOptions{}))
}

// newBackend makes a backend through the registry, from the seed's
// arguments, as a configuration file would.
func newBackend(t testing.TB, args dogpile.Args) dogpile.Backend {
	t.Helper()
	b, err := dogpile.NewBackend("memcached", args)
	if err != nil {
		t.Fatalf("NewBackend(memcached, %v): %v", args, err)
	}
	t.Cleanup(func() { b.(interface{ Close() error }).Close() })
	return b
}

func base(b dogpile.Backend) *Backend {
	switch x := b.(type) {
	case *Backend:
		return x
	case *LockingBackend:
		return x.Backend
	}
	panic(fmt.Sprintf("not a memcached backend: %T", b))
}

func newRegion(t testing.TB, b dogpile.Backend, opts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(opts...).ConfigureBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawClient is a plain gomemcache client of one server, to look at what the
// backend stored without going through it.
func rawClient(addr string) *memcache.Client { return memcache.New(addr) }

func itemOf(key, value string) *memcache.Item {
	return &memcache.Item{Key: key, Value: []byte(value)}
}

// runHelper plays a role in a child process; its exit code is the result.
func runHelper(role string) int {
	var err error
	switch role {
	case "stampede":
		err = stampedeChild()
	case "hold":
		err = holdChild()
	default:
		err = fmt.Errorf("unknown helper role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// stampedeChild is one of DL1's processes: on "go" from its parent it runs
// stampedeGoroutines concurrent GetOrCreate calls on one cold key. The
// creator counts its runs on the server (incr), then waits until every
// caller of every process has arrived, so that they all contend while the
// value is missing.
func stampedeChild() error {
	srv := strings.Split(os.Getenv("MC_SERVERS"), ",")
	key, total := os.Getenv("MC_KEY"), os.Getenv("MC_TOTAL")
	want, err := strconv.ParseUint(total, 10, 64)
	if err != nil {
		return err
	}
	r, err := dogpile.NewRegion().Configure("memcached", dogpile.WithArguments(dogpile.Args{
		"url": srv, "distributed_lock": true,
	}))
	if err != nil {
		return err
	}
	c := base(r.Backend()).Client()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, stampedeGoroutines)
	for range stampedeGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Increment(key+"-arrived", 1); err != nil {
				errs <- err
				return
			}
			v, err := dogpile.GetOrCreate(ctx, r, key, func(ctx context.Context) (string, error) {
				if _, err := c.Increment(key+"-creators", 1); err != nil {
					return "", err
				}
				for {
					it, err := c.Get(key + "-arrived")
					if err != nil {
						return "", err
					}
					if n, _ := strconv.ParseUint(strings.TrimSpace(string(it.Value)), 10, 64); n >= want {
						return "created", nil
					}
					select {
					case <-ctx.Done():
						return "", ctx.Err()
					case <-time.After(2 * time.Millisecond): // polling the server for the others' arrival
					}
				}
			})
			if err == nil && v != "created" {
				err = fmt.Errorf("got %q", v)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Println("done")
	return nil
}

// stampedeGoroutines is the number of callers per process in DL1.
const stampedeGoroutines = 50

// holdChild takes a lock, says so, and waits to be killed (DL2).
func holdChild() error {
	b, err := dogpile.NewBackend("memcached", dogpile.Args{
		"url": os.Getenv("MC_SERVERS"), "distributed_lock": true, "lock_timeout": os.Getenv("MC_LOCK_TIMEOUT"),
	})
	if err != nil {
		return err
	}
	ok, err := b.(backend.Locking).Mutex(os.Getenv("MC_KEY")).TryLock(context.Background())
	if err != nil || !ok {
		return fmt.Errorf("TryLock = %v, %v", ok, err)
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n') //nolint:errcheck // waits for SIGKILL
	return nil
}
