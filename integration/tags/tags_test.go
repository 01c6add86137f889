package tags_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/integration/internal/roundtrips"
	"github.com/dogpile-go/dogpile/internal/testserver"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// The second process's environment.
const (
	storeEnv  = "DOGPILE_TAGS_STORE"  // "redis" or "file"
	targetEnv = "DOGPILE_TAGS_TARGET" // the Redis address, or the cache file
	regionEnv = "DOGPILE_TAGS_REGION" // the region's name, unique per test
)

// store is where two processes meet: a kind of backend and its address.
type store struct {
	kind, target string
}

// side is one process's region on the store, with what the tests watch it
// by.
type side struct {
	r     *dogpile.Region
	trips func() int64 // round trips to the store so far
	// settle waits until the background regenerations started so far have
	// ended: their values written and their locks released. Seeing the new
	// value is not enough, as it is written before the lock is released, and
	// another process that finds the key still locked serves the stale value
	// without regenerating it.
	settle func()
}

// open makes a process's region named name on st, its keys under the
// prefix name+":" (tests share a Redis server): shared invalidation read with
// every value, and regenerations of stale values in the background (so that a
// caller holding a stale value is served it at once). Its round trips are
// counted: on Redis by a client hook, on the file backend by a proxy in
// front of it.
func (st store) open(name string) (side, error) {
	var b dogpile.Backend
	var count func() int64
	var wrap []dogpile.ConfigOption
	switch st.kind {
	case "redis":
		rb, err := redis.New(redis.Options{Client: &goredis.Options{Addr: st.target}})
		if err != nil {
			return side{}, err
		}
		hook := &roundtrips.Hook{}
		rb.Client().AddHook(hook)
		b, count = rb, hook.Count
	case "file":
		fb, err := file.New(file.Options{Filename: st.target, DistributedLock: true})
		if err != nil {
			return side{}, err
		}
		reads := &roundtrips.Reads{}
		b, count, wrap = fb, reads.Count, []dogpile.ConfigOption{dogpile.WithWrap(reads.Proxy())}
	default:
		return side{}, fmt.Errorf("unknown store %q", st.kind)
	}
	var background sync.WaitGroup
	r, err := dogpile.NewRegion(dogpile.WithName(name), dogpile.WithKeyPrefix(name+":"),
		dogpile.WithAsyncRunner(func(regenerate func()) { background.Go(regenerate) })).
		ConfigureBackend(b, append(wrap, dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))...)
	if err != nil {
		return side{}, err
	}
	return side{r, count, background.Wait}, nil
}

// process is the second process: a region of its own on the store named by
// its environment, serving its parent's commands, one per line:
//
//	goc KEY TAG VALUE   GetOrCreate(KEY) tagged TAG, creating VALUE; prints the value
//	get KEY             Get(KEY); prints the value, or "miss"
//	inv hard|soft TAG   InvalidateTags; prints "ok"
//	settle              waits for its background regenerations; prints "ok"
func process() error {
	st := store{os.Getenv(storeEnv), os.Getenv(targetEnv)}
	me, err := st.open(os.Getenv(regionEnv))
	if err != nil {
		return err
	}
	r := me.r
	defer r.Close()
	ctx := context.Background()
	fmt.Println("ready")
	for {
		line, err := testutil.ReadLine()
		if err != nil {
			return nil // the parent is done
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "goc":
			v, err := dogpile.GetOrCreate(ctx, r, f[1], func(context.Context) (string, error) { return f[3], nil }, dogpile.Tags(f[2]))
			if err != nil {
				return err
			}
			fmt.Println(v)
		case len(f) == 2 && f[0] == "get":
			v, ok, err := dogpile.Get[string](ctx, r, f[1])
			if err != nil {
				return err
			}
			if !ok {
				v = "miss"
			}
			fmt.Println(v)
		case len(f) == 3 && f[0] == "inv":
			how := dogpile.Hard
			if f[1] == "soft" {
				how = dogpile.Soft
			}
			if err := r.InvalidateTags(ctx, how, f[2]); err != nil {
				return err
			}
			fmt.Println("ok")
		case len(f) == 1 && f[0] == "settle":
			me.settle()
			fmt.Println("ok")
		default:
			return fmt.Errorf("unknown command %q", line)
		}
	}
}

// stores returns the stores the tests run on: a Redis server, and a cache
// file in a directory of the test's.
func stores(t *testing.T) map[string]store {
	return map[string]store{
		"redis": {"redis", testserver.SharedRedis(t).Addr()},
		"file":  {"file", filepath.Join(t.TempDir(), "cache.db")},
	}
}

// other starts the second process on st, with a region named name, and
// waits until it is ready.
func other(t *testing.T, st store, name string) *testutil.Child {
	t.Helper()
	c := testutil.StartChild(t, "process", storeEnv+"="+st.kind, targetEnv+"="+st.target, regionEnv+"="+name)
	c.Expect("ready", 30*time.Second)
	return c
}

// ask sends the second process a command and returns its answer.
func ask(c *testutil.Child, cmd string) string {
	c.Send(cmd)
	return c.Next(10 * time.Second)
}

// onTwoProcesses runs test on each store with two processes on one region:
// a, this process's side, and b, the second process. Each tags test starts
// from that pair; the set-up is written once.
func onTwoProcesses(t *testing.T, test func(t *testing.T, a side, b *testutil.Child)) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			region := regionName(t)
			a, err := st.open(region)
			if err != nil {
				t.Fatal(err)
			}
			defer a.r.Close()
			test(t, a, other(t, st, region))
		})
	}
}

func regionName(t *testing.T) string {
	return fmt.Sprintf("tags-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

// After a tag is invalidated in one process, the other's next call
// regenerates the values carrying it (hard) or serves them stale while it
// regenerates them in the background (soft) — in both directions.
func TestTagsAcrossProcesses(t *testing.T) {
	onTwoProcesses(t, func(t *testing.T, me side, b *testutil.Child) {
		a := me.r
		ctx := context.Background()
		value := func(v string) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { return v, nil }
		}
		user := dogpile.Tags("user:42")

		if v, err := dogpile.GetOrCreate(ctx, a, "profile", value("a1"), user); err != nil || v != "a1" {
			t.Fatalf("a's first GetOrCreate = %q, %v", v, err)
		}
		if got := ask(b, "goc profile user:42 b1"); got != "a1" {
			t.Fatalf("b's GetOrCreate before any invalidation = %q; want a's a1", got)
		}
		if got := ask(b, "goc other user:43 b1"); got != "b1" {
			t.Fatalf("b's GetOrCreate of another key = %q", got)
		}

		// Hard, from a: b's next call regenerates.
		if err := a.InvalidateTags(ctx, dogpile.Hard, "user:42"); err != nil {
			t.Fatal(err)
		}
		if got := ask(b, "goc profile user:42 b2"); got != "b2" {
			t.Fatalf("b's next GetOrCreate after a's hard invalidation = %q; want b2, regenerated", got)
		}
		if got := ask(b, "goc other user:43 b3"); got != "b1" {
			t.Fatalf("a value with another tag = %q after the invalidation; want b1, kept", got)
		}

		// Hard, from b: a's next call regenerates.
		if got := ask(b, "inv hard user:42"); got != "ok" {
			t.Fatalf("b's InvalidateTags: %s", got)
		}
		if v, err := dogpile.GetOrCreate(ctx, a, "profile", value("a3"), user); err != nil || v != "a3" {
			t.Fatalf("a's next GetOrCreate after b's hard invalidation = %q, %v; want a3, regenerated", v, err)
		}

		// Soft, from b: a's next call serves the stale value at once and
		// regenerates in the background.
		if got := ask(b, "inv soft user:42"); got != "ok" {
			t.Fatalf("b's InvalidateTags: %s", got)
		}
		if v, err := dogpile.GetOrCreate(ctx, a, "profile", value("a4"), user); err != nil || v != "a3" {
			t.Fatalf("a's next GetOrCreate after b's soft invalidation = %q, %v; want the stale a3", v, err)
		}
		me.settle()
		if v, ok, err := dogpile.Get[string](ctx, a, "profile"); err != nil || !ok || v != "a4" {
			t.Fatalf("a reads %q, %v, %v after its background regeneration; want a4", v, ok, err)
		}

		// Soft, from a: b's next call serves the stale value.
		if err := a.InvalidateTags(ctx, dogpile.Soft, "user:42"); err != nil {
			t.Fatal(err)
		}
		if got := ask(b, "goc profile user:42 b5"); got != "a4" {
			t.Fatalf("b's next GetOrCreate after a's soft invalidation = %q; want the stale a4", got)
		}
		if got := ask(b, "settle"); got != "ok" {
			t.Fatalf("b's settle: %s", got)
		}
		if got := ask(b, "get profile"); got != "b5" {
			t.Fatalf("b reads %q after its background regeneration; want b5", got)
		}
		if v, ok, err := dogpile.Get[string](ctx, a, "profile"); err != nil || !ok || v != "b5" {
			t.Fatalf("a reads %q, %v, %v after b regenerated; want b5", v, ok, err)
		}
	})
}

// A read of a tagged value costs one round trip when the call names its
// tags (their records come with the value: an MGET on Redis, one query on
// the file backend), and one more when it does not.
func TestTagsReadRoundTrips(t *testing.T) {
	onTwoProcesses(t, func(t *testing.T, me side, b *testutil.Child) {
		a, trips := me.r, me.trips
		ctx := context.Background()
		tags := dogpile.Tags("user:42", "org:7")
		if _, err := dogpile.GetOrCreate(ctx, a, "k", func(context.Context) (string, error) { return "v", nil }, tags); err != nil {
			t.Fatal(err)
		}
		// Records exist (another process invalidated the tags) and the
		// value was made since: there is something to read, and a hit.
		for _, tag := range []string{"user:42", "org:7"} {
			if got := ask(b, "inv soft "+tag); got != "ok" {
				t.Fatal(got)
			}
		}
		if _, err := dogpile.GetOrCreate(ctx, a, "k", func(context.Context) (string, error) { return "v2", nil }, dogpile.NoStale(), tags); err != nil {
			t.Fatal(err)
		}
		measure := func(what string, want int64, call func() (string, error)) {
			t.Helper()
			before := trips()
			v, err := call()
			if err != nil || v != "v2" {
				t.Fatalf("%s = %q, %v; want the hit v2", what, v, err)
			}
			if n := trips() - before; n != want {
				t.Fatalf("%s took %d round trips; want %d", what, n, want)
			}
		}
		for range 3 {
			measure("a GetOrCreate hit naming its tags", 1, func() (string, error) {
				return dogpile.GetOrCreate(ctx, a, "k", func(context.Context) (string, error) { return "new", nil }, tags)
			})
			measure("a Get naming no tags", 2, func() (string, error) {
				v, ok, err := dogpile.Get[string](ctx, a, "k")
				if !ok {
					v = "miss"
				}
				return v, err
			})
		}
	})
}
