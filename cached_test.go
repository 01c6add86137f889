package dogpile_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// The functions cached by these tests are top-level, so that their default
// keys are known: "dogpile_test.<name>|<arg>" — the package's name, not its
// path (github.com/dogpile-go/dogpile_test).
const cfPkg = "dogpile_test."

var cfSquareCalls, cfCubeCalls atomic.Int32

func cfSquare(_ context.Context, n int) (int, error) {
	cfSquareCalls.Add(1)
	return n * n, nil
}

func cfCube(_ context.Context, n int) (int, error) {
	cfCubeCalls.Add(1)
	return n * n * n, nil
}

// cfRegion is a memory region with a long expiration.
func cfRegion(t testing.TB, ropts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(ropts...).Configure("memory", dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cfCounter is a cached function's body that counts its calls and returns
// fmt(arg, call number), so a test can tell a stored value from a new one.
type cfCounter struct {
	calls atomic.Int32
}

func (c *cfCounter) fn(_ context.Context, n int) (string, error) {
	k := c.calls.Add(1)
	return strconv.Itoa(n) + "#" + strconv.Itoa(int(k)), nil
}

func cfCall[A, V any](t *testing.T, f *dogpile.CachedFunc[A, V], a A) V {
	t.Helper()
	v, err := f.Call(context.Background(), a)
	if err != nil {
		t.Fatalf("Call(%v): %v", a, err)
	}
	return v
}

// cfPanics runs f and returns the error it panicked with.
func cfPanics(t *testing.T, f func()) (err error) {
	t.Helper()
	defer func() {
		p := recover()
		if p == nil {
			t.Fatal("no panic")
		}
		e, ok := p.(error)
		if !ok {
			t.Fatalf("panicked with %T %v, want an error", p, p)
		}
		err = e
	}()
	f()
	return nil
}

func TestF1CachedPerArgument(t *testing.T) {
	r := cfRegion(t)
	cfSquareCalls.Store(0)
	sq := dogpile.Cached(r, cfSquare)
	for _, n := range []int{3, 3, 4, 3, 4} {
		if got := cfCall(t, sq, n); got != n*n {
			t.Fatalf("Call(%d) = %d", n, got)
		}
	}
	if n := cfSquareCalls.Load(); n != 2 {
		t.Fatalf("fn ran %d times for 2 distinct arguments, want 2", n)
	}
	if sq.Key(3) == sq.Key(4) {
		t.Fatalf("arguments 3 and 4 share the key %q", sq.Key(3))
	}
	if got, want := sq.Key(3), cfPkg+"cfSquare|3"; got != want {
		t.Fatalf("Key(3) = %q, want %q", got, want)
	}
	// The value is in the region under that key, for anyone to read.
	if v, ok, err := dogpile.Get[int](context.Background(), r, sq.Key(4)); err != nil || !ok || v != 16 {
		t.Fatalf("Get(%q) = %v, %v, %v", sq.Key(4), v, ok, err)
	}
}

func TestF1ConcurrentCallsRunFnOnce(t *testing.T) {
	r := cfRegion(t)
	release := make(chan struct{})
	var calls atomic.Int32
	f := dogpile.Cached(r, func(_ context.Context, n int) (int, error) {
		calls.Add(1)
		<-release
		return n, nil
	}, dogpile.FuncName("slow"))
	const n = 20
	errs := make(chan error, n)
	started := make(chan struct{}, n)
	for range n {
		go func() {
			started <- struct{}{}
			v, err := f.Call(context.Background(), 7)
			if err == nil && v != 7 {
				err = errors.New("wrong value " + strconv.Itoa(v))
			}
			errs <- err
		}()
	}
	for range n {
		<-started
	}
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("fn ran %d times, want once", c)
	}
}

func TestF2FunctionsDoNotShareKeys(t *testing.T) {
	r := cfRegion(t)
	cfSquareCalls.Store(0)
	cfCubeCalls.Store(0)
	sq, cube := dogpile.Cached(r, cfSquare), dogpile.Cached(r, cfCube)
	if sq.Key(3) == cube.Key(3) {
		t.Fatalf("two functions share the key %q", sq.Key(3))
	}
	for range 2 {
		if got := cfCall(t, sq, 3); got != 9 {
			t.Fatalf("square(3) = %d", got)
		}
		if got := cfCall(t, cube, 3); got != 27 {
			t.Fatalf("cube(3) = %d", got)
		}
	}
	if cfSquareCalls.Load() != 1 || cfCubeCalls.Load() != 1 {
		t.Fatalf("square ran %d times, cube %d; want once each", cfSquareCalls.Load(), cfCubeCalls.Load())
	}
}

func TestF2NamespaceSeparates(t *testing.T) {
	r := cfRegion(t)
	var c cfCounter
	a := dogpile.Cached(r, c.fn, dogpile.FuncName("count"), dogpile.Namespace("a"))
	b := dogpile.Cached(r, c.fn, dogpile.FuncName("count"), dogpile.Namespace("b"))
	if got, want := a.Key(1), "count|a|1"; got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	if cfCall(t, a, 1) != "1#1" || cfCall(t, b, 1) != "1#2" || cfCall(t, a, 1) != "1#1" || cfCall(t, b, 1) != "1#2" {
		t.Fatal("the two namespaces share values")
	}
	// Without a namespace the key has no namespace part.
	if got, want := dogpile.Cached(r, c.fn, dogpile.FuncName("count")).Key(1), "count|1"; got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
}

func TestF2MethodValuesAndLiteralsAreNamed(t *testing.T) {
	r := cfRegion(t)
	var c cfCounter
	if got, want := dogpile.Cached(r, c.fn).Name(), cfPkg+"(*cfCounter).fn-fm"; got != want {
		t.Fatalf("method value named %q, want %q", got, want)
	}
	lit := dogpile.Cached(r, func(context.Context, int) (int, error) { return 0, nil })
	if name := lit.Name(); !strings.HasPrefix(name, cfPkg+"TestF2MethodValuesAndLiteralsAreNamed.func") {
		t.Fatalf("function literal named %q", name)
	}
	if got, want := dogpile.Cached(r, cfGeneric[int]).Name(), cfPkg+"cfGeneric[int,int]"; got != want {
		t.Fatalf("generic function named %q, want %q", got, want)
	}
	if dogpile.Cached(r, cfGeneric[int]).Key(1) == dogpile.Cached(r, cfGeneric[string]).Key("1") {
		t.Fatal("two instantiations of a generic function share keys")
	}
}

func cfGeneric[T any](_ context.Context, v T) (T, error) { return v, nil }

func TestF3GetSetRefreshInvalidate(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	var c cfCounter
	f := dogpile.Cached(r, c.fn, dogpile.FuncName("count"))

	if _, ok, err := f.Get(ctx, 1); ok || err != nil {
		t.Fatalf("Get before any call: ok=%v err=%v", ok, err)
	}
	if v := cfCall(t, f, 1); v != "1#1" {
		t.Fatalf("Call = %q", v)
	}
	if v, ok, err := f.Get(ctx, 1); !ok || err != nil || v != "1#1" {
		t.Fatalf("Get after Call = %q, %v, %v", v, ok, err)
	}

	// Set stores a value as if fn had returned it.
	if err := f.Set(ctx, 1, "set"); err != nil {
		t.Fatal(err)
	}
	if v := cfCall(t, f, 1); v != "set" {
		t.Fatalf("Call after Set = %q", v)
	}

	// Refresh runs fn although the value is fresh, and stores its result.
	if v, err := f.Refresh(ctx, 1); err != nil || v != "1#2" {
		t.Fatalf("Refresh = %q, %v", v, err)
	}
	if v := cfCall(t, f, 1); v != "1#2" {
		t.Fatalf("Call after Refresh = %q", v)
	}

	// Invalidate removes it: Get misses, Call runs fn.
	if err := f.Invalidate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.Get(ctx, 1); ok {
		t.Fatal("Get found the value after Invalidate")
	}
	if v := cfCall(t, f, 1); v != "1#3" {
		t.Fatalf("Call after Invalidate = %q", v)
	}
	if c.calls.Load() != 3 {
		t.Fatalf("fn ran %d times, want 3", c.calls.Load())
	}
}

func TestF3KeyAndOriginal(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t, dogpile.WithKeyMangler(dogpile.SHA1Mangler))
	var c cfCounter
	f := dogpile.Cached(r, c.fn, dogpile.FuncName("count"))
	// Key is the key before mangling.
	if got := f.Key(5); got != "count|5" {
		t.Fatalf("Key(5) = %q", got)
	}
	cfCall(t, f, 5)
	if v, ok, err := dogpile.Get[string](ctx, r, "count|5"); !ok || err != nil || v != "5#1" {
		t.Fatalf("region Get(Key(5)) = %q, %v, %v", v, ok, err)
	}
	// Original is fn itself: it runs every time and stores nothing.
	orig := f.Original()
	if reflect.ValueOf(orig).Pointer() != reflect.ValueOf(c.fn).Pointer() {
		t.Fatal("Original is not fn")
	}
	if v, _ := orig(ctx, 6); v != "6#2" {
		t.Fatalf("Original()(6) = %q", v)
	}
	if _, ok, _ := f.Get(ctx, 6); ok {
		t.Fatal("calling Original stored a value")
	}
}

func TestF3ErrorsAreReturnedAndNotStored(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	boom := errors.New("boom")
	var calls atomic.Int32
	f := dogpile.Cached(r, func(_ context.Context, n int) (int, error) {
		if calls.Add(1) == 1 {
			return 0, boom
		}
		return n, nil
	}, dogpile.FuncName("flaky"))
	if _, err := f.Call(ctx, 1); !errors.Is(err, boom) {
		t.Fatalf("Call error = %v, want boom", err)
	}
	if v := cfCall(t, f, 1); v != 1 || calls.Load() != 2 {
		t.Fatalf("Call after an error = %d after %d calls", v, calls.Load())
	}
	// An unconfigured region is an error, not a panic.
	u := dogpile.Cached(dogpile.NewRegion(), cfSquare)
	if _, err := u.Call(ctx, 1); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Fatalf("Call on an unconfigured region: %v", err)
	}
}

func TestF4ExpirationTimeDuration(t *testing.T) {
	r := cfRegion(t) // expires after an hour
	var c cfCounter
	short := dogpile.Cached(r, c.fn, dogpile.FuncName("short"), dogpile.ExpirationTime(time.Nanosecond))
	cfCall(t, short, 1)
	if v := cfCall(t, short, 1); v != "1#2" {
		t.Fatalf("a value older than the function's expiration was served: %q", v)
	}
	// The region's own calls keep the region's expiration: nothing was stored
	// about the function's.
	if _, ok, _ := dogpile.Get[string](context.Background(), r, short.Key(1)); !ok {
		t.Fatal("the function's expiration leaked into the region")
	}

	r2, err := dogpile.NewRegion().Configure("memory", dogpile.WithExpiration(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	long2 := dogpile.Cached(r2, c.fn, dogpile.FuncName("long"), dogpile.ExpirationTime(dogpile.NoExpiration))
	a, b := cfCall(t, long2, 1), cfCall(t, long2, 1)
	if a != b {
		t.Fatalf("NoExpiration on a 1ns region: %q then %q", a, b)
	}
}

func TestF4ExpirationFuncAskedAtEveryCall(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	var c cfCounter
	var exp atomic.Int64
	exp.Store(int64(time.Hour))
	var asked atomic.Int32
	f := dogpile.Cached(r, c.fn, dogpile.FuncName("dyn"), dogpile.ExpirationFunc(func() time.Duration {
		asked.Add(1)
		return time.Duration(exp.Load())
	}))
	cfCall(t, f, 1)
	if v := cfCall(t, f, 1); v != "1#1" {
		t.Fatalf("fresh value not served: %q", v)
	}
	if asked.Load() < 2 {
		t.Fatalf("expiration function asked %d times in 2 calls", asked.Load())
	}
	exp.Store(int64(time.Nanosecond))
	if _, ok, _ := f.Get(ctx, 1); ok {
		t.Fatal("Get served a value older than the function's expiration")
	}
	if v := cfCall(t, f, 1); v != "1#2" {
		t.Fatalf("expired value not regenerated: %q", v)
	}
	exp.Store(int64(dogpile.NoExpiration))
	if v, ok, _ := f.Get(ctx, 1); !ok || v != "1#2" {
		t.Fatalf("Get with NoExpiration = %q, %v", v, ok)
	}
	// ExpirationFunc is a call option like ExpirationTime: it works on
	// GetOrCreate too.
	v, err := dogpile.GetOrCreate(ctx, r, f.Key(1), func(context.Context) (string, error) { return "new", nil },
		dogpile.ExpirationFunc(func() time.Duration { return time.Nanosecond }))
	if err != nil || v != "new" {
		t.Fatalf("GetOrCreate with ExpirationFunc = %q, %v", v, err)
	}
}

func TestF4ShouldCache(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	var calls atomic.Int32
	f := dogpile.Cached(r, func(_ context.Context, n int) (int, error) {
		calls.Add(1)
		return n - 1, nil
	}, dogpile.FuncName("pred"), dogpile.ShouldCache(func(v int) bool { return v >= 0 }))
	for range 2 {
		if v := cfCall(t, f, 0); v != -1 {
			t.Fatalf("Call(0) = %d", v)
		}
		cfCall(t, f, 5)
	}
	if calls.Load() != 3 {
		t.Fatalf("fn ran %d times; want 2 for the uncached 0 and 1 for 5", calls.Load())
	}
	// Refresh honours it too.
	if _, err := f.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.Get(ctx, 0); ok {
		t.Fatal("Refresh stored a value ShouldCache rejected")
	}
}

func TestF4WrongShouldCacheTypePanics(t *testing.T) {
	err := cfPanics(t, func() {
		dogpile.Cached(cfRegion(t), cfSquare, dogpile.ShouldCache(func(string) bool { return true }))
	})
	if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "ShouldCache") {
		t.Fatalf("panic: %v", err)
	}
}

type cfUser struct {
	ID   int
	Name string
}

func cfGreet(_ context.Context, u cfUser) (string, error) { return "hello " + u.Name, nil }

func TestF5KeyFunc(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	f := dogpile.Cached(r, cfGreet, dogpile.KeyFunc(func(u cfUser) string { return "user" + strconv.Itoa(u.ID) }))
	if got, want := f.Key(cfUser{ID: 7, Name: "ann"}), cfPkg+"cfGreet|user7"; got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	cfCall(t, f, cfUser{ID: 7, Name: "ann"})
	// Only the ID is in the key: another name is the same entry.
	if v := cfCall(t, f, cfUser{ID: 7, Name: "bob"}); v != "hello ann" {
		t.Fatalf("Call = %q", v)
	}
	if v, ok, _ := dogpile.Get[string](ctx, r, cfPkg+"cfGreet|user7"); !ok || v != "hello ann" {
		t.Fatalf("stored under another key: %q %v", v, ok)
	}
	err := cfPanics(t, func() { dogpile.Cached(r, cfGreet, dogpile.KeyFunc(func(int) string { return "" })) })
	if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "KeyFunc") {
		t.Fatalf("KeyFunc of the wrong type: %v", err)
	}
}

func TestF5RegionKeyGenerator(t *testing.T) {
	ctx := context.Background()
	var gotName, gotNS string
	gen := func(name, namespace string) func(string) string {
		gotName, gotNS = name, namespace
		short := name[strings.LastIndexByte(name, '.')+1:]
		return func(arg string) string { return "v2:" + short + ":" + namespace + ":" + arg }
	}
	r := cfRegion(t, dogpile.WithFunctionKeyGenerator(gen))
	f := dogpile.Cached(r, cfSquare, dogpile.Namespace("ns"))
	if gotName != cfPkg+"cfSquare" || gotNS != "ns" {
		t.Fatalf("generator called with %q, %q", gotName, gotNS)
	}
	for _, tc := range []struct{ got, want string }{
		{f.Key(3), "v2:cfSquare:ns:3"},
		// The generator gets the KeyFunc's rendering, and the default one
		// of composite arguments.
		{dogpile.Cached(r, cfGreet, dogpile.KeyFunc(func(u cfUser) string { return "u" + strconv.Itoa(u.ID) })).Key(cfUser{ID: 2}), "v2:cfGreet::u2"},
		{dogpile.Cached(r, cfGreet).Key(cfUser{ID: 2, Name: "x"}), `v2:cfGreet::2 "x"`},
		{dogpile.Cached(r, cfGeneric[string]).Key("s"), "v2:cfGeneric[string,string]::s"},
	} {
		if tc.got != tc.want {
			t.Errorf("key %q, want %q", tc.got, tc.want)
		}
	}
	cfCall(t, f, 3)
	if v, ok, _ := dogpile.Get[int](ctx, r, "v2:cfSquare:ns:3"); !ok || v != 9 {
		t.Fatalf("value not under the generated key: %v %v", v, ok)
	}
	// Another region keeps the default generator.
	if got := dogpile.Cached(cfRegion(t), cfSquare).Key(3); got != cfPkg+"cfSquare|3" {
		t.Fatalf("default key %q", got)
	}
	// FunctionKeyGenerator is the default, for generators to wrap.
	if got := dogpile.FunctionKeyGenerator("f", "ns")("a"); got != "f|ns|a" {
		t.Fatalf("FunctionKeyGenerator = %q", got)
	}
	if got := dogpile.FunctionKeyGenerator("f", "")("a"); got != "f|a" {
		t.Fatalf("FunctionKeyGenerator without namespace = %q", got)
	}
}

func TestF5FuncName(t *testing.T) {
	r := cfRegion(t)
	f := dogpile.Cached(r, func(_ context.Context, s string) (string, error) { return s, nil }, dogpile.FuncName("echo"))
	if got := f.Key("hi"); got != "echo|hi" || f.Name() != "echo" {
		t.Fatalf("Key = %q, Name = %q", got, f.Name())
	}
}

func TestCachedNilArgumentsPanic(t *testing.T) {
	if err := cfPanics(t, func() { dogpile.Cached[int, int](nil, cfSquare) }); !strings.Contains(err.Error(), "region") {
		t.Fatalf("nil region: %v", err)
	}
	if err := cfPanics(t, func() { dogpile.Cached[int, int](cfRegion(t), nil) }); !strings.Contains(err.Error(), "function") {
		t.Fatalf("nil function: %v", err)
	}
}

// A cached function takes a KeyFunc and a TagsFunc together, in either
// order: neither option may reset the other's function.
func TestCachedKeyFuncAndTagsFuncInEitherOrder(t *testing.T) {
	ctx := context.Background()
	keyOf := dogpile.KeyFunc(func(u cfUser) string { return "u" + strconv.Itoa(u.ID) })
	tagsOf := dogpile.TagsFunc(func(u cfUser) []string { return []string{"user:" + strconv.Itoa(u.ID)} })
	for _, tc := range []struct {
		name string
		opts []dogpile.CachedOption
	}{
		{"KeyFunc first", []dogpile.CachedOption{keyOf, tagsOf}},
		{"TagsFunc first", []dogpile.CachedOption{tagsOf, keyOf}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cfRegion(t)
			f := dogpile.Cached(r, cfGreet, append([]dogpile.CachedOption{dogpile.FuncName("greet")}, tc.opts...)...)
			ann := cfUser{ID: 7, Name: "ann"}
			if got := f.Key(ann); got != "greet|u7" {
				t.Fatalf("Key = %q, want the KeyFunc's greet|u7", got)
			}
			cfCall(t, f, ann)
			if err := r.InvalidateTags(ctx, dogpile.Hard, "user:7"); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := f.Get(ctx, ann); ok || err != nil {
				t.Fatalf("Get after the TagsFunc's tag was invalidated: hit %v, %v; want a miss", ok, err)
			}
		})
	}
}

// Refresh tags the value it stores as Call does: with the TagsFunc's tags
// of its argument.
func TestCachedRefreshTagsByArgument(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	var c cfCounter
	f := dogpile.Cached(r, c.fn, dogpile.FuncName("count"),
		dogpile.TagsFunc(func(n int) []string { return []string{"n:" + strconv.Itoa(n)} }))
	for _, n := range []int{1, 2} {
		if _, err := f.Refresh(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.InvalidateTags(ctx, dogpile.Hard, "n:1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.Get(ctx, 1); ok {
		t.Fatal("a refreshed value survived the invalidation of its argument's tag")
	}
	if v, ok, _ := f.Get(ctx, 2); !ok || v != "2#2" {
		t.Fatalf("Get(2) = %q, %v; want the refreshed 2#2", v, ok)
	}
}

// A "not found" from fn in Refresh is stored, as in Call: the next Call is
// told not found without running fn, and Refresh's error names the key.
func TestCachedRefreshStoresNotFound(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	var calls atomic.Int32
	f := dogpile.Cached(r, func(_ context.Context, n int) (int, error) {
		calls.Add(1)
		return 0, dogpile.ErrNotFound
	}, dogpile.FuncName("missing"))
	_, err := f.Refresh(ctx, 4)
	var nf *dogpile.NotFoundError
	if !errors.As(err, &nf) || len(nf.Keys) != 1 || nf.Keys[0] != "missing|4" {
		t.Fatalf("Refresh = %v; want a *NotFoundError for missing|4", err)
	}
	if _, err := f.Call(ctx, 4); !errors.Is(err, dogpile.ErrNotFound) {
		t.Fatalf("Call after Refresh = %v; want not found", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fn ran %d times; want once, by Refresh", n)
	}
}

// On an in-process invalidation strategy a hit doesn't call the TagsFunc:
// the value carries its tags. Only creating or storing a value does.
func TestCachedTagsFuncNotCalledOnInProcessHits(t *testing.T) {
	ctx := context.Background()
	var asked atomic.Int32
	tagsOf := dogpile.TagsFunc(func(n int) []string { asked.Add(1); return []string{"n:" + strconv.Itoa(n)} })
	var c cfCounter
	f := dogpile.Cached(cfRegion(t), c.fn, dogpile.FuncName("one"), tagsOf)
	cfCall(t, f, 1)
	cfCall(t, f, 1)
	if _, ok, err := f.Get(ctx, 1); !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("Cached: TagsFunc called %d times for one creation and two hits; want 1", n)
	}
	asked.Store(0)
	_, _, _, m := cfUsers(t, dogpile.TagsFunc(func(n int) []string { asked.Add(1); return []string{"n:" + strconv.Itoa(n)} }))
	if _, err := m.Call(ctx, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if hits, err := m.Get(ctx, []int{1, 2}); err != nil || len(hits) != 2 {
		t.Fatalf("CachedMulti Get = %v, %v", hits, err)
	}
	if n := asked.Load(); n != 2 {
		t.Fatalf("CachedMulti: TagsFunc called %d times for two creations and two hits; want 2", n)
	}
}

// Under SharedInvalidation a read names its TagsFunc tags, so that their
// records come with the value: Get and Call are one backend round trip.
func TestCachedSharedInvalidationReadsTagsInOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := &cfMultiStore{m: map[string][]byte{}}
	r, err := dogpile.NewRegion().ConfigureBackend(store, dogpile.WithExpiration(time.Hour),
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	if err != nil {
		t.Fatal(err)
	}
	var c cfCounter
	f := dogpile.Cached(r, c.fn, dogpile.FuncName("one"),
		dogpile.TagsFunc(func(n int) []string { return []string{"n:" + strconv.Itoa(n)} }))
	cfCall(t, f, 1)
	store.take()
	if v, ok, err := f.Get(ctx, 1); !ok || err != nil || v != "1#1" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	if calls := store.take(); len(calls) != 1 {
		t.Fatalf("Get made backend calls %q; want one", calls)
	}
	if v := cfCall(t, f, 1); v != "1#1" {
		t.Fatalf("Call = %q", v)
	}
	if calls := store.take(); len(calls) != 1 {
		t.Fatalf("Call made backend calls %q; want one", calls)
	}
}

// A function's Tags options and its TagsFunc's tags add up per call, and
// each call's value carries its own argument's tags, never another's — even
// when calls for two arguments create their values at the same time, and
// the function's tags (merged from several Tags options) have room to grow:
// a call appends its argument's tags to a copy, never into the function's
// own list. Two calls that shared that list would race there, which the
// race detector reports (go test -race).
func TestCachedConcurrentCallsKeepTheirOwnTags(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	var creating sync.WaitGroup // both creators are running: both calls have their tags
	creating.Add(2)
	f := dogpile.Cached(r, func(_ context.Context, n int) (string, error) {
		creating.Done()
		creating.Wait()
		return "v" + strconv.Itoa(n), nil
	}, dogpile.FuncName("tagged"), dogpile.Tags("a", "b"), dogpile.Tags("c"),
		dogpile.TagsFunc(func(n int) []string { return []string{"n:" + strconv.Itoa(n)} }))
	done := make(chan error, 2)
	for _, n := range []int{1, 2} {
		go func() { _, err := f.Call(ctx, n); done <- err }()
	}
	for range 2 {
		if err := recv(t, done, "a call"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{1, 2} {
		if _, ok, err := f.Get(ctx, n); !ok || err != nil {
			t.Fatalf("Get(%d) before any invalidation: %v, %v", n, ok, err)
		}
		if err := r.InvalidateTags(ctx, dogpile.Hard, "n:"+strconv.Itoa(n)); err != nil {
			t.Fatal(err)
		}
		if v, ok, _ := f.Get(ctx, n); ok {
			t.Fatalf("Get(%d) = %q after the invalidation of its tag n:%d; want a miss", n, v, n)
		}
	}
	if _, ok, _ := f.Get(ctx, 3); ok {
		t.Fatal("Get(3) hits a value never made")
	}
}
