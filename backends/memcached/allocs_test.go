package memcached

import (
	"context"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// A region's hit on Memcached allocates once more than gomemcache's own Get
// of the same key: the copy of the key that the slow path keeps (the default
// key mangler's copy is that one). The decoded string points into the item
// gomemcache read (the backend's values are immutable), decoded on the
// caller's stack rather than through the codec's interface. A
// GetOrCreateMulti of present keys allocates what gomemcache's GetMulti does
// and a few for the call: nothing a key (the mangler is given the keys
// themselves).
func TestHitAllocationsOverTheClient(t *testing.T) {
	s := newBenchSetup(t)
	ctx := context.Background()
	key := s.keys[0]
	hit := testutil.SteadyAllocs(50, func() {
		if _, err := dogpile.GetOrCreate(ctx, s.r, key, missCreate); err != nil {
			t.Fatal(err)
		}
	})
	raw := testutil.SteadyAllocs(50, func() {
		if _, err := s.raw.Get(key); err != nil {
			t.Fatal(err)
		}
	})
	if hit > raw+1 {
		t.Errorf("a region hit allocates %v times, gomemcache's Get %v: want at most 1 more", hit, raw)
	}
	multi := testutil.SteadyAllocs(20, func() {
		if _, err := dogpile.GetOrCreateMulti(ctx, s.r, s.keys, missCreateMulti); err != nil {
			t.Fatal(err)
		}
	})
	rawMulti := testutil.SteadyAllocs(20, func() {
		if _, err := s.raw.GetMulti(s.keys); err != nil {
			t.Fatal(err)
		}
	})
	if limit := rawMulti + 8; multi > limit {
		t.Errorf("GetOrCreateMulti of %d present keys allocates %v times, gomemcache's GetMulti %v: want at most %v", len(s.keys), multi, rawMulti, limit)
	}
}
