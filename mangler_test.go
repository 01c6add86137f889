package dogpile_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
)

// manglingBackend is a byte backend that recommends a key mangler, as a
// store with limited keys does (backend.KeyMangler).
type manglingBackend struct{ dogpile.Backend }

func (manglingBackend) KeyMangler() func(string) string {
	return func(k string) string { return "m(" + k + ")" }
}

var _ backend.KeyMangler = manglingBackend{}

func newManglingBackend(t *testing.T) manglingBackend {
	b, err := dogpile.NewSerializedMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return manglingBackend{b}
}

// A region uses the key mangler its backend recommends — on values and on
// the library's own keys (the shared invalidation record) — unless it has
// one of its own; WithKeyMangler(nil) turns it off. StorageKey says where a
// key is stored.
func TestBackendKeyMangler(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		opts   []dogpile.RegionOption
		stored func(string) string
	}{
		{"backend's", nil, func(k string) string { return "m(" + k + ")" }},
		{"backend's, after the prefix", []dogpile.RegionOption{dogpile.WithKeyPrefix("app:")}, func(k string) string { return "app:m(" + k + ")" }},
		{"region's own", []dogpile.RegionOption{dogpile.WithKeyMangler(strings.ToUpper)}, strings.ToUpper},
		{"off", []dogpile.RegionOption{dogpile.WithKeyMangler(nil)}, func(k string) string { return k }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newManglingBackend(t)
			r, err := dogpile.NewRegion(append(c.opts, dogpile.WithName("r"))...).ConfigureBackend(b,
				dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Set(ctx, "user:1", "v"); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := b.Get(ctx, c.stored("user:1")); err != nil || !ok {
				t.Errorf("the value is not under %q: %v, %v", c.stored("user:1"), ok, err)
			}
			if got, err := r.StorageKey("user:1"); err != nil || got != c.stored("user:1") {
				t.Errorf("StorageKey = %q, %v; want %q", got, err, c.stored("user:1"))
			}
			if v, ok, err := dogpile.Get[string](ctx, r, "user:1"); err != nil || !ok || v != "v" {
				t.Errorf("Get = %q, %v, %v", v, ok, err)
			}
			if err := r.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := b.Get(ctx, c.stored(dogpile.ReservedKeyPrefix+"invalidated:r")); err != nil || !ok {
				t.Errorf("the invalidation record is not under %q: %v, %v", c.stored(dogpile.ReservedKeyPrefix+"invalidated:r"), ok, err)
			}
		})
	}
}

// StorageKey refuses what the region refuses, and needs a configured region.
func TestStorageKeyErrors(t *testing.T) {
	if _, err := dogpile.NewRegion().StorageKey("k"); !errors.Is(err, dogpile.ErrNotConfigured) {
		t.Errorf("StorageKey on an unconfigured region: %v", err)
	}
	r, err := dogpile.NewRegion().Configure("memory")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.StorageKey(dogpile.ReservedKeyPrefix + "lock"); !errors.Is(err, dogpile.ErrInvalidArgument) {
		t.Errorf("StorageKey of a reserved key: %v", err)
	}
	if got, err := r.StorageKey("k"); err != nil || got != "k" {
		t.Errorf("StorageKey = %q, %v", got, err)
	}
}
