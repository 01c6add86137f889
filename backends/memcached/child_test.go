package memcached

// The roles of child processes (see TestMain). A child talks to its parent
// line by line through stdin and stdout, and to the other processes only
// through the servers, as separate programs would. Its settings come in the
// environment: MC_SERVERS (comma-separated), MC_KEY and the role's own.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/internal/xproctest"
	"github.com/dogpile-go/dogpile/lock"
)

// childRoles are the roles a re-executed test binary can play, named beside
// the functions that play them, so that a new role is written in one place.
var childRoles = map[string]func() error{
	"stampede": stampedeChild,
	"hold":     holdChild,
	"create":   createChild,
	"dl7":      dl7Child,
	"panicker": panickerChild,
	"waiter":   waiterChild,
}

// stampedeGoroutines is the number of callers per process in DL1 and DL7.
const stampedeGoroutines = 50

func childArgs() dogpile.Args {
	args := dogpile.Args{"url": strings.Split(os.Getenv("MC_SERVERS"), ","), "distributed_lock": true}
	if lt := os.Getenv("MC_LOCK_TIMEOUT"); lt != "" {
		args["lock_timeout"] = lt
	}
	return args
}

// stampedeChild is one of DL1's processes: on "go" from its parent it runs
// stampedeGoroutines concurrent GetOrCreate calls on one cold key. The
// creator counts its runs on the server (incr), then waits until every
// caller of every process has arrived, so that they all contend while the
// value is missing.
func stampedeChild() error {
	key, total := os.Getenv("MC_KEY"), os.Getenv("MC_TOTAL")
	want, err := strconv.ParseUint(total, 10, 64)
	if err != nil {
		return err
	}
	r, err := dogpile.NewRegion().Configure("memcached", dogpile.WithArguments(childArgs()))
	if err != nil {
		return err
	}
	c := r.Backend().(*Backend).Client()
	fmt.Println("ready")
	if _, err := testutil.ReadLine(); err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, stampedeGoroutines)
	for range stampedeGoroutines {
		wg.Go(func() {
			if _, err := c.Increment(key+"-arrived", 1); err != nil {
				errs <- err
				return
			}
			v, err := dogpile.GetOrCreate(ctx, r, key, func(ctx context.Context) (string, error) {
				if _, err := c.Increment(xproctest.CreatorsCounter(key), 1); err != nil {
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
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Println("done")
	return nil
}

// holdChild takes a lock, says so, and waits to be killed (DL2).
func holdChild() error {
	b, err := dogpile.NewBackend("memcached", childArgs())
	if err != nil {
		return err
	}
	ok, err := b.(*Backend).Mutex(os.Getenv("MC_KEY")).TryLock(context.Background())
	if err != nil || !ok {
		return fmt.Errorf("TryLock = %v, %v", ok, err)
	}
	fmt.Println("locked")
	testutil.ReadLine() //nolint:errcheck // waits for SIGKILL
	return nil
}

// createChild is a process whose creation its parent controls (DL5, DL6):
// it calls GetOrCreate on MC_KEY; the creator counts itself on the server
// (MC_KEY-creators), says "creating", and returns MC_VALUE once its parent
// says "finish" — whatever its context says meanwhile, as a creator that
// does not look at its context would. The child then says "done", the value
// the call returned and its region's LocksLost.
func createChild() error {
	key, value := os.Getenv("MC_KEY"), os.Getenv("MC_VALUE")
	r, err := dogpile.NewRegion(dogpile.WithMetrics()).Configure("memcached", dogpile.WithArguments(childArgs()))
	if err != nil {
		return err
	}
	c := r.Backend().(*Backend).Client()
	v, err := dogpile.GetOrCreate(context.Background(), r, key, func(context.Context) (string, error) {
		if _, err := c.Increment(xproctest.CreatorsCounter(key), 1); err != nil {
			return "", err
		}
		fmt.Println("creating")
		if line, err := testutil.ReadLine(); err != nil || line != "finish" {
			return "", fmt.Errorf("waiting for finish: %q, %v", line, err)
		}
		return value, nil
	})
	if err != nil {
		return err
	}
	fmt.Println("done", v, r.Stats().LocksLost)
	testutil.ReadLine() //nolint:errcheck // stays until the parent is done with the server
	return nil
}

// dl7Creation is how long DL7's creator runs.
const dl7Creation = 50 * time.Millisecond

// dl7Child is one of DL7's processes, with the backend's default settings:
// for each "go <key>" from its parent it runs stampedeGoroutines concurrent
// GetOrCreate calls on the cold key, whose creator counts itself on the
// server (<key>-creators) and runs for dl7Creation, and answers "lat" and
// every caller's latency in microseconds, comma-separated.
func dl7Child() error {
	r, err := dogpile.NewRegion().Configure("memcached", dogpile.WithArguments(childArgs()))
	if err != nil {
		return err
	}
	c := r.Backend().(*Backend).Client()
	fmt.Println("ready")
	for {
		line, err := testutil.ReadLine()
		if errors.Is(err, io.EOF) {
			return nil
		}
		key, ok := strings.CutPrefix(line, "go ")
		if err != nil || !ok {
			return fmt.Errorf("want go <key>: %q, %v", line, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		lat := make([]string, stampedeGoroutines)
		errs := make(chan error, stampedeGoroutines)
		var wg sync.WaitGroup
		for i := range stampedeGoroutines {
			wg.Go(func() {
				start := time.Now()
				v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
					if _, err := c.Increment(xproctest.CreatorsCounter(key), 1); err != nil {
						return "", err
					}
					time.Sleep(dl7Creation) // the creation's work
					return "created", nil
				})
				lat[i] = strconv.FormatInt(time.Since(start).Microseconds(), 10)
				if err == nil && v != "created" {
					err = fmt.Errorf("got %q", v)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		cancel()
		close(errs)
		for err := range errs {
			return err
		}
		fmt.Println("lat " + strings.Join(lat, ","))
	}
}

// panickerChild is the panicker of xproctest on MC_KEYS (comma-separated)
// with MC_FAIL ("panic" or "error"), counting on the server.
func panickerChild() error {
	r, err := dogpile.NewRegion().Configure("memcached", dogpile.WithArguments(childArgs()))
	if err != nil {
		return err
	}
	c := r.Backend().(*Backend).Client()
	return xproctest.Panicker(r, strings.Split(os.Getenv("MC_KEYS"), ","), os.Getenv("MC_FAIL"), func(counter string) error {
		_, err := c.Increment(counter, 1)
		return err
	})
}

// waiterChild calls GetOrCreate on MC_KEY, whose creator counts itself on
// the server (xproctest.CreatorsCounter) and returns MC_VALUE at once. It says
// "waiting" once an attempt at the key's lock has found it held (its region
// is on a backend whose mutexes say so: watchedBackend), and prints an
// xproctest.WaiterReport.
func waiterChild() error {
	key, value := os.Getenv("MC_KEY"), os.Getenv("MC_VALUE")
	b, err := dogpile.NewBackend("memcached", childArgs())
	if err != nil {
		return err
	}
	var once sync.Once
	r, err := dogpile.NewRegion().ConfigureBackend(watchedBackend{b.(*Backend), func() { once.Do(func() { fmt.Println("waiting") }) }})
	if err != nil {
		return err
	}
	c := b.(*Backend).Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rep xproctest.WaiterReport
	v, err := dogpile.GetOrCreate(ctx, r, key, func(context.Context) (string, error) {
		if _, err := c.Increment(xproctest.CreatorsCounter(key), 1); err != nil {
			return "", err
		}
		rep.Created = true
		return value, nil
	})
	rep.Value = v
	if err != nil {
		rep.Err = err.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// watchedBackend is the backend with mutexes that call held when a Lock
// finds the lock held (its first attempt, a TryLock, fails) before waiting
// for it as the backend's mutex does.
type watchedBackend struct {
	*Backend
	held func()
}

func (b watchedBackend) Mutex(key string) lock.Mutex {
	m := b.Backend.Mutex(key)
	if m == nil {
		return nil
	}
	return &watchedMutex{Mutex: m, held: b.held}
}

// watchedMutex is a mutex of watchedBackend; the backend's own (its lease,
// its fenced writes) is found behind it through Unwrap.
type watchedMutex struct {
	lock.Mutex
	held func()
}

func (m *watchedMutex) Unwrap() lock.Mutex { return m.Mutex }

func (m *watchedMutex) Lock(ctx context.Context) error {
	if ok, err := m.Mutex.TryLock(ctx); err != nil || ok {
		return err
	}
	m.held()
	return m.Mutex.Lock(ctx)
}
