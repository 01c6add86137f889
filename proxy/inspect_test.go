package proxy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/proxy"
)

// A proxy does not hide that the backend beneath can list its keys and
// report on its store; over one that cannot, it says so with
// errors.ErrUnsupported rather than pretend to an empty store.
func TestBaseForwardsInspection(t *testing.T) {
	ctx := context.Background()
	mem, err := dogpile.NewMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	var b dogpile.Backend = proxy.Base{Next: mem}
	var keys []string
	for k, err := range b.(backend.Lister).ListKeys(ctx, backend.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if len(keys) != 1 || keys[0] != "k" {
		t.Errorf("keys through the proxy: %v", keys)
	}
	if st, err := b.(backend.StatsReporter).StoreStats(ctx); err != nil || len(st) != 1 || st[0].Entries != 1 {
		t.Errorf("stats through the proxy: %+v, %v", st, err)
	}

	// The listing's options reach the backend.
	if err := mem.Set(ctx, "other", []byte("v")); err != nil {
		t.Fatal(err)
	}
	keys = nil
	for k, err := range b.(backend.Lister).ListKeys(ctx, backend.ListOptions{Prefix: "o"}) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if len(keys) != 1 || keys[0] != "other" {
		t.Errorf("keys with the prefix o through the proxy: %v", keys)
	}

	b = proxy.Base{Next: plain{newStore()}}
	n := 0
	for _, err := range b.(backend.Lister).ListKeys(ctx, backend.ListOptions{}) {
		n++
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("keys over a backend that cannot list: %v", err)
		}
	}
	if n != 1 {
		// A listing that yields nothing would pass for an empty store.
		t.Errorf("keys over a backend that cannot list: %d results; want one error", n)
	}
	if _, err := b.(backend.StatsReporter).StoreStats(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("stats over a backend that does not report: %v", err)
	}
}
