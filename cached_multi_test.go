package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// cfMultiStore is a byte store with multi-key calls, recording each call, so
// tests can count round trips.
type cfMultiStore struct {
	mu    sync.Mutex
	m     map[string][]byte
	calls callLog[string] // "get k", "get_multi k1 k2", "set_multi 2", …
}

func (s *cfMultiStore) log(format string, args ...any) {
	s.calls.add(fmt.Sprintf(format, args...))
}

func (s *cfMultiStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("get %s", key)
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *cfMultiStore) Set(_ context.Context, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("set %s", key)
	s.m[key] = v
	return nil
}

func (s *cfMultiStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("delete %s", key)
	delete(s.m, key)
	return nil
}

func (s *cfMultiStore) GetMulti(_ context.Context, keys []string) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("get_multi %v", keys)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = s.m[k]
	}
	return out, nil
}

func (s *cfMultiStore) SetMulti(_ context.Context, items map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("set_multi %v", slices.Sorted(maps.Keys(items)))
	maps.Copy(s.m, items)
	return nil
}

func (s *cfMultiStore) DeleteMulti(_ context.Context, keys []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log("delete_multi %v", keys)
	for _, k := range keys {
		delete(s.m, k)
	}
	return nil
}

// take returns the calls logged since the last take.
func (s *cfMultiStore) take() []string { return s.calls.take() }

func cfMultiRegion(t *testing.T) (*dogpile.Region, *cfMultiStore) {
	t.Helper()
	s := &cfMultiStore{m: map[string][]byte{}}
	r, err := dogpile.NewRegion().ConfigureBackend(s, dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

// cfBatch is a batch loader recording the arguments of each call.
type cfBatch struct {
	calls callLog[[]int]
}

func (b *cfBatch) load(_ context.Context, ids []int) ([]string, error) {
	b.calls.add(slices.Clone(ids))
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "v" + strconv.Itoa(id)
	}
	return out, nil
}

func (b *cfBatch) take() [][]int { return b.calls.take() }

// cfUsers is the CachedMulti, named "users", of a new cfBatch's loader on
// a new cfMultiRegion.
func cfUsers(t *testing.T, opts ...dogpile.CachedOption) (*dogpile.Region, *cfMultiStore, *cfBatch, *dogpile.CachedMultiFunc[int, string]) {
	t.Helper()
	r, store := cfMultiRegion(t)
	b := &cfBatch{}
	return r, store, b, dogpile.CachedMulti(r, b.load, append([]dogpile.CachedOption{dogpile.FuncName("users")}, opts...)...)
}

func TestF6CachedMultiOneRoundTripMissingInOrder(t *testing.T) {
	ctx := context.Background()
	_, store, b, f := cfUsers(t)
	if err := f.Set(ctx, map[int]string{2: "cached2", 4: "cached4"}); err != nil {
		t.Fatal(err)
	}
	store.take()

	args := []int{5, 4, 3, 2, 1}
	got, err := f.Call(ctx, args)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"v5", "cached4", "v3", "cached2", "v1"}; !slices.Equal(got, want) {
		t.Fatalf("Call = %q, want %q (argument order)", got, want)
	}
	if calls := b.take(); !reflect.DeepEqual(calls, [][]int{{5, 3, 1}}) {
		t.Fatalf("fn called with %v, want once with the missing [5 3 1] in order", calls)
	}
	calls := store.take()
	if len(calls) == 0 || calls[0] != "get_multi [users|5 users|4 users|3 users|2 users|1]" {
		t.Fatalf("first backend call %q, want one get_multi of every key", calls)
	}
	for _, c := range calls {
		if c[:4] == "get " || c[:4] == "set " {
			t.Fatalf("a single-key call %q in %q", c, calls)
		}
	}

	// All cached now: exactly one round trip, no call of fn.
	got, err = f.Call(ctx, args)
	if err != nil || !slices.Equal(got, []string{"v5", "cached4", "v3", "cached2", "v1"}) {
		t.Fatalf("second Call = %q, %v", got, err)
	}
	if calls := store.take(); len(calls) != 1 {
		t.Fatalf("a Call of cached arguments made %d backend calls: %q", len(calls), calls)
	}
	if calls := b.take(); len(calls) != 0 {
		t.Fatalf("fn called with %v for cached arguments", calls)
	}
}

func TestF6CachedMultiAsMap(t *testing.T) {
	ctx := context.Background()
	_, _, b, f := cfUsers(t)
	m, err := f.CallMap(ctx, []int{3, 1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int]string{1: "v1", 3: "v3"}; !maps.Equal(m, want) {
		t.Fatalf("CallMap = %v, want %v", m, want)
	}
	// An argument given twice is created once.
	if calls := b.take(); !reflect.DeepEqual(calls, [][]int{{3, 1}}) {
		t.Fatalf("fn called with %v, want [[3 1]]", calls)
	}
}

func TestF6CachedMultiMethods(t *testing.T) {
	ctx := context.Background()
	r, store, b, f := cfUsers(t)
	if got := f.Key(7); got != "users|7" {
		t.Fatalf("Key = %q", got)
	}
	if got, want := dogpile.CachedMulti(r, b.load).Key(7), cfPkg+"(*cfBatch).load-fm|7"; got != want {
		t.Fatalf("default Key = %q, want %q", got, want)
	}
	if _, err := f.Call(ctx, []int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	b.take()
	store.take()

	// Get: hits only, by argument, one round trip, fn not called.
	hits, err := f.Get(ctx, []int{1, 2, 9})
	if err != nil || !maps.Equal(hits, map[int]string{1: "v1", 2: "v2"}) {
		t.Fatalf("Get = %v, %v", hits, err)
	}
	if calls := store.take(); len(calls) != 1 {
		t.Fatalf("Get made %d backend calls: %q", len(calls), calls)
	}

	// Set: one round trip; Call returns the set values.
	if err := f.Set(ctx, map[int]string{1: "one", 9: "nine"}); err != nil {
		t.Fatal(err)
	}
	if calls := store.take(); !slices.Equal(calls, []string{"set_multi [users|1 users|9]"}) {
		t.Fatalf("Set made backend calls %q", calls)
	}
	if got, _ := f.Call(ctx, []int{9, 1}); !slices.Equal(got, []string{"nine", "one"}) {
		t.Fatalf("Call after Set = %q", got)
	}

	// Invalidate: one round trip; the next Call recreates those.
	store.take()
	if err := f.Invalidate(ctx, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if calls := store.take(); !slices.Equal(calls, []string{"delete_multi [users|1 users|2]"}) {
		t.Fatalf("Invalidate made backend calls %q", calls)
	}
	if got, _ := f.Call(ctx, []int{1, 2, 3, 9}); !slices.Equal(got, []string{"v1", "v2", "v3", "nine"}) {
		t.Fatalf("Call after Invalidate = %q", got)
	}
	if calls := b.take(); !reflect.DeepEqual(calls, [][]int{{1, 2}}) {
		t.Fatalf("fn called with %v after Invalidate, want [[1 2]]", calls)
	}

	// Refresh: fn with every argument, whatever is cached; stored.
	if err := f.Set(ctx, map[int]string{3: "old"}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Refresh(ctx, []int{3, 9}); err != nil || !slices.Equal(got, []string{"v3", "v9"}) {
		t.Fatalf("Refresh = %q, %v", got, err)
	}
	if hits, _ := f.Get(ctx, []int{3, 9}); !maps.Equal(hits, map[int]string{3: "v3", 9: "v9"}) {
		t.Fatalf("after Refresh, Get = %v", hits)
	}

	// Original is the loader itself.
	if reflect.ValueOf(f.Original()).Pointer() != reflect.ValueOf(b.load).Pointer() {
		t.Fatal("Original is not fn")
	}
}

func TestF6CachedMultiShouldCacheAndErrors(t *testing.T) {
	ctx := context.Background()
	r, _, b, f := cfUsers(t, dogpile.ShouldCache(func(v string) bool { return v != "v0" })) // v0: "not found", don't cache
	for range 2 {
		if got, err := f.Call(ctx, []int{0, 1}); err != nil || !slices.Equal(got, []string{"v0", "v1"}) {
			t.Fatalf("Call = %q, %v", got, err)
		}
	}
	if calls := b.take(); !reflect.DeepEqual(calls, [][]int{{0, 1}, {0}}) {
		t.Fatalf("fn called with %v; want 0 asked again, 1 cached", calls)
	}

	boom := errors.New("boom")
	bad := dogpile.CachedMulti(r, func(context.Context, []int) ([]string, error) { return nil, boom }, dogpile.FuncName("bad"))
	if _, err := bad.Call(ctx, []int{1}); !errors.Is(err, boom) {
		t.Fatalf("Call error %v, want boom", err)
	}
	short := dogpile.CachedMulti(r, func(context.Context, []int) ([]string, error) { return []string{"x"}, nil }, dogpile.FuncName("short"))
	if _, err := short.Call(ctx, []int{1, 2}); err == nil {
		t.Fatal("fn returning too few values: no error")
	}
	if _, err := short.Refresh(ctx, []int{1, 2}); err == nil {
		t.Fatal("Refresh with fn returning too few values: no error")
	}
	if got, err := f.Call(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("Call with no arguments = %q, %v", got, err)
	}
}

// An argument that can't be rendered (its MarshalText fails) is every
// method's error, before fn or the backend is asked; Key panics with it.
func TestCachedMultiUnrenderableArgumentIsAnError(t *testing.T) {
	ctx := context.Background()
	r, store := cfMultiRegion(t)
	var calls callLog[[]cfLevel]
	f := dogpile.CachedMulti(r, func(_ context.Context, ls []cfLevel) ([]int, error) {
		calls.add(slices.Clone(ls))
		out := make([]int, len(ls))
		for i, l := range ls {
			out[i] = int(l)
		}
		return out, nil
	}, dogpile.FuncName("levels"))
	args := []cfLevel{1, -1}
	check := func(method string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "negative level") {
			t.Errorf("%s with an unrenderable argument: %v; want the MarshalText error", method, err)
		}
	}
	_, err := f.Call(ctx, args)
	check("Call", err)
	_, err = f.CallMap(ctx, args)
	check("CallMap", err)
	_, err = f.Get(ctx, args)
	check("Get", err)
	_, err = f.Refresh(ctx, args)
	check("Refresh", err)
	check("Invalidate", f.Invalidate(ctx, args))
	check("Set", f.Set(ctx, map[cfLevel]int{-1: 0}))
	if got := calls.take(); len(got) != 0 {
		t.Errorf("fn was called with %v", got)
	}
	if got := store.take(); len(got) != 0 {
		t.Errorf("the backend was called: %q", got)
	}
	if err := cfPanics(t, func() { f.Key(-1) }); !strings.Contains(err.Error(), "negative level") {
		t.Errorf("Key panicked with %v", err)
	}
}

// Refresh with no arguments neither calls fn nor touches the backend, and
// returns an empty, non-nil slice.
func TestCachedMultiRefreshOfNothing(t *testing.T) {
	_, store, b, f := cfUsers(t)
	got, err := f.Refresh(context.Background(), nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Refresh(nil) = %#v, %v; want an empty slice", got, err)
	}
	if calls := b.take(); len(calls) != 0 {
		t.Fatalf("fn called with %v", calls)
	}
	if calls := store.take(); len(calls) != 0 {
		t.Fatalf("backend called: %q", calls)
	}
}

// Refresh stores only the values ShouldCache keeps, as Call does.
func TestCachedMultiRefreshHonoursShouldCache(t *testing.T) {
	ctx := context.Background()
	_, _, _, f := cfUsers(t, dogpile.ShouldCache(func(v string) bool { return v != "v0" }))
	if got, err := f.Refresh(ctx, []int{0, 1}); err != nil || !slices.Equal(got, []string{"v0", "v1"}) {
		t.Fatalf("Refresh = %q, %v", got, err)
	}
	if hits, err := f.Get(ctx, []int{0, 1}); err != nil || !maps.Equal(hits, map[int]string{1: "v1"}) {
		t.Fatalf("Get after Refresh = %v, %v; want only 1, ShouldCache rejected v0", hits, err)
	}
}

// Name is FuncName's, or the function's own name.
func TestCachedMultiName(t *testing.T) {
	r, _, b, f := cfUsers(t)
	if got := f.Name(); got != "users" {
		t.Fatalf("Name = %q, want users", got)
	}
	if got, want := dogpile.CachedMulti(r, b.load).Name(), cfPkg+"(*cfBatch).load-fm"; got != want {
		t.Fatalf("default Name = %q, want %q", got, want)
	}
}
