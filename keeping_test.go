package dogpile_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
)

// keepingStore is a byte store that keeps what a region decoded beside the
// bytes it decoded (backend.Keeping), as the tiered backend's memory tier
// does.
type keepingStore struct {
	*storeBackend
	kept map[string]keptBytes // under storeBackend.mu
}

type keptBytes struct {
	b []byte
	x any
}

func newKeepingStore() keepingStore { return keepingStore{newStore(), map[string]keptBytes{}} }

func (k keepingStore) KeepsDecoded() bool { return true }

func (k keepingStore) GetKept(ctx context.Context, key string) ([]byte, any, bool, error) {
	b, ok, err := k.Get(ctx, key)
	if err != nil || !ok {
		return b, nil, ok, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, found := k.kept[key]; found && bytes.Equal(e.b, b) {
		return b, e.x, true, nil
	}
	return b, nil, true, nil
}

func (k keepingStore) Keep(key string, value []byte, kept any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if bytes.Equal(k.data[key], value) {
		k.kept[key] = keptBytes{value, kept}
	}
}

// keeps reports whether something is kept with key's entry.
func (k keepingStore) keeps(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.kept[key]
	return ok
}

// On a backend that keeps decoded values, a kept value is served only to
// the region that decoded it, as the type it decoded it as: read as another
// type it is a miss, and another region over the same store (here, of
// another codec) reads the bytes as it would without it.
func TestKeptValueServedOnlyToItsRegionAndType(t *testing.T) {
	store := newKeepingStore()
	r := regionFor(t, store, nil)
	mustSet(t, r, "k", "v")
	if v, ok := mustGet[string](t, r, "k"); !ok || v != "v" {
		t.Fatalf("Get = %q, %v; want v", v, ok)
	}
	if !store.keeps("k") {
		t.Fatal("the decoded value was not handed to the backend to keep")
	}
	if v, ok := mustGet[string](t, r, "k"); !ok || v != "v" {
		t.Fatalf("Get of the kept value = %q, %v; want v", v, ok)
	}
	if v, ok := mustGet[int](t, r, "k"); ok {
		t.Fatalf("a string kept for the region was read as the int %d", v)
	}
	other := regionFor(t, store, []dogpile.RegionOption{dogpile.WithCodec(codec.JSON)})
	if v, ok := mustGet[string](t, other, "k"); ok {
		t.Fatalf("a region of another codec was served the value kept for the first: %q", v)
	}
}
