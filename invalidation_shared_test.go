package dogpile_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/proxy"
)

// roundTrips counts the calls that reach a backend.
type roundTrips struct {
	proxy.Base
	n        atomic.Int32
	invReads atomic.Int32 // reads that asked for the invalidation times

	mu    sync.Mutex
	byKey map[string]int // reads of each key
}

const invKey = "dogpile:invalidated:shared"

func (c *roundTrips) Get(ctx context.Context, k string) ([]byte, bool, error) {
	c.n.Add(1)
	c.read(k)
	return c.Base.Get(ctx, k)
}

func (c *roundTrips) GetMulti(ctx context.Context, ks []string) ([][]byte, error) {
	c.n.Add(1)
	c.read(ks...)
	return c.Base.GetMulti(ctx, ks)
}

func (c *roundTrips) read(ks ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]int{}
	}
	for _, k := range ks {
		if k == invKey {
			c.invReads.Add(1)
		}
		c.byKey[k]++
	}
}

// reads returns how many reads asked for k since the last reset.
func (c *roundTrips) reads(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[k]
}

// reset forgets the reads of each key.
func (c *roundTrips) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey = nil
}

// twoProcesses returns two regions with the same name over one store, each
// with its own SharedInvalidation: two processes sharing a cache server.
func twoProcesses(t *testing.T, refresh time.Duration) (a, b *dogpile.Region, trips *roundTrips) {
	t.Helper()
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	trips = &roundTrips{Base: proxy.Base{Next: store}}
	mk := func() *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithName("shared")).ConfigureBackend(trips,
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(refresh)))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return mk(), mk(), trips
}

func TestI6SharedInvalidationReachesOtherProcessOnNextCall(t *testing.T) {
	ctx := context.Background()
	a, b, trips := twoProcesses(t, 0)
	if err := a.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := dogpile.Get[string](ctx, b, "k"); !ok || v != "v1" {
		t.Fatalf("b reads %q, %v before any invalidation", v, ok)
	}
	// One round trip per read: the invalidation times come with the value.
	before := trips.n.Load()
	dogpile.Get[string](ctx, b, "k") //nolint:errcheck
	if n := trips.n.Load() - before; n != 1 || trips.invReads.Load() == 0 {
		t.Fatalf("a read with shared invalidation took %d round trips, want 1 that also reads the times", n)
	}

	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	calls := 0
	v, err := dogpile.GetOrCreate(ctx, b, "k", func(context.Context) (string, error) { calls++; return "v2", nil })
	if err != nil || v != "v2" || calls != 1 {
		t.Fatalf("after a hard invalidation in a, b's next GetOrCreate = %q, %v with %d creator calls; want a regeneration", v, err, calls)
	}
	// Values created after it are served normally, in both processes.
	if v, ok, _ := dogpile.Get[string](ctx, a, "k"); !ok || v != "v2" {
		t.Fatalf("a reads %q, %v after b regenerated", v, ok)
	}

	// Soft: b serves the old value stale to others while one regenerates.
	if err := b.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := dogpile.Get[string](ctx, a, "k"); ok {
		t.Fatal("a still reads the value as fresh after a soft invalidation in b")
	}
	if v, ok, _ := dogpile.Get[string](ctx, a, "k", dogpile.IgnoreExpiration()); !ok || v != "v2" {
		t.Fatalf("a soft-invalidated value is gone: %q, %v", v, ok)
	}
}

func TestI6SharedInvalidationWithRefreshInterval(t *testing.T) {
	ctx := context.Background()
	a, b, trips := twoProcesses(t, 20*time.Millisecond)
	a.Set(ctx, "k", "v1")            //nolint:errcheck
	dogpile.Get[string](ctx, b, "k") //nolint:errcheck
	// Between refreshes, reads don't ask for the invalidation times.
	before := trips.invReads.Load()
	start := time.Now()
	for range 10 {
		dogpile.Get[string](ctx, b, "k") //nolint:errcheck
	}
	if n := trips.invReads.Load() - before; n > 1+int32(time.Since(start)/(20*time.Millisecond)) {
		t.Fatalf("10 reads read the invalidation times %d times; want at most once per interval", n)
	}
	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	// a sees its own invalidation at once; b within the refresh interval.
	if _, ok, _ := dogpile.Get[string](ctx, a, "k"); ok {
		t.Fatal("the invalidating process still reads the value")
	}
	testutil.Eventually(t, "b to see a's invalidation", func() bool {
		_, ok, _ := dogpile.Get[string](ctx, b, "k")
		return !ok
	})
}

// host is one process sharing a store with others, with a clock of its own:
// skew ahead of (or behind) the real time.
func host(t *testing.T, store dogpile.Backend, skew time.Duration, ropts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	now := func() time.Time { return time.Now().Add(skew) }
	ropts = append([]dogpile.RegionOption{dogpile.WithName("shared"), dogpile.WithClock(now), dogpile.WithMetrics()}, ropts...)
	r, err := dogpile.NewRegion(ropts...).ConfigureBackend(store,
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sharedStore is a store shared by processes: memory_serialized, which
// compares and swaps like Redis and Memcached.
func sharedStore(t *testing.T) dogpile.Backend {
	t.Helper()
	store, err := dogpile.NewBackend("memory_serialized", nil)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// counter is a creator that counts its calls and returns "v<n>".
type counter struct{ n atomic.Int32 }

func (c *counter) create(context.Context) (string, error) {
	return "v" + strconv.Itoa(int(c.n.Add(1))), nil
}

// Case 5 of the cross-process issue: hosts whose clocks are 10 minutes apart.
func TestI7SharedInvalidationIgnoresClockSkew(t *testing.T) {
	ctx := context.Background()
	const skew = 10 * time.Minute
	for _, tc := range []struct {
		name                     string
		writer, invalidator, now time.Duration // the clocks' skews
	}{
		{"writer fast", skew, 0, 0},
		{"writer slow", -skew, 0, 0},
		{"invalidator fast", 0, skew, 0},
		{"invalidator slow", 0, -skew, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := sharedStore(t)
			writer, invalidator, reader := host(t, store, tc.writer), host(t, store, tc.invalidator), host(t, store, tc.now)

			// A value written before a hard invalidation is not served
			// after it, by any host.
			var before counter
			if v, err := dogpile.GetOrCreate(ctx, writer, "k", before.create); err != nil || v != "v1" {
				t.Fatalf("first GetOrCreate = %q, %v", v, err)
			}
			if err := invalidator.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			for name, r := range map[string]*dogpile.Region{"writer": writer, "invalidator": invalidator, "reader": reader} {
				if v, ok, err := dogpile.Get[string](ctx, r, "k", dogpile.IgnoreExpiration()); ok || err != nil {
					t.Fatalf("the %s reads %q, %v, %v after a hard invalidation; want a miss", name, v, ok, err)
				}
			}

			// The invalidation does not switch the cache off: 20 calls on
			// each host, one creator run in all.
			var after counter
			for range 20 {
				for name, r := range map[string]*dogpile.Region{"writer": writer, "invalidator": invalidator, "reader": reader} {
					if v, err := dogpile.GetOrCreate(ctx, r, "k", after.create); err != nil || v != "v1" {
						t.Fatalf("GetOrCreate on the %s = %q, %v; want v1, created once", name, v, err)
					}
				}
			}
			if n := after.n.Load(); n != 1 {
				t.Fatalf("60 calls after the invalidation ran the creator %d times; want 1", n)
			}
		})
	}
}

// A creation that overlaps a hard invalidation — its creator read the old
// data — writes a value that is invalid: the entry carries the generation
// from before the creator ran, whatever the hosts' clocks say.
func TestI7CreationOverlappingInvalidationIsInvalid(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	writer, invalidator := host(t, store, 10*time.Minute), host(t, store, 0)
	v, err := dogpile.GetOrCreate(ctx, writer, "k", func(ctx context.Context) (string, error) {
		// The data changes and is invalidated while this creator runs.
		if err := invalidator.Invalidate(ctx, dogpile.Hard); err != nil {
			return "", err
		}
		return "read before the change", nil
	})
	if err != nil || v != "read before the change" {
		t.Fatalf("GetOrCreate = %q, %v", v, err)
	}
	for name, r := range map[string]*dogpile.Region{"writer": writer, "invalidator": invalidator} {
		if v, ok, _ := dogpile.Get[string](ctx, r, "k"); ok {
			t.Fatalf("the %s serves %q, made before the invalidation that ended during its creation", name, v)
		}
	}
}

// A process that has not read the record since other processes invalidated
// still writes valid values with Set (it reads the record first).
func TestI6SetAfterAnotherProcessInvalidated(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	a := host(t, store, 0)
	for range 3 {
		if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
	}
	b := host(t, store, 0) // has read nothing yet
	mustSet(t, b, "k", "set by b")
	for name, r := range map[string]*dogpile.Region{"a": a, "b": b} {
		if v, ok := mustGet[string](t, r, "k"); !ok || v != "set by b" {
			t.Fatalf("%s reads %q, %v after b's Set; want the value", name, v, ok)
		}
	}
}

// ordered is a process's view of a shared store that makes two processes'
// invalidations interleave in the worst order: both read the record, then
// the Hard one writes it, then the Soft one — the read, modify and write
// that loses the Hard one unless the write compares and swaps.
type ordered struct {
	proxy.Base
	hard     bool
	read     *sync.WaitGroup // both processes have read the record
	hardDone chan struct{}   // the Hard process has written it
	armed    *atomic.Bool
	once     *sync.Once
}

func (o *ordered) Get(ctx context.Context, k string) ([]byte, bool, error) {
	b, ok, err := o.Base.Get(ctx, k)
	if k == invKey && o.armed.Load() {
		o.once.Do(func() { o.read.Done(); o.read.Wait() })
	}
	return b, ok, err
}

func (o *ordered) write(k string) func() {
	if k != invKey || !o.armed.Load() {
		return func() {}
	}
	if o.hard {
		return func() { close(o.hardDone) }
	}
	<-o.hardDone
	return func() {}
}

func (o *ordered) Set(ctx context.Context, k string, v []byte) error {
	defer o.write(k)()
	return o.Base.Set(ctx, k, v)
}

func (o *ordered) CompareAndSwap(ctx context.Context, k string, old, v []byte) (bool, error) {
	defer o.write(k)()
	return o.Base.CompareAndSwap(ctx, k, old, v)
}

// Case 6: a Soft invalidation in one process racing a Hard one in another
// never loses the Hard one.
func TestI8ConcurrentSoftAndHardNeverLoseHard(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	reader := host(t, store, 0)
	invalidatedHard := func(round int) {
		t.Helper()
		// An entry from before the round is a miss even with
		// IgnoreExpiration (a soft invalidation alone would keep it), for a
		// process that was there and for one that starts now.
		for name, r := range map[string]*dogpile.Region{"reader": reader, "new process": host(t, store, 0)} {
			if v, ok, err := dogpile.Get[int](ctx, r, "k", dogpile.IgnoreExpiration()); ok || err != nil {
				t.Fatalf("round %d: the %s reads %d, %v, %v: the hard invalidation was lost", round, name, v, ok, err)
			}
		}
	}

	t.Run("worst interleaving", func(t *testing.T) {
		var armed atomic.Bool
		var read sync.WaitGroup
		var once1, once2 sync.Once
		hardDone := make(chan struct{})
		soft := host(t, &ordered{Base: proxy.Base{Next: store}, read: &read, hardDone: hardDone, armed: &armed, once: &once1}, 0)
		hard := host(t, &ordered{Base: proxy.Base{Next: store}, hard: true, read: &read, hardDone: hardDone, armed: &armed, once: &once2}, 0)
		mustSet(t, reader, "k", 1)
		read.Add(2)
		armed.Store(true)
		errs := make(chan error, 2)
		go func() { errs <- soft.Invalidate(ctx, dogpile.Soft) }()
		go func() { errs <- hard.Invalidate(ctx, dogpile.Hard) }()
		for range 2 {
			if err := recv(t, errs, "an invalidation"); err != nil {
				t.Fatal(err)
			}
		}
		invalidatedHard(0)
		wantGenerations(t, store, 1, 1)
	})

	t.Run("many rounds", func(t *testing.T) {
		store := sharedStore(t)
		reader = host(t, store, 0)
		soft, hard := host(t, store, 0), host(t, store, 0)
		for round := range 200 {
			mustSet(t, reader, "k", round)
			start := make(chan struct{})
			errs := make(chan error, 2)
			for _, inv := range []struct {
				r   *dogpile.Region
				how dogpile.Invalidation
			}{{soft, dogpile.Soft}, {hard, dogpile.Hard}} {
				go func() { <-start; errs <- inv.r.Invalidate(ctx, inv.how) }()
			}
			close(start)
			for range 2 {
				if err := recv(t, errs, "an invalidation"); err != nil {
					t.Fatal(err)
				}
			}
			invalidatedHard(round)
			wantGenerations(t, store, uint64(round+1), uint64(round+1))
			// A value written now is fresh everywhere.
			mustSet(t, reader, "fresh", round)
			if v, ok := mustGet[int](t, soft, "fresh"); !ok || v != round {
				t.Fatalf("round %d: a value written after both invalidations reads %d, %v", round, v, ok)
			}
		}
	})
}

// wantGenerations checks the shared invalidation record's generations:
// every invalidation counted, none lost.
func wantGenerations(t *testing.T, store dogpile.Backend, hard, soft uint64) {
	t.Helper()
	b, ok, err := store.Get(context.Background(), invKey)
	if err != nil || !ok {
		t.Fatalf("the invalidation record: %v, %v", ok, err)
	}
	e, ok := fuzzOpen(b)
	if !ok || e.codecName != "dogpile/invalidation" || len(e.gens) != 2 {
		t.Fatalf("the invalidation record %q is not one", b)
	}
	if e.gens[0] != hard || e.gens[1] != soft {
		t.Fatalf("the record holds hard %d, soft %d; want %d, %d", e.gens[0], e.gens[1], hard, soft)
	}
}

// logged collects what a region logs.
type logged struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logged) Enabled(context.Context, slog.Level) bool { return true }
func (l *logged) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logged) WithGroup(string) slog.Handler            { return l }
func (l *logged) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	return nil
}

// count returns how many messages contain s.
func (l *logged) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// Case 7: under signing, a record planted without the key is ignored and
// counted, and the cache keeps working without anyone deleting it. The same
// holds for a tag's record, planted for a tag the values carry.
func TestI9PlantedRecordIgnoredUnderSigning(t *testing.T) {
	ctx := context.Background()
	key := []byte("shared-signing-key-0123456789abcdef")
	for _, rec := range []struct {
		name, key, logged string
		opts              []dogpile.Option // a call's, to read the record
		invalidate        func(r *dogpile.Region) error
	}{
		{"region record", invKey, "invalidation record not signed", nil,
			func(r *dogpile.Region) error { return r.Invalidate(ctx, dogpile.Hard) }},
		{"tag record", tagKey("t"), "tag record not signed", []dogpile.Option{dogpile.Tags("t")},
			func(r *dogpile.Region) error { return r.InvalidateTags(ctx, dogpile.Hard, "t") }},
	} {
		maxTime := binary.BigEndian.AppendUint64(nil, math.MaxInt64) // the old format: hard, soft times
		maxTime = binary.BigEndian.AppendUint64(maxTime, math.MaxInt64)
		for name, planted := range map[string][]byte{
			"times of MaxInt64":                  maxTime,
			"generations of MaxUint64, unsigned": plantedRecord(t, nil, rec.key),
			"signed with another key":            plantedRecord(t, []byte("an-attackers-key-0123456789abcdef"), rec.key),
			"garbage":                            []byte("garbage"),
		} {
			t.Run(rec.name+"/"+name, func(t *testing.T) {
				store := sharedStore(t)
				logs := &logged{}
				r := host(t, store, 0, dogpile.WithSigning(key), dogpile.WithLogger(slog.New(logs)))
				if err := store.Set(ctx, rec.key, planted); err != nil {
					t.Fatal(err)
				}
				var c counter
				for range 20 {
					if v, err := dogpile.GetOrCreate(ctx, r, "k", c.create, rec.opts...); err != nil || v != "v1" {
						t.Fatalf("GetOrCreate = %q, %v", v, err)
					}
				}
				if n := c.n.Load(); n != 1 {
					t.Fatalf("20 calls ran the creator %d times with a planted record; want 1", n)
				}
				if s := r.Stats(); s.Rejected < 20 {
					t.Fatalf("rejected = %d; want every read of the planted record counted", s.Rejected)
				}
				if n := logs.count(rec.logged); n != 1 {
					t.Fatalf("the planted record was logged %d times; want once", n)
				}
				// Invalidation works and replaces the planted record.
				if err := rec.invalidate(r); err != nil {
					t.Fatal(err)
				}
				if _, ok := mustGet[string](t, r, "k"); ok {
					t.Fatal("a hard invalidation over a planted record did not apply")
				}
				// The record it wrote is signed: another process honours it,
				// and values written after it are valid.
				other := host(t, store, 0, dogpile.WithSigning(key))
				if err := other.Set(ctx, "k", "after", rec.opts...); err != nil {
					t.Fatal(err)
				}
				if v, ok := mustGet[string](t, r, "k"); !ok || v != "after" {
					t.Fatalf("after the invalidation, r reads %q, %v", v, ok)
				}
				if err := rec.invalidate(r); err != nil {
					t.Fatal(err)
				}
				if v, ok := mustGet[string](t, other, "k", rec.opts...); ok {
					t.Fatalf("another process reads %q after r's signed invalidation", v)
				}
			})
		}
	}
}

// Without signing, anyone who can write to the store can plant a record at
// the largest generation. An invalidation can't count past it: Invalidate
// returns an error naming the record to delete, and leaves the record as it
// is, rather than wrap its counter to 0 and so undo every invalidation made.
func TestI9RecordAtTheLargestGenerationIsAnError(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	r := host(t, store, 0)
	planted := plantedRecord(t, nil, invKey)
	if err := store.Set(ctx, invKey, planted); err != nil {
		t.Fatal(err)
	}
	for _, how := range []dogpile.Invalidation{dogpile.Hard, dogpile.Soft} {
		if err := r.Invalidate(ctx, how); err == nil || !strings.Contains(err.Error(), "largest generation") || !strings.Contains(err.Error(), invKey) {
			t.Fatalf("a %s invalidation over a record at the largest generation: %v; want an error naming the record", how, err)
		}
	}
	if b, ok, err := store.Get(ctx, invKey); err != nil || !ok || string(b) != string(planted) {
		t.Fatalf("the record after the failed invalidations: %q, %v, %v; want it as planted", b, ok, err)
	}
}

// plantedRecord is a record of generations in the format a region writes
// (an envelope with generations and no payload), with generations of
// MaxUint64: signed with key for storage under recordKey if key is not nil.
func plantedRecord(t *testing.T, key []byte, recordKey string) []byte {
	t.Helper()
	b := fuzzEnvelopeGens(0, "", "dogpile/invalidation", []uint64{math.MaxUint64, math.MaxUint64}, nil, false)
	if key != nil {
		b[3] |= 1
		h := hmac.New(sha256.New, key)
		h.Write([]byte(recordKey))
		h.Write([]byte{0})
		h.Write(b)
		b = h.Sum(b)
	}
	return b
}

// Without signing anyone can write anything to the store; still, a record
// with the largest generations does not switch the cache off (values
// written after it carry them), and a record that can't be read is ignored.
func TestI9PlantedRecordWithoutSigning(t *testing.T) {
	ctx := context.Background()
	for name, planted := range map[string][]byte{
		"largest generations": plantedRecord(t, nil, invKey),
		"garbage":             []byte("garbage"),
	} {
		t.Run(name, func(t *testing.T) {
			store := sharedStore(t)
			r := host(t, store, 0)
			var c counter
			dogpile.GetOrCreate(ctx, r, "k", c.create) //nolint:errcheck
			if err := store.Set(ctx, invKey, planted); err != nil {
				t.Fatal(err)
			}
			for range 20 {
				if _, err := dogpile.GetOrCreate(ctx, r, "k", c.create); err != nil {
					t.Fatal(err)
				}
			}
			if n := c.n.Load(); n > 2 {
				t.Fatalf("the creator ran %d times around a planted record; want at most 2 (once before, once after it)", n)
			}
		})
	}
}

// With a refresh interval, a process that has not yet seen another's
// invalidation writes entries with the generations it has: invalid as soon
// as anyone sees the new ones, never wrongly valid.
func TestI6RefreshIntervalWritesConservatively(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	shared := func(refresh time.Duration) *dogpile.Region {
		return regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared")},
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(refresh)))
	}
	a, late := shared(0), shared(time.Hour)
	mustSet(t, late, "x", "x")
	if _, ok := mustGet[string](t, late, "x"); !ok { // late reads the record now, and not again for an hour
		t.Fatal("late does not read its own value")
	}
	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	var c counter
	if v, err := dogpile.GetOrCreate(ctx, late, "k", c.create); err != nil || v != "v1" {
		t.Fatalf("late's GetOrCreate = %q, %v", v, err)
	}
	// late still serves its value (it has not seen the invalidation, as
	// documented); a, which has, does not take it for valid.
	if _, ok := mustGet[string](t, late, "k"); !ok {
		t.Fatal("late does not read the value it just wrote")
	}
	if v, ok := mustGet[string](t, a, "k"); ok {
		t.Fatalf("a reads %q, written with the generations from before its invalidation", v)
	}
	// Values a writes are valid for late too.
	mustSet(t, a, "j", "from a")
	if v, ok := mustGet[string](t, late, "j"); !ok || v != "from a" {
		t.Fatalf("late reads a's value as %q, %v", v, ok)
	}
}

// A backend without compare-and-swap gets a read, modify and write, with a
// warning when the region is configured; invalidation works.
func TestI6SharedInvalidationWithoutSwapper(t *testing.T) {
	ctx := context.Background()
	store := newMultiStore() // Get, Set, Delete and multi-key calls: no CompareAndSwap
	logs := &logged{}
	mk := func() *dogpile.Region {
		return regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared"), dogpile.WithLogger(slog.New(logs))},
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	}
	a, b := mk(), mk()
	if n := logs.count("cannot compare and swap"); n != 2 {
		t.Fatalf("%d warnings for two regions over a backend without CompareAndSwap; want one each: %v", n, logs.msgs)
	}
	mustSet(t, a, "k", "v")
	for _, how := range []dogpile.Invalidation{dogpile.Soft, dogpile.Hard} {
		if err := b.Invalidate(ctx, how); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := mustGet[string](t, a, "k", dogpile.IgnoreExpiration()); ok {
		t.Fatal("a hard invalidation over a backend without CompareAndSwap did not apply")
	}
	wantGenerations(t, store, 1, 1)

	// Behind a proxy the same: proxy.Base has CompareAndSwap, and reports
	// the backend beneath has none.
	logs2 := &logged{}
	c := regionFor(t, &roundTrips{Base: proxy.Base{Next: store}}, []dogpile.RegionOption{dogpile.WithName("shared"), dogpile.WithLogger(slog.New(logs2))},
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err := c.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	wantGenerations(t, store, 2, 1)
	if n := logs2.count("cannot compare and swap"); n != 1 {
		t.Fatalf("%d warnings through a proxy; want 1", n)
	}
}

// A SharedInvalidation serves one region over one backend: given to a
// second region, or to its region again over another backend (a
// replacement, while callers may still be using the first), the
// configuration fails with ErrInvalidArgument, and the region it serves
// goes on invalidating through its own record.
func TestSharedInvalidationServesOneRegion(t *testing.T) {
	ctx := context.Background()
	inv := dogpile.SharedInvalidation(0)
	store := sharedStore(t)
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared")}, dogpile.WithInvalidationStrategy(inv))
	if _, err := dogpile.NewRegion(dogpile.WithName("other")).ConfigureBackend(store, dogpile.WithInvalidationStrategy(inv)); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("a second region with the same SharedInvalidation: %v; want ErrInvalidArgument", err)
	}
	if _, err := r.ConfigureBackend(sharedStore(t), dogpile.WithReplaceBackend(), dogpile.WithInvalidationStrategy(inv)); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Fatalf("the same SharedInvalidation over a replacement backend: %v; want ErrInvalidArgument", err)
	}
	mustSet(t, r, "k", "v")
	if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	wantGenerations(t, store, 1, 0)
	if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
		t.Fatalf("after the refused configurations, the region reads %q after its hard invalidation", v)
	}
}

// With a refresh interval, a process reads the record at most once per
// interval, on its own clock: reads within the interval don't ask for it
// (and serve what the process has seen, another process's invalidation
// included), and the first read once the interval is over does, once.
func TestSharedInvalidationRefreshIntervalOnTheRegionsClock(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock() // moves only when told
	trips := &roundTrips{Base: proxy.Base{Next: sharedStore(t)}}
	mk := func() *dogpile.Region {
		return regionFor(t, trips, []dogpile.RegionOption{dogpile.WithName("shared"), clock.option()},
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(time.Minute)))
	}
	a, b := mk(), mk()
	mustSet(t, a, "k", "v")
	if _, ok := mustGet[string](t, b, "k"); !ok { // b reads the record now, and not again for a minute
		t.Fatal("b does not read a's value")
	}
	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	trips.reset()
	clock.advance(time.Minute - time.Nanosecond)
	for range 10 {
		if v, ok := mustGet[string](t, b, "k"); !ok || v != "v" {
			t.Fatalf("within the refresh interval b reads %q, %v; want the value it has not yet seen invalidated", v, ok)
		}
	}
	if n := trips.reads(invKey); n != 0 {
		t.Fatalf("10 reads within the refresh interval read the record %d times; want 0", n)
	}
	clock.advance(time.Nanosecond)
	for range 10 {
		if v, ok := mustGet[string](t, b, "k", dogpile.IgnoreExpiration()); ok {
			t.Fatalf("once the interval is over b reads %q, hard invalidated by a", v)
		}
	}
	if n := trips.reads(invKey); n != 1 {
		t.Fatalf("10 reads after the interval read the record %d times; want 1", n)
	}
}

// A shared region's Invalidate takes Hard or Soft only: anything else is an
// ErrInvalidArgument, and counts as no invalidation.
func TestSharedInvalidationRejectsANonInvalidation(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	r := host(t, store, 0)
	mustSet(t, r, "k", "v")
	for _, how := range []dogpile.Invalidation{dogpile.NotInvalidated, dogpile.Hard + 1} {
		if err := r.Invalidate(ctx, how); !errors.Is(err, dogpile.ErrInvalidArgument) {
			t.Fatalf("Invalidate(%d) = %v; want ErrInvalidArgument", how, err)
		}
	}
	if _, ok, err := store.Get(ctx, invKey); ok || err != nil {
		t.Fatalf("the rejected invalidations wrote a record (%v, %v)", ok, err)
	}
	if v, ok := mustGet[string](t, r, "k"); !ok || v != "v" {
		t.Fatalf("after the rejected invalidations the value reads %q, %v; want it fresh", v, ok)
	}
}

// An invalidation whose record was swapped in, though the store reported an
// error with it (a tier that stored it but could not tell the other
// processes), returns the error and still applies in its own process —
// even one that reads the record only once an hour.
func TestSharedInvalidationSwappedWithAnErrorStillApplies(t *testing.T) {
	ctx := context.Background()
	store := newSwapFaults(t, invKey)
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared")},
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(time.Hour)))
	mustSet(t, r, "k", "v")
	if _, ok := mustGet[string](t, r, "k"); !ok { // reads the record now, and not again for an hour
		t.Fatal("r does not read its own value")
	}
	errTold := errors.New("stored, but the other processes were not told")
	store.failWith(func(_ context.Context, swap func() (bool, error)) (bool, error) {
		swapped, _ := swap()
		return swapped, errTold
	})
	if err := r.Invalidate(ctx, dogpile.Hard); !errors.Is(err, errTold) {
		t.Fatalf("Invalidate = %v; want the store's error", err)
	}
	if v, ok := mustGet[string](t, r, "k", dogpile.IgnoreExpiration()); ok {
		t.Fatalf("after its hard invalidation was stored (with an error), the process reads %q", v)
	}
}

// A tag invalidation that fails to store its record still applies what it
// read on the way: another process's hard invalidation of the tag, found
// in the record, invalidates the values this process had already read and
// found valid.
func TestTagInvalidationThatFailsAppliesTheRecordItRead(t *testing.T) {
	ctx := context.Background()
	store := newSwapFaults(t, tagKey("t"))
	mk := func() *dogpile.Region {
		return regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared")},
			dogpile.WithExpiration(time.Hour), dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	}
	a, b := mk(), mk()
	if err := a.Set(ctx, "k", "v", dogpile.Tags("t")); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet[string](t, a, "k"); !ok {
		t.Fatal("a tagged value is a miss before any invalidation")
	}
	if err := b.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
		t.Fatal(err)
	}
	errDown := errors.New("store down")
	store.failWith(func(context.Context, func() (bool, error)) (bool, error) { return false, errDown })
	if err := a.InvalidateTags(ctx, dogpile.Soft, "t"); !errors.Is(err, errDown) {
		t.Fatalf("InvalidateTags = %v; want the store's error", err)
	}
	if v, ok := mustGet[string](t, a, "k", dogpile.IgnoreExpiration()); ok {
		t.Fatalf("a reads %q, hard invalidated by b in the record a read while invalidating", v)
	}
}

// An invalidation that keeps losing the compare-and-swap to other
// processes stops when its context ends, with the context's error, rather
// than keep trying.
func TestSharedInvalidationStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := newSwapFaults(t, invKey)
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared")},
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	store.failWith(func(context.Context, func() (bool, error)) (bool, error) {
		cancel() // the caller gives up while another process's update wins
		return false, nil
	})
	if err := r.Invalidate(ctx, dogpile.Hard); !errors.Is(err, context.Canceled) {
		t.Fatalf("Invalidate = %v; want context.Canceled", err)
	}
	if n := store.calls(); n != 1 {
		t.Fatalf("%d compare-and-swap attempts; want 1, then the context's end", n)
	}
}

// An empty record (a store that keeps a key with no bytes) is no record:
// under signing it is not counted as rejected nor logged, and values are
// served as if no invalidation had been made.
func TestSharedInvalidationEmptyRecordIsNoRecord(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	logs := &logged{}
	r := host(t, store, 0, dogpile.WithSigning([]byte("shared-signing-key-0123456789abcdef")), dogpile.WithLogger(slog.New(logs)))
	mustSet(t, r, "k", "v")
	if err := store.Set(ctx, invKey, []byte{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if v, ok := mustGet[string](t, r, "k"); !ok || v != "v" {
			t.Fatalf("with an empty record the value reads %q, %v; want it fresh", v, ok)
		}
	}
	if s := r.Stats(); s.Rejected != 0 {
		t.Fatalf("rejected = %d with an empty record; want 0", s.Rejected)
	}
	if n := logs.count("not signed"); n != 0 {
		t.Fatalf("an empty record was logged as unsigned %d times: %v", n, logs.msgs)
	}
}

// A region whose backend cannot compare and swap warns when it is
// configured, even behind proxies that can (WithWrap): their
// CompareAndSwap has nothing beneath to swap with. The warning is given
// once, before any invalidation, not first at an Invalidate.
func TestSharedInvalidationWarnsOfNoSwapBehindWrappingProxies(t *testing.T) {
	logs := &logged{}
	r := regionFor(t, newMultiStore(), []dogpile.RegionOption{dogpile.WithName("shared"), dogpile.WithLogger(slog.New(logs))},
		dogpile.WithWrap(func(b dogpile.Backend) dogpile.Backend { return &roundTrips{Base: proxy.Base{Next: b}} }),
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if n := logs.count("cannot compare and swap"); n != 1 {
		t.Fatalf("%d warnings when configured behind a wrapping proxy; want 1: %v", n, logs.msgs)
	}
	if err := r.Invalidate(context.Background(), dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("cannot compare and swap"); n != 1 {
		t.Fatalf("%d warnings after an invalidation; want still 1", n)
	}
}

// A region's record lost from the store (evicted, or the store restarted)
// loses no invalidation for a process that saw it, and the next Invalidate
// counts on from the highest generation. A process started after the loss
// sees generation 0 until then and serves the entry invalidated before the
// loss: the documented limit.
func TestSharedInvalidationRecordLost(t *testing.T) {
	ctx := context.Background()
	store := sharedStore(t)
	a := host(t, store, 0)
	mustSet(t, a, "k", "old")
	for range 2 {
		if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Delete(ctx, invKey); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet[string](t, a, "k"); ok {
		t.Fatalf("after the record was lost, the process that saw it reads %q, invalidated before", v)
	}
	started := host(t, store, 0) // after the loss
	if v, ok := mustGet[string](t, started, "k"); !ok || v != "old" {
		t.Fatalf("a process started after the loss reads %q, %v; the documented limit is that it serves the entry", v, ok)
	}
	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	if h, _ := recordGenerations(t, store, invKey); h != 3 {
		t.Fatalf("the record rewritten after its loss holds hard generation %d; want 3", h)
	}
	if v, ok := mustGet[string](t, started, "k"); ok {
		t.Fatalf("after the next invalidation, the process started after the loss still reads %q", v)
	}
}
