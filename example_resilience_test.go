package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile"
)

// A slow regeneration holds up its caller for the soft timeout at most:
// then the caller gets the stale value, and the new one is stored when the
// creator ends.
func ExampleWithSoftTimeout() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion(dogpile.WithSoftTimeout(20*time.Millisecond)).
		Configure("memory", dogpile.WithExpiration(time.Minute))
	_ = region.Set(ctx, "report", "yesterday's report")

	done := make(chan struct{})
	slow := func(context.Context) (string, error) {
		defer close(done)
		time.Sleep(200 * time.Millisecond) // a slow query
		return "today's report", nil
	}
	start := time.Now()
	// ExpirationTime(0): the stored report counts as expired for this call.
	report, _ := dogpile.GetOrCreate(ctx, region, "report", slow, dogpile.ExpirationTime(0))
	fmt.Println(report, "within 100ms:", time.Since(start) < 100*time.Millisecond)

	<-done
	for {
		if r, ok, _ := dogpile.Get[string](ctx, region, "report"); ok && r == "today's report" {
			fmt.Println("then:", r)
			break
		}
		time.Sleep(time.Millisecond) // the store follows the creator's end
	}
	// Output:
	// yesterday's report within 100ms: true
	// then: today's report
}

// A creator sets its value's expiration from the value: here a token's
// own expiry.
func ExampleSetExpiration() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))

	type token struct {
		Value  string
		Expiry time.Time
	}
	fetch := func(ctx context.Context) (token, error) {
		t := token{Value: "s3cr3t", Expiry: time.Now().Add(5 * time.Minute)}
		// Cached until a minute before it expires, not for the region's hour.
		dogpile.SetExpiration(ctx, time.Until(t.Expiry)-time.Minute)
		return t, nil
	}
	tok, _ := dogpile.GetOrCreate(ctx, region, "token", fetch)
	_, md, _, _ := dogpile.GetWithMetadata[token](ctx, region, "token")
	fmt.Println(tok.Value, "cached for about", md.Expiration.Round(time.Minute))
	// Output:
	// s3cr3t cached for about 4m0s
}

// Values created together — a cache warmed after a deploy, a page of
// results — expire together, and their regenerations come in one burst.
// A creator that sets its value's expiration with a random part spreads
// them out (what FusionCache calls jittering); every process reads the
// stored expiration, so the spread holds across the fleet.
func ExampleSetExpiration_jitter() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))

	load := func(ctx context.Context, id int) (string, error) {
		dogpile.SetExpiration(ctx, time.Hour+rand.N(5*time.Minute)) // 1h to 1h05m
		return "report " + strconv.Itoa(id), nil
	}
	earliest, latest := 2*time.Hour, time.Duration(0)
	for id := range 100 {
		key := "report:" + strconv.Itoa(id)
		if _, err := dogpile.GetOrCreateArg(ctx, region, key, id, load); err != nil {
			panic(err)
		}
		_, md, _, _ := dogpile.GetWithMetadata[string](ctx, region, key)
		earliest, latest = min(earliest, md.Expiration), max(latest, md.Expiration)
	}
	fmt.Println("all within 1h to 1h05m:", earliest >= time.Hour && latest < time.Hour+5*time.Minute)
	fmt.Println("spread out:", latest-earliest > time.Minute)
	// Output:
	// all within 1h to 1h05m: true
	// spread out: true
}

// "Not found" is cached like a value: a thousand calls for a missing user
// cost one query.
func ExampleErrNotFound() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion(dogpile.WithNegativeExpiration(30*time.Second)).
		Configure("memory", dogpile.WithExpiration(time.Hour))

	queries := 0
	load := func(context.Context) (*User, error) {
		queries++
		return nil, dogpile.ErrNotFound // the database has no user 404
	}
	for range 1000 {
		if _, err := dogpile.GetOrCreate(ctx, region, "user:404", load); !errors.Is(err, dogpile.ErrNotFound) {
			panic(err)
		}
	}
	_, err := dogpile.GetOrCreate(ctx, region, "user:404", load)
	fmt.Println(err)
	fmt.Println("database queries:", queries)
	// Output:
	// dogpile: not found: key "user:404"
	// database queries: 1
}

// A batch loader says which of its keys do not exist.
func ExampleNotFoundAt() {
	ctx := context.Background()
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Hour))
	db := map[string]string{"user:1": "ann", "user:3": "cy"}

	load := func(_ context.Context, keys []string) ([]string, error) {
		names := make([]string, len(keys))
		var missing []int
		for i, k := range keys {
			name, ok := db[k]
			if !ok {
				missing = append(missing, i)
			}
			names[i] = name
		}
		return names, dogpile.NotFoundAt(missing...)
	}
	names, err := dogpile.GetOrCreateMulti(ctx, region, []string{"user:1", "user:2", "user:3"}, load)
	var nf *dogpile.NotFoundError
	if errors.As(err, &nf) {
		fmt.Println("not found:", nf.Keys)
	}
	fmt.Printf("%q\n", names)
	// Output:
	// not found: [user:2]
	// ["ann" "" "cy"]
}

// Writes made while the backend is down are queued and replayed when it is
// back, before the region reads it again.
func ExampleWithAutoRecovery() {
	ctx := context.Background()
	store, _ := dogpile.NewBackend("memory_serialized", nil)
	flaky := &downable{Backend: store}
	region, _ := dogpile.NewRegion(
		dogpile.WithFailOpen(10*time.Millisecond),
		dogpile.WithAutoRecovery(1000),
		dogpile.WithMetrics(),
	).ConfigureBackend(flaky)
	defer region.Close()

	flaky.down.Store(true)
	fmt.Println("Set while down:", region.Set(ctx, "greeting", "hello"))
	flaky.down.Store(false) // the server is back
	for region.Stats().RecoveryReplayed == 0 {
		time.Sleep(time.Millisecond) // the breaker's next probe replays the queue
	}
	v, ok, _ := dogpile.Get[string](ctx, region, "greeting")
	fmt.Println(v, ok)
	// Output:
	// Set while down: <nil>
	// hello true
}

// downable is a store that fails every call while down, as a server that
// refuses connections.
type downable struct {
	dogpile.Backend
	down atomic.Bool
}

var errConnRefused = errors.New("connection refused")

func (d *downable) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if d.down.Load() {
		return nil, false, errConnRefused
	}
	return d.Backend.Get(ctx, key)
}

func (d *downable) Set(ctx context.Context, key string, value []byte) error {
	if d.down.Load() {
		return errConnRefused
	}
	return d.Backend.Set(ctx, key, value)
}

func (d *downable) Delete(ctx context.Context, key string) error {
	if d.down.Load() {
		return errConnRefused
	}
	return d.Backend.Delete(ctx, key)
}
