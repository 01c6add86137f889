package dogpile_test

import (
	"context"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
)

// BenchmarkTaggedHit measures what tags add to a hit: the same GetOrCreate
// hit on an untagged value and on a value carrying two tags, in one run.
// The tagged calls pass their Tags option made once, as a call site that
// tags with constants would.
func BenchmarkTaggedHit(b *testing.B) {
	ctx := context.Background()
	tags := dogpile.Tags("user:42", "org:7")
	for _, backend := range []string{"memory", "memory_serialized"} {
		for _, tc := range []struct {
			name string
			opts []dogpile.Option
		}{
			{"plain", nil},
			{"plain+option", []dogpile.Option{dogpile.NoStale()}},
			{"tagged", []dogpile.Option{tags}},
		} {
			b.Run("backend="+backend+"/value="+tc.name, func(b *testing.B) {
				r, err := dogpile.NewRegion().Configure(backend, dogpile.WithExpiration(time.Hour))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := dogpile.GetOrCreate(ctx, r, "key", create, tc.opts...); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := dogpile.GetOrCreate(ctx, r, "key", create, tc.opts...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
