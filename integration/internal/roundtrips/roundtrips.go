// Package roundtrips counts the round trips a region makes to its store:
// with a go-redis hook on a Redis client, and with a proxy in front of any
// backend (for stores without a client to hook, such as the file backend).
package roundtrips

import (
	"context"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/proxy"
)

// Hook counts a go-redis client's round trips: each command and each
// pipeline is one.
type Hook = testutil.RoundTrips[goredis.Cmder, goredis.DialHook, goredis.ProcessHook, goredis.ProcessPipelineHook]

// Reads is a proxy that counts the reads reaching the backend behind it:
// each Get and each GetMulti is one round trip.
type Reads struct {
	proxy.Base
	n atomic.Int64
}

// Get counts a read.
func (r *Reads) Get(ctx context.Context, key string) ([]byte, bool, error) {
	r.n.Add(1)
	return r.Base.Get(ctx, key)
}

// GetMulti counts a read.
func (r *Reads) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	r.n.Add(1)
	return r.Base.GetMulti(ctx, keys)
}

// Count returns the reads so far.
func (r *Reads) Count() int64 { return r.n.Load() }

// Proxy returns the proxy for WithWrap that puts r in front of the backend.
func (r *Reads) Proxy() dogpile.Proxy {
	return func(next dogpile.Backend) dogpile.Backend {
		r.Base = proxy.Base{Next: next}
		return r
	}
}
