package resilience_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/backends/file"
	_ "github.com/dogpile-go/dogpile/backends/memcached"
	_ "github.com/dogpile-go/dogpile/backends/redis"
	"github.com/dogpile-go/dogpile/internal/testserver"
)

// store is a backend under test: its registered name and the arguments of
// a region on it.
type store struct {
	name string
	args func(t *testing.T) dogpile.Args
}

var stores = []store{
	{"memory", func(*testing.T) dogpile.Args { return nil }},
	{"file", func(t *testing.T) dogpile.Args {
		return dogpile.Args{"filename": filepath.Join(t.TempDir(), "cache.db")}
	}},
	{"redis", func(t *testing.T) dogpile.Args {
		return dogpile.Args{"url": "redis://" + testserver.StartRedis(t).Addr()}
	}},
	{"memcached", func(t *testing.T) dogpile.Args {
		return dogpile.Args{"url": testserver.Memcached(t, testserver.MemcachedOptions{}).Addr()}
	}},
}

func configure(t *testing.T, name string, args dogpile.Args, ropts ...dogpile.RegionOption) *dogpile.Region {
	t.Helper()
	r, err := dogpile.NewRegion(ropts...).Configure(name, dogpile.WithArguments(args), dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Issue 17, negative caching: 1,000 calls for a missing key within its
// expiration run the creator once, on every backend; on a byte store the
// entry is flagged "not found" and holds no payload.
func TestNegativeCaching1000CallsRunTheCreatorOnce(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			r := configure(t, s.name, s.args(t), dogpile.WithNegativeExpiration(time.Minute), dogpile.WithMetrics())
			var calls atomic.Int32
			load := func(context.Context) (string, error) { calls.Add(1); return "", dogpile.ErrNotFound }
			for range 1000 {
				if _, err := dogpile.GetOrCreate(ctx, r, "user:404", load); !errors.Is(err, dogpile.ErrNotFound) {
					t.Fatalf("GetOrCreate = %v; want not found", err)
				}
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("1000 calls ran the creator %d times; want 1", n)
			}
			if st := r.Stats(); st.NegativeHits != 999 {
				t.Fatalf("NegativeHits = %d; want 999", st.NegativeHits)
			}
			if s.name != "memory" {
				b, ok, err := r.Backend().Get(ctx, "user:404")
				if err != nil || !ok {
					t.Fatalf("the store's entry: %v, %v", ok, err)
				}
				md, err := dogpile.InspectEntry(b)
				if err != nil || !md.NotFound || md.Expiration != time.Minute {
					t.Fatalf("InspectEntry = %+v, %v; want a NotFound entry expiring after a minute", md, err)
				}
			}

			// Per key in a multi-key call: the second call runs no creator.
			var multi atomic.Int32
			loadMulti := func(_ context.Context, keys []string) ([]string, error) {
				multi.Add(1)
				return []string{"found", ""}, dogpile.NotFoundAt(1)
			}
			for range 100 {
				vals, err := dogpile.GetOrCreateMulti(ctx, r, []string{"m:1", "m:2"}, loadMulti)
				var nf *dogpile.NotFoundError
				if !errors.As(err, &nf) || !slices.Equal(nf.Keys, []string{"m:2"}) || vals[0] != "found" {
					t.Fatalf("GetOrCreateMulti = %q, %v; want m:1's value and m:2 not found", vals, err)
				}
			}
			if n := multi.Load(); n != 1 {
				t.Fatalf("100 multi-key calls ran the creator %d times; want 1", n)
			}
		})
	}
}
