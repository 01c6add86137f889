// Package dogpiletest is the conformance suite for dogpile backends, in the
// manner of testing/fstest: a backend author calls TestBackend (and, for a
// bare mutex, TestMutex) from a test, and the suite checks everything a
// region relies on — byte-exact storage, misses, deletes, the optional
// multi-key, value and mutex interfaces, and the dogpile lock and
// invalidation by tag working through the backend.
//
//	func TestConformance(t *testing.T) {
//		dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
//			b, err := mybackend.New(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		})
//	}
//
// A backend whose distributed lock times out (a lock.Lease) is also given a
// factory of the backend with a short lock timeout, for the checks that let a
// hold lapse:
//
//	dogpiletest.TestBackend(t, newBackend, dogpiletest.WithShortLease(func(t *testing.T) dogpile.Backend {
//		return newBackendWithLockTimeout(t, 500*time.Millisecond)
//	}))
//
// The suite uses keys unique to each run, so backends may share a server.
package dogpiletest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

// Factory returns a backend for one subtest. It may return a new client of a
// shared server: the suite never reuses a key.
type Factory func(t *testing.T) dogpile.Backend

// TestBackend runs the conformance suite against backends made by
// newBackend. A backend's distributed mutex is checked as far as it goes: a
// lock.Lease (renewed, lost once taken over; with WithShortLease, in time
// too), a backend.Fenced (no write once the lock is lost), a lock.Prober; a
// backend.Swapper's CompareAndSwap is checked too, and so are the values of
// a backend that says they are immutable (backend.Immutable), and two
// regions on the backend with the same keys under different prefixes are
// checked to stay apart (values, invalidations, locks). A proxy's or a
// tier's mutex is checked for what the mutex it wraps can do (lock.As); the
// checks of what a wrapper without Unwrap hides are skipped.
func TestBackend(t *testing.T, newBackend Factory, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	runWith := func(name string, newBackend Factory, f func(t *testing.T, b dogpile.Backend, key func(string) string)) {
		t.Run(name, func(t *testing.T) {
			b := newBackend(t)
			prefix := "dogpiletest-" + randomHex(6) + "-"
			f(t, b, func(s string) string { return prefix + s })
		})
	}
	run := func(name string, f func(t *testing.T, b dogpile.Backend, key func(string) string)) {
		runWith(name, newBackend, f)
	}
	// onMutex runs f on the backend's mutexes, if it has some.
	onMutex := func(f func(t *testing.T, newMutex func(string) lock.Mutex)) func(t *testing.T, b dogpile.Backend, key func(string) string) {
		return func(t *testing.T, b dogpile.Backend, key func(string) string) {
			mb := mutexes(t, b)
			f(t, func(k string) lock.Mutex { return mb.Mutex(key(k)) })
		}
	}
	run("GetMissing", testGetMissing)
	run("SetGet", testSetGet)
	run("Overwrite", testOverwrite)
	run("Delete", testDelete)
	run("LargeValue", testLargeValue)
	run("Concurrent", testConcurrent)
	run("Multi", testMulti)
	run("Value", testValue)
	run("Immutable", testImmutable)
	run("CompareAndSwap", testSwap)
	run("Mutex", onMutex(testMutex))
	run("MutexProber", onMutex(testProber))
	run("MutexApartFromValues", testMutexApart)
	run("Lease", onMutex(testLease))
	short := newBackend
	if o.shortLease != nil {
		short = o.shortLease
	}
	runWith("LeaseLapse", short, testLeaseLapse)
	run("Fenced", testFenced)
	run("FencedSet", testFencedSet)
	run("RegionStampede", testRegionStampede)
	run("RegionStaleServed", testRegionStale)
	run("RegionCorruptIsMiss", testRegionCorrupt)
	run("RegionMulti", testRegionMulti)
	run("RegionTags", testRegionTags)
	run("RegionsApart", testRegionsApart)
}

// TestMutex checks a Mutex implementation: exclusive, waits honouring the
// context, released only by its holder, independent per key; and, if it is
// one, a lock.Prober and a lock.Lease (the checks that need no lapse of a
// hold). newMutex returns a new would-be holder of the key's mutex each time
// it is called.
func TestMutex(t *testing.T, newMutex func(key string) lock.Mutex) {
	prefix := "dogpiletest-" + randomHex(6) + "-"
	m := func(k string) lock.Mutex { return newMutex(prefix + k) }
	t.Run("Exclusive", func(t *testing.T) { testMutex(t, m) })
	t.Run("Prober", func(t *testing.T) { testProber(t, m) })
	t.Run("Lease", func(t *testing.T) { testLease(t, m) })
}

// mutexes returns b as a backend.Locking, skipping the test if b has no
// mutex (a proxy over a backend without one has the method, and returns nil).
func mutexes(t *testing.T, b dogpile.Backend) backend.Locking {
	t.Helper()
	mb, ok := b.(backend.Locking)
	if !ok || mb.Mutex("dogpiletest-probe") == nil {
		t.Skipf("%T has no distributed mutex (backend.Locking)", b)
	}
	return mb
}

// capability returns m as a T — m itself, or the mutex it wraps (lock.As)
// — skipping the test if it is not one; what names the capability in the
// message.
func capability[T any](t *testing.T, m lock.Mutex, what string) T {
	t.Helper()
	c, ok := lock.As[T](m)
	if !ok {
		t.Skipf("%T is not a %s", m, what)
	}
	return c
}

// fencing returns m as a backend.Fenced, skipping the test if it is not
// one. Unlike the other capabilities it is not looked for behind a wrapper:
// SetFenced writes a value, which a wrapper (a tier) must see, so only a
// mutex that implements it itself offers it.
func fencing(t *testing.T, m lock.Mutex) backend.Fenced {
	t.Helper()
	f, ok := m.(backend.Fenced)
	if !ok {
		t.Skipf("%T is not a backend.Fenced (it does not fence writes)", m)
	}
	return f
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustGet(t *testing.T, b dogpile.Backend, k string) ([]byte, bool) {
	t.Helper()
	v, ok, err := b.Get(ctxT(t), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return v, ok
}

func mustSet(t *testing.T, b dogpile.Backend, k string, v []byte) {
	t.Helper()
	if err := b.Set(ctxT(t), k, v); err != nil {
		t.Fatalf("Set(%q): %v", k, err)
	}
}

func testGetMissing(t *testing.T, b dogpile.Backend, key func(string) string) {
	if v, ok := mustGet(t, b, key("never-set")); ok || v != nil {
		t.Fatalf("Get of a key never set = %q, %v; want nil, false", v, ok)
	}
}

func testSetGet(t *testing.T, b dogpile.Backend, key func(string) string) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for name, v := range map[string][]byte{"one-byte": {'x'}, "all-bytes": all, "text": []byte("hello, world")} {
		k := key(name)
		mustSet(t, b, k, v)
		got, ok := mustGet(t, b, k)
		if !ok || !bytes.Equal(got, v) {
			t.Fatalf("Get(%q) after Set = %q, %v; want %q, true", k, got, ok, v)
		}
	}
}

// testImmutable checks what a backend.Immutable promises: values returned
// stay as they were through later calls, and none is a window onto memory
// that holds another.
func testImmutable(t *testing.T, b dogpile.Backend, key func(string) string) {
	if !backend.ValuesImmutable(b) {
		t.Skipf("%T does not say its values are immutable (backend.Immutable)", b)
	}
	ctx := ctxT(t)
	k1, k2 := key("a"), key("b")
	mustSet(t, b, k1, []byte("first-value"))
	mustSet(t, b, k2, []byte("other-value"))
	var kept [][]byte // values returned, each to stay as its copy in want
	var want []string
	keep := func(vs ...[]byte) {
		for _, v := range vs {
			kept, want = append(kept, v), append(want, string(v))
		}
	}
	v, _ := mustGet(t, b, k1)
	keep(v)
	v, _ = mustGet(t, b, k2)
	keep(v)
	mustSet(t, b, k1, []byte("third-value"))
	v, _ = mustGet(t, b, k1)
	keep(v)
	if mb, ok := b.(backend.Multi); ok {
		vs, err := mb.GetMulti(ctx, []string{k1, k2})
		if err != nil {
			t.Fatalf("GetMulti: %v", err)
		}
		keep(vs...)
		if err := mb.SetMulti(ctx, map[string][]byte{k1: []byte("fifth-value"), k2: []byte("sixth-value")}); err != nil {
			t.Fatalf("SetMulti: %v", err)
		}
		if vs, err = mb.GetMulti(ctx, []string{k2, k1}); err != nil {
			t.Fatalf("GetMulti: %v", err)
		}
		keep(vs...)
	}
	if err := b.Delete(ctx, k2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for i, v := range kept {
		if string(v) != want[i] {
			t.Errorf("value %d returned as %q is now %q: a returned value changed", i, want[i], v)
		}
	}
	// Memory of its own: no value's bytes, up to its capacity, overlap
	// another's. (Two reads of an unchanged value may return the same bytes.)
	for i, a := range kept {
		for j, c := range kept[:i] {
			same := len(a) == len(c) && unsafe.SliceData(a) == unsafe.SliceData(c)
			if len(a) > 0 && len(c) > 0 && !same && overlap(a, c) {
				t.Errorf("values %d and %d share memory", j, i)
			}
		}
	}
}

// overlap reports whether a and b, up to their capacities, share memory.
func overlap(a, b []byte) bool {
	a, b = a[:cap(a)], b[:cap(b)]
	aStart, bStart := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return aStart < bStart+uintptr(len(b)) && bStart < aStart+uintptr(len(a))
}

func testOverwrite(t *testing.T, b dogpile.Backend, key func(string) string) {
	k := key("k")
	mustSet(t, b, k, []byte("first"))
	mustSet(t, b, k, []byte("second"))
	if got, _ := mustGet(t, b, k); string(got) != "second" {
		t.Fatalf("Get after overwrite = %q, want %q", got, "second")
	}
}

func testDelete(t *testing.T, b dogpile.Backend, key func(string) string) {
	k := key("k")
	mustSet(t, b, k, []byte("v"))
	if err := b.Delete(ctxT(t), k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := mustGet(t, b, k); ok {
		t.Fatal("Get after Delete found a value")
	}
	if err := b.Delete(ctxT(t), key("never-set")); err != nil {
		t.Fatalf("Delete of a missing key: %v; want no error", err)
	}
}

func testLargeValue(t *testing.T, b dogpile.Backend, key func(string) string) {
	v := make([]byte, 512<<10)
	rand.Read(v) //nolint:errcheck // crypto/rand.Read does not fail
	k := key("large")
	mustSet(t, b, k, v)
	if got, ok := mustGet(t, b, k); !ok || !bytes.Equal(got, v) {
		t.Fatalf("512 KiB value did not round-trip (got %d bytes, %v)", len(got), ok)
	}
}

func testConcurrent(t *testing.T, b dogpile.Backend, key func(string) string) {
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				k := key(fmt.Sprintf("g%d-%d", g, i))
				v := []byte(k)
				if err := b.Set(ctx, k, v); err != nil {
					errs <- err
					return
				}
				got, ok, err := b.Get(ctx, k)
				if err != nil || !ok || !bytes.Equal(got, v) {
					errs <- fmt.Errorf("Get(%q) = %q, %v, %v", k, got, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testMulti(t *testing.T, b dogpile.Backend, key func(string) string) {
	mb, ok := b.(backend.Multi)
	if !ok {
		t.Skipf("%T has no multi-key calls (backend.Multi)", b)
	}
	ctx := ctxT(t)
	items := map[string][]byte{}
	var keys []string
	for i := range 10 {
		k := key(fmt.Sprintf("m%d", i))
		items[k] = []byte(fmt.Sprintf("value-%d", i))
		keys = append(keys, k)
	}
	if err := mb.SetMulti(ctx, items); err != nil {
		t.Fatalf("SetMulti: %v", err)
	}
	ask := append([]string{key("missing-first")}, keys...)
	ask = append(ask, key("missing-last"))
	got, err := mb.GetMulti(ctx, ask)
	if err != nil {
		t.Fatalf("GetMulti: %v", err)
	}
	if len(got) != len(ask) {
		t.Fatalf("GetMulti returned %d values for %d keys", len(got), len(ask))
	}
	if got[0] != nil || got[len(got)-1] != nil {
		t.Fatalf("GetMulti: missing keys gave %q and %q, want nil", got[0], got[len(got)-1])
	}
	for i, k := range keys {
		if !bytes.Equal(got[i+1], items[k]) {
			t.Fatalf("GetMulti[%q] = %q, want %q (values out of key order?)", k, got[i+1], items[k])
		}
	}
	if err := mb.DeleteMulti(ctx, keys[:5]); err != nil {
		t.Fatalf("DeleteMulti: %v", err)
	}
	got, err = mb.GetMulti(ctx, keys)
	if err != nil {
		t.Fatalf("GetMulti: %v", err)
	}
	for i := range keys {
		if deleted := i < 5; deleted != (got[i] == nil) {
			t.Fatalf("after DeleteMulti of the first 5 keys, key %d present = %v", i, got[i] != nil)
		}
	}
	if err := mb.SetMulti(ctx, map[string][]byte{}); err != nil {
		t.Fatalf("SetMulti of nothing: %v", err)
	}
	if err := mb.DeleteMulti(ctx, nil); err != nil {
		t.Fatalf("DeleteMulti of nothing: %v", err)
	}
	if got, err := mb.GetMulti(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMulti of nothing = %v, %v", got, err)
	}
}

func testValue(t *testing.T, b dogpile.Backend, key func(string) string) {
	vb, ok := b.(backend.Values)
	if !ok {
		t.Skipf("%T holds no Go values (backend.Values)", b)
	}
	ctx := ctxT(t)
	type box struct{ n int }
	v := &box{7}
	k := key("v")
	if err := vb.SetValue(ctx, k, v); err != nil {
		t.Fatalf("SetValue: %v", err)
	}
	got, ok, err := vb.GetValue(ctx, k)
	if err != nil || !ok || got != any(v) {
		t.Fatalf("GetValue = %v, %v, %v; want the very value stored", got, ok, err)
	}
}

func testMutex(t *testing.T, newMutex func(string) lock.Mutex) {
	ctx := ctxT(t)
	a, b := newMutex("m"), newMutex("m")
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock of a free mutex = %v, %v; want true", ok, err)
	}
	if ok, err := b.TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock of a held mutex = %v, %v; want false", ok, err)
	}
	// Another holder's Unlock must not release a's lock.
	if err := b.Unlock(ctx); err != nil {
		t.Fatalf("Unlock by a non-holder: %v", err)
	}
	if ok, _ := newMutex("m").TryLock(ctx); ok {
		t.Fatal("a non-holder's Unlock released the mutex")
	}
	// Lock waits while a holds it, and gives up with its context.
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	err := b.Lock(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held mutex with a 150ms context = %v; want context.DeadlineExceeded", err)
	}
	// Another key is independent.
	other := newMutex("other")
	if ok, err := other.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock of another key = %v, %v; want true", ok, err)
	}
	other.Unlock(ctx) //nolint:errcheck
	// Once a releases it, a waiting Lock gets it.
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx) }()
	if err := a.Unlock(ctx); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder's Unlock: %v", err)
	}
	if ok, _ := a.TryLock(ctx); ok {
		t.Fatal("TryLock succeeded while another holder has the mutex")
	}
	b.Unlock(ctx) //nolint:errcheck
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after release = %v, %v; want true", ok, err)
	}
	a.Unlock(ctx) //nolint:errcheck
}

func testMutexApart(t *testing.T, b dogpile.Backend, key func(string) string) {
	mb := mutexes(t, b)
	ctx := ctxT(t)
	k := key("k")
	m := mb.Mutex(k)
	if ok, err := m.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer m.Unlock(ctx) //nolint:errcheck
	if v, ok := mustGet(t, b, k); ok {
		t.Fatalf("holding the mutex of %q made a value appear under it: %q", k, v)
	}
	mustSet(t, b, k, []byte("value"))
	if err := b.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if ok, _ := mb.Mutex(k).TryLock(ctx); ok {
		t.Fatal("setting and deleting the value released its mutex")
	}
}

func region(t *testing.T, b dogpile.Backend, opts ...dogpile.ConfigOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion().ConfigureBackend(b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testRegionStampede(t *testing.T, b dogpile.Backend, key func(string) string) {
	ctx := ctxT(t)
	r := region(t, b)
	k := key("stampede")
	const n = 50
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan string, n)
	started := make(chan struct{}, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			v, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) {
				calls.Add(1)
				<-release
				return "created", nil
			})
			if err != nil {
				t.Error(err)
			}
			results <- v
		}()
	}
	for range n {
		<-started
	}
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != "created" {
			t.Fatalf("a caller got %q", v)
		}
	}
	if c := calls.Load(); c < 1 || c > 1 {
		t.Fatalf("creator ran %d times for %d concurrent callers; want 1", c, n)
	}
}

func testRegionStale(t *testing.T, b dogpile.Backend, key func(string) string) {
	ctx := ctxT(t)
	r := region(t, b)
	k := key("stale")
	if err := r.Set(ctx, k, "old"); err != nil {
		t.Fatal(err)
	}
	if err := r.Invalidate(ctx, dogpile.Soft); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan string)
	go func() {
		v, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) {
			close(entered)
			<-release
			return "new", nil
		})
		if err != nil {
			t.Error(err)
		}
		done <- v
	}()
	<-entered
	// While the regeneration runs, others get the stale value at once.
	v, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) {
		t.Error("a second creator ran during the regeneration")
		return "", nil
	})
	if err != nil || v != "old" {
		t.Fatalf("during regeneration GetOrCreate = %q, %v; want the stale %q", v, err, "old")
	}
	close(release)
	if v := <-done; v != "new" {
		t.Fatalf("the regenerating caller got %q, want %q", v, "new")
	}
	if v, ok, err := dogpile.Get[string](ctx, r, k); err != nil || !ok || v != "new" {
		t.Fatalf("Get after regeneration = %q, %v, %v", v, ok, err)
	}
}

func testRegionCorrupt(t *testing.T, b dogpile.Backend, key func(string) string) {
	if _, ok := b.(backend.Values); ok {
		t.Skip("the region stores Go values in this backend, not bytes")
	}
	ctx := ctxT(t)
	r := region(t, b)
	for name, junk := range map[string][]byte{"garbage": []byte("not a dogpile entry"), "truncated": []byte("dp\x01\x00\x00"), "binary": {0xff, 0x00, 0xfe}} {
		k := key(name)
		mustSet(t, b, k, junk)
		if v, ok, err := dogpile.Get[string](ctx, r, k); ok || err != nil {
			t.Fatalf("%s bytes: Get = %q, %v, %v; want a miss without error", name, v, ok, err)
		}
		v, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) { return "fresh", nil })
		if err != nil || v != "fresh" {
			t.Fatalf("%s bytes: GetOrCreate = %q, %v; want the creator's value", name, v, err)
		}
	}
}

func testRegionMulti(t *testing.T, b dogpile.Backend, key func(string) string) {
	ctx := ctxT(t)
	r := region(t, b)
	keys := []string{key("a"), key("b"), key("c")}
	if err := r.Set(ctx, keys[1], "stored-b"); err != nil {
		t.Fatal(err)
	}
	var asked []string
	got, err := dogpile.GetOrCreateMulti(ctx, r, keys, func(_ context.Context, ks []string) ([]string, error) {
		asked = ks
		out := make([]string, len(ks))
		for i, k := range ks {
			out[i] = "made-" + k
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"made-" + keys[0], "stored-b", "made-" + keys[2]}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("GetOrCreateMulti = %q, want %q", got, want)
		}
	}
	if len(asked) != 2 || asked[0] != keys[0] || asked[1] != keys[2] {
		t.Fatalf("creator asked for %q, want the two missing keys in order", asked)
	}
	hits, err := dogpile.GetMulti[string](ctx, r, keys)
	if err != nil || len(hits) != 3 {
		t.Fatalf("GetMulti after GetOrCreateMulti = %v, %v", hits, err)
	}
	if err := r.DeleteMulti(ctx, keys); err != nil {
		t.Fatal(err)
	}
	if hits, _ := dogpile.GetMulti[string](ctx, r, keys); len(hits) != 0 {
		t.Fatalf("GetMulti after DeleteMulti = %v", hits)
	}
}
