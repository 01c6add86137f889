package dogpiletest

import (
	"context"
	"testing"

	"github.com/dogpile-go/dogpile"
)

// testRegionsApart checks two regions on the backend that share user keys
// and differ by name and key prefix, as two applications sharing a store
// do: what one does — writes and deletes, one key and several, a hard
// invalidation and a tag's shared through the backend, a creation holding a
// key's lock — leaves the other's values and locks alone.
func testRegionsApart(t *testing.T, b dogpile.Backend, key func(string) string) {
	ctx := ctxT(t)
	mk := func(name string) *dogpile.Region {
		r, err := dogpile.NewRegion(dogpile.WithName(key(name)), dogpile.WithKeyPrefix(key(name)+":")).ConfigureBackend(b,
			dogpile.WithInvalidationStrategy(dogpile.SharedInvalidation(0)))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, other := mk("a"), mk("b")
	keys := []string{"k1", "k2", "k3", "k4"}
	for _, r := range []*dogpile.Region{a, other} {
		for _, k := range keys {
			if _, err := dogpile.GetOrCreate(ctx, r, k, func(context.Context) (string, error) { return r.Name(), nil }, dogpile.Tags("t")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for what, err := range map[string]error{
		"Set":         a.Set(ctx, "k1", "a's new"),
		"SetMulti":    a.SetMulti(ctx, map[string]any{"k2": "a's new"}),
		"Delete":      a.Delete(ctx, "k3"),
		"DeleteMulti": a.DeleteMulti(ctx, []string{"k4"}),
	} {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	if err := a.Invalidate(ctx, dogpile.Hard); err != nil {
		t.Fatal(err)
	}
	if err := a.InvalidateTags(ctx, dogpile.Hard, "t"); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, err := dogpile.GetOrCreate(ctx, other, k, func(context.Context) (string, error) { return "made again", nil }, dogpile.Tags("t"))
		if err != nil || v != other.Name() {
			t.Fatalf("after another region's writes, deletes and invalidations, %s = %q, %v; want its own value, untouched", k, v, err)
		}
	}

	// A creation in a that holds a key's lock does not hold up other's.
	creating, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := dogpile.GetOrCreate(ctx, a, "locked", func(context.Context) (string, error) {
			close(creating)
			<-finish
			return "a's", nil
		})
		done <- err
	}()
	<-creating
	if v, err := dogpile.GetOrCreate(ctx, other, "locked", func(context.Context) (string, error) { return "other's", nil }); err != nil || v != "other's" {
		t.Errorf("while another region creates the same key: %q, %v; want this region's own creation, at once", v, err)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
