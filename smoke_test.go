package dogpile_test

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	onEachRegion(t, time.Hour, func(t *testing.T, r *dogpile.Region) {
		calls := 0
		for range 3 {
			v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { calls++; return "v", nil })
			if err != nil || v != "v" {
				t.Fatal(v, err)
			}
		}
		if calls != 1 {
			t.Fatal(calls)
		}
		vs, err := dogpile.GetOrCreateMulti(ctx, r, []string{"a", "k", "b"}, func(_ context.Context, keys []string) ([]string, error) {
			out := make([]string, len(keys))
			for i, k := range keys {
				out[i] = k + "!"
			}
			return out, nil
		})
		if err != nil || vs[0] != "a!" || vs[1] != "v" || vs[2] != "b!" {
			t.Fatal(vs, err)
		}
	})
}
