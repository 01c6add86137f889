package dogpile_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// The hit as users write it (the hot-path issue): a key built per call
// stays on the caller's stack, so a hit allocates nothing but what the
// caller's own code does — a capturing closure — and nothing at all with
// GetOrCreateArg or a cached function of a string or scalar.
func TestHitAllocsKeyBuiltPerCall(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	id := 123456
	idText := strconv.Itoa(id) // the key is built per call from it: "user:" + idText
	byKey := func(ctx context.Context, key string) (string, error) { return "v", nil }
	byID := func(_ context.Context, id int) (string, error) { return "user-" + strconv.Itoa(id), nil }
	loadInt := dogpile.Cached(r, cfBenchLoad)
	echo := dogpile.Cached(r, func(_ context.Context, s string) (string, error) { return s, nil }, dogpile.FuncName("echo"))
	suffix := "-123456"
	for _, tc := range []struct {
		name string
		want float64
		hit  func() (string, error)
	}{
		{"GetOrCreate, capturing closure", 1, func() (string, error) {
			return dogpile.GetOrCreate(ctx, r, "user:"+idText, func(ctx context.Context) (string, error) { return byID(ctx, id) })
		}},
		{"GetOrCreate, no closure", 0, func() (string, error) {
			return dogpile.GetOrCreate(ctx, r, "user:"+idText, create)
		}},
		{"GetOrCreateArg", 0, func() (string, error) {
			return dogpile.GetOrCreateArg(ctx, r, "user:"+idText, id, byID)
		}},
		// A call's options are read where the caller made them.
		{"GetOrCreate, no closure, one option", 0, func() (string, error) {
			return dogpile.GetOrCreate(ctx, r, "user:"+idText, create, dogpile.NoStale())
		}},
		{"GetOrCreateArg, two options", 0, func() (string, error) {
			return dogpile.GetOrCreateArg(ctx, r, "user:"+idText, id, byID, dogpile.NoStale(), dogpile.ExpirationTime(time.Hour))
		}},
		// An argument that points at memory built per call is moved to the
		// heap: the creator may keep it.
		{"GetOrCreateArg, key argument", 1, func() (string, error) {
			k := "user:" + idText
			return dogpile.GetOrCreateArg(ctx, r, k, k, byKey)
		}},
		{"Cached.Call int", 0, func() (string, error) { return loadInt.Call(ctx, id) }},
		{"Cached.Call string", 0, func() (string, error) { return echo.Call(ctx, "user-123456") }},
		{"Cached.Call string built per call", 1, func() (string, error) { return echo.Call(ctx, "user"+suffix) }},
	} {
		if _, err := tc.hit(); err != nil { // the miss: the value is made
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := testing.AllocsPerRun(100, func() {
			if _, err := tc.hit(); err != nil {
				t.Fatal(err)
			}
		}); got != tc.want {
			t.Errorf("%s hit: %v allocations, want %v", tc.name, got, tc.want)
		}
	}
}

// A key built on the caller's stack is copied where it is kept: the value
// made on a miss is found again under the same key once the caller's buffer
// holds another one.
func TestHitKeyCopiedOnMiss(t *testing.T) {
	ctx := context.Background()
	r := cfRegion(t)
	f := dogpile.Cached(r, func(_ context.Context, id int) (int, error) { return id, nil }, dogpile.FuncName("id"))
	for id := range 100 {
		if v, err := f.Call(ctx, id); err != nil || v != id {
			t.Fatalf("Call(%d) = %d, %v", id, v, err)
		}
	}
	for id := range 100 {
		v, ok, err := dogpile.Get[int](ctx, r, "id|"+strconv.Itoa(id))
		if err != nil || !ok || v != id {
			t.Fatalf("the value of %d under its key: %d, %v, %v", id, v, ok, err)
		}
	}
	for id := range 100 {
		if v, err := dogpile.GetOrCreateArg(ctx, r, "arg:"+strconv.Itoa(id), id, func(_ context.Context, id int) (int, error) { return id, nil }); err != nil || v != id {
			t.Fatalf("GetOrCreateArg(%d) = %d, %v", id, v, err)
		}
	}
	for id := range 100 {
		if v, ok, _ := dogpile.Get[int](ctx, r, "arg:"+strconv.Itoa(id)); !ok || v != id {
			t.Fatalf("arg:%d holds %d, %v", id, v, ok)
		}
	}
}
