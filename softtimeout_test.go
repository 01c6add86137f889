package dogpile_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// setSignal is a byte backend that reports every Set on sets, after
// storing: a barrier for "the value is stored".
type setSignal struct {
	dogpile.Backend
	sets chan string
}

func newSetSignal(t *testing.T) *setSignal {
	b, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &setSignal{Backend: b, sets: make(chan string, 16)}
}

func (s *setSignal) Set(ctx context.Context, key string, value []byte) error {
	err := s.Backend.Set(ctx, key, value)
	s.sets <- key
	return err
}

// Issue 17, soft timeout: a caller holding a stale value gets it once the
// soft timeout has passed, while the creator goes on; its value is stored
// when it ends.
func TestSoftTimeoutServesStaleAndStoresTheNewValueWhenTheCreatorEnds(t *testing.T) {
	ctx := context.Background()
	b := newSetSignal(t)
	r := regionFor(t, b, []dogpile.RegionOption{dogpile.WithSoftTimeout(time.Millisecond), dogpile.WithMetrics()})
	mustSet(t, r, "k", "stale")
	<-b.sets
	release := make(chan struct{})
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { <-release; return "new", nil }, expiredNow)
	if err != nil || v != "stale" {
		t.Fatalf("GetOrCreate = %q, %v; want the stale value after the soft timeout", v, err)
	}
	if st := r.Stats(); st.SoftTimeouts != 1 || st.StaleServed != 1 {
		t.Fatalf("SoftTimeouts = %d, StaleServed = %d; want 1 and 1", st.SoftTimeouts, st.StaleServed)
	}
	select {
	case k := <-b.sets:
		t.Fatalf("%q stored before the creator ended", k)
	default:
	}
	close(release)
	if k := recv(t, b.sets, "the new value's Set"); k != "k" {
		t.Fatalf("stored %q; want k", k)
	}
	if got, ok := mustGet[string](t, r, "k"); !ok || got != "new" {
		t.Fatalf("Get after the creation = %q, %v; want the new value", got, ok)
	}
}

// createPastSoftTimeout calls GetOrCreate for key, its creator returning
// "new" only well past a soft timeout of a millisecond: a caller that gave
// up at the soft timeout would have returned a stale value, an error or a
// zero value instead.
func createPastSoftTimeout(t *testing.T, r *dogpile.Region, key string, opts ...dogpile.Option) result[string] {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	got := goGetOrCreate(context.Background(), r, key, func(context.Context) (string, error) {
		close(started)
		<-release
		return "new", nil
	}, opts...)
	<-started
	time.Sleep(20 * time.Millisecond)
	close(release)
	return recv(t, got, "GetOrCreate")
}

// Without a stale value the caller waits past the soft timeout, for the
// creator's value.
func TestSoftTimeoutWithoutAStaleValueWaitsForTheCreator(t *testing.T) {
	onEachPath(t, func(t *testing.T, backend string) {
		r := regionWith(t, []dogpile.RegionOption{dogpile.WithSoftTimeout(time.Millisecond)}, backend)
		if res := createPastSoftTimeout(t, r, "k"); res.err != nil || res.v != "new" {
			t.Fatalf("GetOrCreate = %q, %v; want the creator's value", res.v, res.err)
		}
	})
}

// The hard timeout still bounds a caller without a value: it gets the
// creation's deadline error.
func TestSoftTimeoutHardTimeoutStillApplies(t *testing.T) {
	r := regionWith(t, []dogpile.RegionOption{dogpile.WithSoftTimeout(time.Millisecond)}, "memory")
	_, err := dogpile.GetOrCreate(context.Background(), r, "k", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}, dogpile.CreationTimeout(5*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetOrCreate = %v; want the hard timeout's deadline", err)
	}
}

// SoftTimeout per call: on a region without one, and turning the region's
// off.
func TestSoftTimeoutPerCall(t *testing.T) {
	ctx := context.Background()
	r := regionOn(t, "memory")
	mustSet(t, r, "k", "stale")
	release := make(chan struct{})
	defer close(release)
	create := func(context.Context) (string, error) { <-release; return "new", nil }
	if v, err := dogpile.GetOrCreate(ctx, r, "k", create, expiredNow, dogpile.SoftTimeout(time.Millisecond)); err != nil || v != "stale" {
		t.Fatalf("GetOrCreate with SoftTimeout = %q, %v; want the stale value", v, err)
	}

	off := regionWith(t, []dogpile.RegionOption{dogpile.WithSoftTimeout(time.Millisecond)}, "memory")
	mustSet(t, off, "k", "stale")
	if res := createPastSoftTimeout(t, off, "k", expiredNow, dogpile.SoftTimeout(0)); res.err != nil || res.v != "new" {
		t.Fatalf("GetOrCreate with SoftTimeout(0) = %q, %v; want the new value", res.v, res.err)
	}
}

// In GetOrCreateMulti, stale keys are served after the soft timeout and
// missing ones are waited for; one creator call makes both.
func TestSoftTimeoutMulti(t *testing.T) {
	ctx := context.Background()
	r := regionWith(t, []dogpile.RegionOption{dogpile.WithSoftTimeout(time.Millisecond), dogpile.WithMetrics()}, "memory")
	mustSet(t, r, "s", "stale")
	release := make(chan struct{})
	type res struct {
		vs  []string
		err error
	}
	got := make(chan res, 1)
	go func() {
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"s", "m"}, func(_ context.Context, keys []string) ([]string, error) {
			<-release
			return []string{"new s", "new m"}, nil
		}, expiredNow)
		got <- res{vs, err}
	}()
	testutil.Eventually(t, "the stale key's soft timeout", func() bool { return r.Stats().SoftTimeouts == 1 })
	close(release)
	if g := recv(t, got, "GetOrCreateMulti"); g.err != nil || !slices.Equal(g.vs, []string{"stale", "new m"}) {
		t.Fatalf("GetOrCreateMulti = %q, %v; want the stale s and the new m", g.vs, g.err)
	}
}

// BenchmarkSoftTimeout measures how long a caller holding a stale value
// waits when its creator takes 200 ms and the soft timeout is 20 ms, and
// reports the 99th percentile (p99-ms) and the median (p50-ms). Each
// iteration asks for a key of its own, so that every one waits for a
// creation it runs; the creations end in the background.
func BenchmarkSoftTimeout(b *testing.B) {
	ctx := context.Background()
	r, err := dogpile.NewRegion(dogpile.WithSoftTimeout(20 * time.Millisecond)).Configure("memory")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	create := func(ctx context.Context) (string, error) {
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		}
		return "new", nil
	}
	var waits []time.Duration
	for i := 0; b.Loop(); i++ {
		key := strconv.Itoa(i)
		b.StopTimer()
		if err := r.Set(ctx, key, "stale"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		v, err := dogpile.GetOrCreate(ctx, r, key, create, expiredNow)
		waits = append(waits, time.Since(start))
		if err != nil || v != "stale" {
			b.Fatalf("GetOrCreate = %q, %v; want the stale value", v, err)
		}
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(waits[len(waits)*99/100]), "p99-ms")
	b.ReportMetric(ms(waits[len(waits)/2]), "p50-ms")
	time.Sleep(250 * time.Millisecond) // the last creations end, for the leak check
}
