package dogpile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// A tag invalidation that fails on the backend is a backend error like any
// other: returned as ErrBackend and counted once in the region's
// BackendErrors, which alerting on a broken store relies on.
func TestTagsFailedInvalidationIsCountedAsABackendError(t *testing.T) {
	ctx := context.Background()
	store := &tagReadsFailing{Backend: sharedStore(t)}
	r := regionFor(t, store, []dogpile.RegionOption{dogpile.WithName("shared"), dogpile.WithMetrics()},
		dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
	store.fail.Store(true)
	before := r.Stats().BackendErrors
	err := r.InvalidateTags(ctx, dogpile.Hard, "t")
	if !errors.Is(err, dogpile.ErrBackend) || !errors.Is(err, errRefused) {
		t.Fatalf("InvalidateTags with its record unreadable = %v; want the backend's error", err)
	}
	if n := r.Stats().BackendErrors - before; n != 1 {
		t.Fatalf("BackendErrors grew by %d after one failed InvalidateTags; want 1", n)
	}
}
