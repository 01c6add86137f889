package proxy_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/proxy"
)

// Logging shows every call a region makes to its backend, to see what a
// cache does. Here the first GetOrCreate misses, reads again once it holds
// the key's lock (another caller may have stored the value meanwhile),
// stores the value; the second is a hit.
func ExampleLogging() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		// Drop the time and the latency, which change from run to run.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "latency" {
				return slog.Attr{}
			}
			return a
		},
	}))
	region, err := dogpile.NewRegion().Configure("memory",
		dogpile.WithExpiration(time.Hour),
		dogpile.WithWrap(proxy.Logging(logger, slog.LevelInfo)))
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	for range 2 {
		_, _ = dogpile.GetOrCreate(ctx, region, "greeting", func(context.Context) (string, error) {
			return "hello", nil
		})
	}
	// Output:
	// level=INFO msg="dogpile backend call" key=greeting op=get outcome=miss
	// level=INFO msg="dogpile backend call" key=greeting op=get outcome=miss
	// level=INFO msg="dogpile backend call" key=greeting bytes=29 op=set outcome=ok
	// level=INFO msg="dogpile backend call" key=greeting op=get outcome=hit
}

// countReads counts the reads that reach the backend, a round trip each. It
// embeds proxy.Base, which forwards every call, and overrides the two
// reads: Base's GetMulti goes to the backend, not through Get, so a proxy
// that overrode Get alone would not see a multi-key read.
type countReads struct {
	proxy.Base
	n atomic.Int64
}

func (c *countReads) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.n.Add(1)
	return c.Base.Get(ctx, key)
}

func (c *countReads) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	c.n.Add(1)
	return c.Base.GetMulti(ctx, keys)
}

// A proxy of your own embeds Base and overrides the calls it cares about.
func ExampleBase() {
	counter := &countReads{}
	region, _ := dogpile.NewRegion().Configure("memory", dogpile.WithWrap(func(next dogpile.Backend) dogpile.Backend {
		counter.Next = next
		return counter
	}))

	ctx := context.Background()
	_ = region.Set(ctx, "greeting", "hello")
	for _, key := range []string{"greeting", "farewell", "greeting"} {
		_, _, _ = dogpile.Get[string](ctx, region, key)
	}
	_, _ = dogpile.GetMulti[string](ctx, region, []string{"greeting", "farewell"})
	fmt.Println("backend reads:", counter.n.Load())
	// Output: backend reads: 4
}
