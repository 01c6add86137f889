package dogpile_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/lock"
)

// Helpers for the conformance tests of the core (R, I, M, B, C lines).

// valuePaths are the two ways a region stores a value: memory holds the Go
// value itself (backend.Values), memory_serialized holds an encoded envelope
// (codec + Backend). A behaviour that touches storage is tested on both.
var valuePaths = []string{"memory", "memory_serialized"}

// onEachPath runs f once per value path, as a subtest named after it.
func onEachPath(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range valuePaths {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// regionOn returns a region configured with the registered backend name.
func regionOn(t *testing.T, backend string, copts ...dogpile.ConfigOption) *dogpile.Region {
	t.Helper()
	return regionWith(t, nil, backend, copts...)
}

// onEachRegion runs f once per value path, as a subtest named after it, on
// a region of that path with the given expiration (0: none, a region's
// default): the start of most tests of the region's behaviour, which hold on
// both paths.
func onEachRegion(t *testing.T, expiration time.Duration, f func(t *testing.T, r *dogpile.Region)) {
	t.Helper()
	onEachPath(t, func(t *testing.T, backend string) {
		f(t, regionOn(t, backend, dogpile.WithExpiration(expiration)))
	})
}

// regionWith is regionOn with region options.
func regionWith(t *testing.T, ropts []dogpile.RegionOption, backend string, copts ...dogpile.ConfigOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(ropts...).Configure(backend, copts...)
	if err != nil {
		t.Fatalf("Configure(%q): %v", backend, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// regionFor returns a region over the backend instance b.
func regionFor(t *testing.T, b dogpile.Backend, ropts []dogpile.RegionOption, copts ...dogpile.ConfigOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(ropts...).ConfigureBackend(b, copts...)
	if err != nil {
		t.Fatalf("ConfigureBackend(%T): %v", b, err)
	}
	return r
}

// expiredNow is a per-call expiration that every stored value has outlived:
// a deterministic way to see a value as expired without sleeping.
var expiredNow = dogpile.ExpirationTime(time.Nanosecond)

// deadline bounds every wait in these tests: a broken behaviour fails the
// test instead of hanging it.
const deadline = 10 * time.Second

// recv receives from ch, failing the test after deadline.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// result is what a GetOrCreate in a goroutine returned.
type result[T any] struct {
	v   T
	err error
}

// goGetOrCreate runs GetOrCreate in a goroutine and delivers its result.
func goGetOrCreate[T any](ctx context.Context, r *dogpile.Region, key string, create func(context.Context) (T, error), opts ...dogpile.Option) <-chan result[T] {
	ch := make(chan result[T], 1)
	go func() {
		v, err := dogpile.GetOrCreate(ctx, r, key, create, opts...)
		ch <- result[T]{v, err}
	}()
	return ch
}

// mustGet is Get that fails the test on an error.
func mustGet[T any](t *testing.T, r *dogpile.Region, key string, opts ...dogpile.Option) (T, bool) {
	t.Helper()
	v, ok, err := dogpile.Get[T](context.Background(), r, key, opts...)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, ok
}

// mustSet is Region.Set that fails the test on an error.
func mustSet(t *testing.T, r *dogpile.Region, key string, v any) {
	t.Helper()
	if err := r.Set(context.Background(), key, v); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// storeBackend is a user's backend of only Get, Set and Delete over a map —
// the seed's DictionaryBackend — that counts its calls and records the keys
// it is given, per operation. It honours ctx as a networked backend would.
type storeBackend struct {
	mu     sync.Mutex
	data   map[string][]byte
	values map[string]any
	keys   map[string][]string // operation → keys, in call order
	calls  map[string]int      // operation → calls
}

func newStore() *storeBackend {
	return &storeBackend{data: map[string][]byte{}, values: map[string]any{}, keys: map[string][]string{}, calls: map[string]int{}}
}

func (s *storeBackend) record(op string, keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	s.keys[op] = append(s.keys[op], keys...)
}

func (s *storeBackend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.record("get", key)
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[key]
	return b, ok, nil
}

func (s *storeBackend) Set(ctx context.Context, key string, value []byte) error {
	s.record("set", key)
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = value
	return nil
}

func (s *storeBackend) Delete(ctx context.Context, key string) error {
	s.record("delete", key)
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
	delete(s.values, key)
	return nil
}

// raw returns the bytes stored under key, without counting a call.
func (s *storeBackend) raw(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[key]
	return slices.Clone(b), ok
}

// put stores bytes under key behind the region's back.
func (s *storeBackend) put(key string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = b
}

// count returns how many calls of op the backend got.
func (s *storeBackend) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// total returns how many calls of any operation the backend got.
func (s *storeBackend) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// seen returns the keys given to each operation so far.
func (s *storeBackend) seen() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.keys))
	for op, ks := range s.keys {
		out[op] = slices.Clone(ks)
	}
	return out
}

// callLog is the record of calls a test double (a store, a loader) keeps:
// the calls append to it, possibly from several goroutines, and the test
// takes what has come since it last looked.
type callLog[T any] struct {
	mu    sync.Mutex
	calls []T
}

func (l *callLog[T]) add(call T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, call)
}

// take returns the calls since the last take.
func (l *callLog[T]) take() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := l.calls
	l.calls = nil
	return calls
}

// multiStoreBackend adds the multi-key interface to storeBackend, each
// multi-key call being one counted call.
type multiStoreBackend struct{ *storeBackend }

func newMultiStore() multiStoreBackend { return multiStoreBackend{newStore()} }

func (m multiStoreBackend) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	m.record("get_multi", keys...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = m.data[k]
	}
	return out, nil
}

func (m multiStoreBackend) SetMulti(ctx context.Context, items map[string][]byte) error {
	m.record("set_multi", slices.Sorted(maps.Keys(items))...)
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	maps.Copy(m.data, items)
	return nil
}

func (m multiStoreBackend) DeleteMulti(ctx context.Context, keys []string) error {
	m.record("delete_multi", keys...)
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.data, k)
		delete(m.values, k) // as Delete does, for a store with Go values too
	}
	return nil
}

// lockStoreBackend adds a distributed-mutex interface (in-process here) to
// multiStoreBackend, recording the keys it is asked to lock.
type lockStoreBackend struct {
	multiStoreBackend
	locks *lock.Local
}

func newLockStore() lockStoreBackend { return lockStoreBackend{newMultiStore(), &lock.Local{}} }

func (l lockStoreBackend) Mutex(key string) lock.Mutex {
	l.record("mutex", key)
	return l.locks.Mutex(key)
}

// valueStoreBackend adds the Go-value interface to storeBackend, as the
// memory backend has, recording keys like the byte operations.
type valueStoreBackend struct{ *storeBackend }

func (v valueStoreBackend) GetValue(ctx context.Context, key string) (any, bool, error) {
	v.record("get_value", key)
	v.mu.Lock()
	defer v.mu.Unlock()
	x, ok := v.values[key]
	return x, ok, nil
}

func (v valueStoreBackend) SetValue(ctx context.Context, key string, value any) error {
	v.record("set_value", key)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.values[key] = value
	return nil
}

// The envelope layout that byte-storing backends hold is documented in
// envelope.go: "dp", format version, flags, creation time (Unix ns, big
// endian, bytes 4–12), codec name length, codec name, payload. Tests change
// stored entries through it to make them old or of another version.
const (
	envVersionAt = 2
	envCreatedAt = 4
)

// aged returns a copy of the entry b made age older.
func aged(t *testing.T, b []byte, age time.Duration) []byte {
	t.Helper()
	if len(b) < 13 || string(b[:2]) != "dp" {
		t.Fatalf("not a dogpile entry: %q", b)
	}
	out := slices.Clone(b)
	created := int64(binary.BigEndian.Uint64(out[envCreatedAt:]))
	binary.BigEndian.PutUint64(out[envCreatedAt:], uint64(created-int64(age)))
	return out
}

var uniqueSeq atomic.Int64

// uniqueName returns a name no other test (or -count run) in this process
// uses, for registering backends.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), uniqueSeq.Add(1))
}

// Types for the typed round trips (R2, C1).
type (
	samplePoint struct {
		X, Y int
	}
	sampleRecord struct {
		Name   string
		Age    int
		Score  float64
		Admin  bool
		Tags   []string
		Attrs  map[string]string
		Origin samplePoint
	}
)

// roundTrip is one typed value to store and read back.
type roundTrip struct {
	name string
	// setGet stores the value under key in r and reads it back as its own
	// type, failing the test when it is not found or not equal.
	setGet func(t *testing.T, r *dogpile.Region, key string)
}

func roundTripOf[T any](name string, v T, equal func(a, b T) bool) roundTrip {
	return roundTrip{name: name, setGet: func(t *testing.T, r *dogpile.Region, key string) {
		t.Helper()
		mustSet(t, r, key, v)
		got, ok := mustGet[T](t, r, key)
		if !ok {
			t.Fatalf("%s: Get[%T](%q) after Set: not found", name, v, key)
		}
		if !equal(got, v) {
			t.Fatalf("%s: Get[%T](%q) = %#v, want %#v", name, v, key, got, v)
		}
		// GetOrCreate reads the same value without calling its creator.
		got, err := dogpile.GetOrCreate(context.Background(), r, key, func(context.Context) (T, error) {
			t.Errorf("%s: creator called for a stored value", name)
			return got, nil
		})
		if err != nil || !equal(got, v) {
			t.Fatalf("%s: GetOrCreate(%q) = %#v, %v; want %#v", name, key, got, err, v)
		}
		// So does GetMulti: on a backend that reads many keys at once, by
		// its own decoding (each value into its slot of one slice).
		m, err := dogpile.GetMulti[T](context.Background(), r, []string{key})
		if got, ok := m[key]; err != nil || !ok || !equal(got, v) {
			t.Fatalf("%s: GetMulti[%T](%q) = %#v (found %v), %v; want %#v", name, v, key, got, ok, err, v)
		}
	}}
}

func eq[T comparable](a, b T) bool { return a == b }

// typedValues are the types of R2 (and C1): strings, numbers, booleans,
// structs, slices and maps.
func typedValues(binaryStrings bool) []roundTrip {
	rts := []roundTrip{
		roundTripOf("string", "héllo, wörld ✓", eq[string]),
		roundTripOf("empty string", "", eq[string]),
		roundTripOf("int", -42, eq[int]),
		roundTripOf("int64", int64(1)<<60+7, eq[int64]),
		roundTripOf("uint32", uint32(4000000000), eq[uint32]),
		roundTripOf("float64", 3.141592653589793, eq[float64]),
		roundTripOf("float64 fraction", 0.1, eq[float64]),
		roundTripOf("float32", float32(2.5), eq[float32]),
		roundTripOf("bool true", true, eq[bool]),
		roundTripOf("bool false", false, eq[bool]),
		roundTripOf("struct", sampleRecord{Name: "ann", Age: 37, Score: 9.5, Admin: true, Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"}, Origin: samplePoint{1, -2}}, recordEqual),
		roundTripOf("pointer to struct", &samplePoint{3, 4}, func(a, b *samplePoint) bool { return a != nil && *a == *b }),
		roundTripOf("[]string", []string{"x", "", "z"}, slices.Equal[[]string]),
		roundTripOf("[]int", []int{1, -2, 3}, slices.Equal[[]int]),
		roundTripOf("[]byte", []byte{0, 1, 2, 0xff}, slices.Equal[[]byte]),
		roundTripOf("[]struct", []samplePoint{{1, 2}, {3, 4}}, slices.Equal[[]samplePoint]),
		roundTripOf("map[string]int", map[string]int{"a": 1, "b": -2}, maps.Equal[map[string]int]),
		roundTripOf("map[string]struct", map[string]samplePoint{"o": {0, 0}, "p": {5, 6}}, maps.Equal[map[string]samplePoint]),
	}
	if binaryStrings {
		// A Go string is any bytes, not only UTF-8.
		rts = append(rts, roundTripOf("binary string", "\xff\x00\xfe", eq[string]))
	}
	return rts
}

func recordEqual(a, b sampleRecord) bool {
	return a.Name == b.Name && a.Age == b.Age && a.Score == b.Score && a.Admin == b.Admin &&
		slices.Equal(a.Tags, b.Tags) && maps.Equal(a.Attrs, b.Attrs) && a.Origin == b.Origin
}
