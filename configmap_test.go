package dogpile_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
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
