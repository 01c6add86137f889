package dogpile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/codec"
)

// The region's own settings (codec, metrics, key mangler, key prefix,
// signing) apply when a region is first configured; replacing the backend
// of a live region cannot change them under its callers.
func TestB7ConfigureFromMapRegionSettings(t *testing.T) {
	ctx := context.Background()
	r, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{
		"backend": "memory_serialized", "codec": "json", "metrics": "yes", "key_mangler": "sha1",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Set(ctx, "k", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	b, ok, err := r.Backend().Get(ctx, dogpile.SHA1Mangler("k"))
	if err != nil || !ok {
		t.Fatalf("no entry under the SHA-1 of the key: %v", err)
	}
	if md, err := dogpile.InspectEntry(b); err != nil || md.Codec != "json" {
		t.Errorf("entry %+v, %v; want the json codec", md, err)
	}
	if _, _, err := dogpile.Get[map[string]int](ctx, r, "k"); err != nil || r.Stats().Hits != 1 {
		t.Errorf("metrics: %+v, %v", r.Stats(), err)
	}

	// Replacing the backend: the same region options may not come along.
	_, err = r.ConfigureFromMap(map[string]any{"backend": "memory", "codec": "default", "replace_existing_backend": true}, "")
	if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "replacing its backend cannot change them") {
		t.Errorf("replacing with a codec: %v", err)
	}
	if _, err := r.ConfigureFromMap(map[string]any{"backend": "memory", "replace_existing_backend": true}, ""); err != nil {
		t.Errorf("replacing the backend alone: %v", err)
	}
	// Without replace_existing_backend, a configured region says so, whatever else the map holds.
	if _, err := r.ConfigureFromMap(map[string]any{"backend": "memory", "codec": "json"}, ""); !errors.Is(err, dogpile.ErrAlreadyConfigured) {
		t.Errorf("configuring twice: %v", err)
	}
}

// cmShared registers a backend that is always b, so that several regions
// configured from maps share one store, as processes share a server.
func cmShared(t *testing.T, b dogpile.Backend) string {
	t.Helper()
	name := uniqueName("cm")
	if err := dogpile.RegisterBackend(name, func(dogpile.Args) (dogpile.Backend, error) { return b, nil }); err != nil {
		t.Fatal(err)
	}
	return name
}

func cmSerialized(t *testing.T) dogpile.Backend {
	t.Helper()
	b, err := dogpile.NewSerializedMemoryBackend(dogpile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cmConfigure(t *testing.T, r *dogpile.Region, cfg map[string]any, extra ...dogpile.ConfigOption) *dogpile.Region {
	t.Helper()
	got, err := r.ConfigureFromMap(cfg, "", extra...)
	if err != nil {
		t.Fatalf("ConfigureFromMap(%v): %v", cfg, err)
	}
	return got
}

// key_prefix and key_mangler decide where a value is stored: "none" turns
// off even the mangler the backend recommends.
func TestConfigureFromMapKeyPrefixAndMangler(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		backend dogpile.Backend
		cfg     map[string]any
		stored  string
	}{
		{"key_prefix", cmSerialized(t), map[string]any{"key_prefix": "app:"}, "app:k"},
		{"backend's mangler", newManglingBackend(t), map[string]any{}, "m(k)"},
		{"key_mangler none", newManglingBackend(t), map[string]any{"key_mangler": "none"}, "k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg["backend"] = cmShared(t, tc.backend)
			r := cmConfigure(t, dogpile.NewRegion(), tc.cfg)
			if err := r.Set(ctx, "k", "v"); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := tc.backend.Get(ctx, tc.stored); !ok || err != nil {
				t.Fatalf("nothing stored under %q (%v)", tc.stored, err)
			}
		})
	}
}

// signing_keys sign with the first key and verify with every one.
func TestConfigureFromMapSigningKeys(t *testing.T) {
	ctx := context.Background()
	store := cmSerialized(t)
	name := cmShared(t, store)
	first, second := strings.Repeat("1", 32), strings.Repeat("2", 32)
	w := cmConfigure(t, dogpile.NewRegion(), map[string]any{"backend": name, "signing_keys": []any{first, second}})
	if err := w.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	byFirst := cmConfigure(t, dogpile.NewRegion(dogpile.WithSigning([]byte(first))), map[string]any{"backend": name})
	if v, ok, err := dogpile.Get[string](ctx, byFirst, "k"); !ok || err != nil || v != "v" {
		t.Fatalf("a region with the first key read %q, %v, %v; want v", v, ok, err)
	}
	bySecond := cmConfigure(t, dogpile.NewRegion(dogpile.WithSigning([]byte(second)), dogpile.WithMetrics()), map[string]any{"backend": name})
	if _, ok, _ := dogpile.Get[string](ctx, bySecond, "k"); ok || bySecond.Stats().Rejected != 1 {
		t.Fatalf("a region with only the second key read the entry (hit %v, %+v); the first key signs", ok, bySecond.Stats())
	}
	// A second key verifies: an entry the second key signs is read by a
	// region that has it second.
	if err := bySecond.Set(ctx, "k2", "v2"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := dogpile.Get[string](ctx, w, "k2"); !ok || err != nil || v != "v2" {
		t.Fatalf("the configured region read %q, %v, %v of an entry its second key signed", v, ok, err)
	}
}

// shared_invalidation makes an invalidation in one region seen by the
// others on its store; with a refresh interval, only once that has passed.
func TestConfigureFromMapSharedInvalidation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		setting any
		seen    bool
	}{
		{true, true},
		{"1h", false},
	} {
		t.Run(fmt.Sprint(tc.setting), func(t *testing.T) {
			name := cmShared(t, cmSerialized(t))
			cfg := map[string]any{"backend": name, "shared_invalidation": tc.setting}
			a, b := cmConfigure(t, dogpile.NewRegion(), cfg), cmConfigure(t, dogpile.NewRegion(), cfg)
			if err := a.Set(ctx, "k", "v"); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := dogpile.Get[string](ctx, b, "k"); !ok || err != nil {
				t.Fatalf("before the invalidation: hit %v, %v", ok, err)
			}
			if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := dogpile.Get[string](ctx, b, "k"); ok == tc.seen {
				t.Fatalf("after another region's invalidation: hit %v; want %v", ok, !tc.seen)
			}
		})
	}
}

// A map cannot configure a region that is configured already: its region
// options are not applied to the live region either.
func TestConfigureFromMapLeavesAConfiguredRegionAlone(t *testing.T) {
	ctx := context.Background()
	store := cmSerialized(t)
	name := cmShared(t, store)
	r := cmConfigure(t, dogpile.NewRegion(), map[string]any{"backend": name})
	if _, err := r.ConfigureFromMap(map[string]any{"backend": name, "codec": "json", "key_prefix": "p:"}, ""); !errors.Is(err, dogpile.ErrAlreadyConfigured) {
		t.Fatalf("configuring twice: %v", err)
	}
	if err := r.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	b, ok, err := store.Get(ctx, "k")
	if !ok || err != nil {
		t.Fatalf("nothing under k (%v): the second map's key_prefix applied", err)
	}
	if md, err := dogpile.InspectEntry(b); err != nil || md.Codec != "default" {
		t.Fatalf("entry %+v, %v; want the first configuration's default codec", md, err)
	}
}

// compress wraps the region's own codec (WithCodec), not the default.
func TestConfigureFromMapCompressesTheRegionsCodec(t *testing.T) {
	var inner []string
	name := uniqueName("cm-compress")
	if err := codec.RegisterCompression(name, func(c codec.Codec, _ int) (codec.Codec, error) {
		inner = append(inner, c.Name())
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	cmConfigure(t, dogpile.NewRegion(dogpile.WithCodec(codec.JSON)), map[string]any{"backend": "memory_serialized", "compress": name})
	cmConfigure(t, dogpile.NewRegion(), map[string]any{"backend": "memory_serialized", "compress": name})
	if !slices.Equal(inner, []string{"json", "default"}) {
		t.Fatalf("compressed codecs %q; want the region's json, then the default", inner)
	}
}

// The extra options apply after the map's settings, and win.
func TestConfigureFromMapExtraOptionsWin(t *testing.T) {
	r := cmConfigure(t, dogpile.NewRegion(), map[string]any{"backend": "memory", "expiration_time": 60}, dogpile.WithExpiration(time.Hour))
	if got := r.Expiration(); got != time.Hour {
		t.Fatalf("expiration %v; want the extra option's 1h", got)
	}
}

// Keys under the prefix with a further dot that are not a setting's belong
// to other regions (a longer prefix); a misspelt "arguments" is an error.
func TestConfigureFromMapOtherRegionsKeysAndMisspeltArguments(t *testing.T) {
	cfg := map[string]any{"cache.backend": "memory", "cache.local.backend": "redis", "cache.local.arguments.url": "x"}
	if _, err := dogpile.NewRegion().ConfigureFromMap(cfg, "cache."); err != nil {
		t.Fatalf("another region's keys under a longer prefix: %v", err)
	}
	_, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{"backend": "memory", "argumnets.max_entries": 5}, "")
	if !errors.Is(err, dogpile.ErrInvalidArgument) || !strings.Contains(err.Error(), "argumnets") {
		t.Fatalf("a misspelt arguments key: %v; want an error naming it", err)
	}
}

// A prefix without its trailing dot ("cache.users" for the settings under
// "cache.users.") is named as the mistake, not reported as a missing
// backend.
func TestConfigureFromMapPrefixWithoutItsDot(t *testing.T) {
	cfg := map[string]any{"cache.users.backend": "memory", "cache.users.expiration_time": "10m"}
	_, err := dogpile.NewRegion().ConfigureFromMap(cfg, "cache.users")
	var ae *dogpile.ArgError
	if !errors.As(err, &ae) || ae.Name != "prefix" || !strings.Contains(err.Error(), `"cache.users."`) {
		t.Fatalf("a prefix without its dot: %v; want an error naming the prefix and the one with its dot", err)
	}
	if _, err := dogpile.NewRegion().ConfigureFromMap(cfg, "cache.users."); err != nil {
		t.Fatal(err)
	}
	// Without keys under the dotted prefix, a missing backend is just that.
	if _, err := dogpile.NewRegion().ConfigureFromMap(map[string]any{"cache.other.backend": "memory"}, "cache.users"); err == nil || !strings.Contains(err.Error(), "backend") || strings.Contains(err.Error(), "end the prefix") {
		t.Fatalf("no settings under the prefix at all: %v; want the missing backend", err)
	}
}
