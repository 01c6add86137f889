package dogpile_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// flakyBackend is memory_serialized that can be switched to fail every call,
// as a dead server would, and counts the calls that reach it.
type flakyBackend struct {
	dogpile.Backend
	down  atomic.Bool
	calls atomic.Int32
}

var errServerDown = errors.New("connection refused")

func newFlaky(t *testing.T) *flakyBackend {
	b, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &flakyBackend{Backend: b}
}

func (f *flakyBackend) Get(ctx context.Context, k string) ([]byte, bool, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, false, errServerDown
	}
	return f.Backend.Get(ctx, k)
}

func (f *flakyBackend) Set(ctx context.Context, k string, v []byte) error {
	f.calls.Add(1)
	if f.down.Load() {
		return errServerDown
	}
	return f.Backend.Set(ctx, k, v)
}

func TestP3FailOpenServesCreatorValuesAndBreakerSkipsDeadBackend(t *testing.T) {
	ctx := context.Background()
	b := newFlaky(t)
	const cooldown = 30 * time.Millisecond
	r, err := dogpile.NewRegion(dogpile.WithFailOpen(cooldown), dogpile.WithMetrics()).ConfigureBackend(b, dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var created atomic.Int32
	create := func(context.Context) (string, error) { created.Add(1); return "fresh", nil }

	b.down.Store(true)
	v, err := dogpile.GetOrCreate(ctx, r, "k", create)
	if err != nil || v != "fresh" {
		t.Fatalf("backend down, fail-open: got %q, %v; want the creator's value", v, err)
	}
	if _, ok, err := dogpile.Get[string](ctx, r, "k"); ok || err != nil {
		t.Fatalf("backend down, fail-open Get = %v, %v; want a miss without error", ok, err)
	}
	// The breaker is open: the dead backend is not called again.
	calls := b.calls.Load()
	for range 20 {
		if v, err := dogpile.GetOrCreate(ctx, r, "k", create); err != nil || v != "fresh" {
			t.Fatal(v, err)
		}
	}
	if b.calls.Load() != calls {
		t.Fatalf("the backend was called %d more times while the breaker was open", b.calls.Load()-calls)
	}
	if r.Stats().BackendErrors == 0 {
		t.Fatal("backend errors were not counted")
	}
	// A stampede during the outage still runs the creator once.
	created.Store(0)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dogpile.GetOrCreate(ctx, r, "cold", func(context.Context) (string, error) { //nolint:errcheck
				created.Add(1)
				<-release
				return "x", nil
			})
		}()
	}
	testutil.Eventually(t, "the outage creator", func() bool { return created.Load() == 1 })
	close(release)
	wg.Wait()
	if n := created.Load(); n > 20 || n < 1 {
		t.Fatalf("creator ran %d times", n)
	}

	// The backend comes back: after the cooldown, values are cached again.
	b.down.Store(false)
	testutil.Eventually(t, "the breaker to close and cache again", func() bool {
		dogpile.GetOrCreate(ctx, r, "k", create) //nolint:errcheck
		_, ok, _ := dogpile.Get[string](ctx, r, "k")
		return ok
	})
}

func TestP3WithoutFailOpenTheErrorIsReturned(t *testing.T) {
	b := newFlaky(t)
	b.down.Store(true)
	r, _ := dogpile.NewRegion().ConfigureBackend(b)
	_, err := dogpile.GetOrCreate(context.Background(), r, "k", func(context.Context) (string, error) { return "v", nil })
	var be *dogpile.BackendError
	if !errors.Is(err, errServerDown) || !errors.Is(err, dogpile.ErrBackend) || !errors.As(err, &be) || be.Op != "get" {
		t.Fatalf("got %v; want a *BackendError for get wrapping the backend's error", err)
	}
}

func TestP4StaleIfErrorWithinBound(t *testing.T) {
	ctx := context.Background()
	fail := errors.New("database down")
	failing := func(context.Context) (string, error) { return "", fail }
	expired := dogpile.ExpirationTime(time.Nanosecond)

	r, _ := dogpile.NewRegion(dogpile.WithStaleIfError(time.Hour)).Configure("memory")
	r.Set(ctx, "k", "stale") //nolint:errcheck
	if v, err := dogpile.GetOrCreate(ctx, r, "k", failing, expired); err != nil || v != "stale" {
		t.Fatalf("stale-if-error within bound: got %q, %v; want the stale value", v, err)
	}
	// Past the bound the error is returned.
	strict, _ := dogpile.NewRegion(dogpile.WithStaleIfError(time.Nanosecond)).Configure("memory")
	strict.Set(ctx, "k", "stale") //nolint:errcheck
	if _, err := dogpile.GetOrCreate(ctx, strict, "k", failing, expired); !errors.Is(err, fail) {
		t.Fatalf("stale-if-error past its bound: got %v; want the creator's error", err)
	}
	// Without the option the error is returned, and a missing value never
	// turns into one.
	plain, _ := dogpile.NewRegion().Configure("memory")
	plain.Set(ctx, "k", "stale") //nolint:errcheck
	if _, err := dogpile.GetOrCreate(ctx, plain, "k", failing, expired); !errors.Is(err, fail) {
		t.Fatalf("without stale-if-error: got %v", err)
	}
	if _, err := dogpile.GetOrCreate(ctx, r, "missing", failing); !errors.Is(err, fail) {
		t.Fatalf("stale-if-error with no stale value: got %v", err)
	}
}

func TestP3FailOpenMulti(t *testing.T) {
	b := newFlaky(t)
	b.down.Store(true)
	r, _ := dogpile.NewRegion(dogpile.WithFailOpen(time.Minute)).ConfigureBackend(b)
	got, err := dogpile.GetOrCreateMulti(context.Background(), r, []string{"a", "b"}, func(_ context.Context, ks []string) ([]string, error) {
		return []string{"A", "B"}, nil
	})
	if err != nil || len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Fatalf("fail-open GetOrCreateMulti = %q, %v", got, err)
	}
	if hits, err := dogpile.GetMulti[string](context.Background(), r, []string{"a"}); err != nil || len(hits) != 0 {
		t.Fatalf("fail-open GetMulti = %v, %v", hits, err)
	}
}
