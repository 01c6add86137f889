// Package proxy helps write backend proxies: wrappers that see the calls a
// region makes to its backend, to log, measure or change them (ProxyBackend
// in Python's dogpile.cache). Install them with dogpile.WithWrap.
//
// Embed Base and override only the methods of interest; Base forwards every
// call, the optional multi-key and mutex calls included, so a proxy never
// hides what the backend beneath it can do:
//
//	type countGets struct {
//		proxy.Base
//		n atomic.Int64
//	}
//
//	func (c *countGets) Get(ctx context.Context, key string) ([]byte, bool, error) {
//		c.n.Add(1)
//		return c.Base.Get(ctx, key)
//	}
//
//	region.Configure("redis", dogpile.WithWrap(func(next dogpile.Backend) dogpile.Backend {
//		return &countGets{Base: proxy.Base{Next: next}}
//	}))
//
// Embedding does not route Base's own calls through the methods a proxy
// overrides: Base.GetMulti calls Next's GetMulti, not the proxy's Get. A
// region reads many keys, and on some configurations a single key with its
// shared invalidation or tag records (SharedInvalidation(0), tags), through
// GetMulti, so a proxy that must see every read overrides GetMulti too.
//
// A proxy sees bytes: behind a proxy, the memory backend holds encoded
// values, as memory_serialized does.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

// Base forwards every call to Next. It implements backend.Multi (with
// Next's multi-key calls, or one call per key when Next has none),
// backend.Locking (with Next's mutex, or none; a fenced mutex stays fenced)
// and backend.Swapper (with Next's compare-and-swap, or an error matching
// errors.ErrUnsupported). It does not say that values are immutable
// (backend.Immutable), as a proxy may rewrite them: a proxy that hands on
// Next's values as they are says so with a ValuesImmutable method that
// returns backend.ValuesImmutable(Next).
type Base struct {
	Next dogpile.Backend // the backend the proxy stands in front of
}

var (
	_ backend.Multi   = Base{}
	_ backend.Locking = Base{}
	_ backend.Swapper = Base{}
	_ io.Closer       = Base{}
)

// Get forwards to Next.
func (b Base) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return b.Next.Get(ctx, key)
}

// Set forwards to Next.
func (b Base) Set(ctx context.Context, key string, value []byte) error {
	return b.Next.Set(ctx, key, value)
}

// Delete forwards to Next.
func (b Base) Delete(ctx context.Context, key string) error { return b.Next.Delete(ctx, key) }

// GetMulti forwards to Next, or calls Get per key if Next has no multi-key
// calls.
func (b Base) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if m, ok := b.Next.(backend.Multi); ok {
		return m.GetMulti(ctx, keys)
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, ok, err := b.Next.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = v
		}
	}
	return out, nil
}

// SetMulti forwards to Next, or calls Set per item.
func (b Base) SetMulti(ctx context.Context, items map[string][]byte) error {
	if m, ok := b.Next.(backend.Multi); ok {
		return m.SetMulti(ctx, items)
	}
	for k, v := range items {
		if err := b.Next.Set(ctx, k, v); err != nil {
			return err
		}
	}
	return nil
}

// DeleteMulti forwards to Next, or calls Delete per key.
func (b Base) DeleteMulti(ctx context.Context, keys []string) error {
	if m, ok := b.Next.(backend.Multi); ok {
		return m.DeleteMulti(ctx, keys)
	}
	for _, k := range keys {
		if err := b.Next.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Mutex returns Next's mutex for key, or nil if Next has none.
func (b Base) Mutex(key string) lock.Mutex {
	if m, ok := b.Next.(backend.Locking); ok {
		return m.Mutex(key)
	}
	return nil
}

// CompareAndSwap forwards to Next. If Next can't compare and swap, it
// stores nothing and returns an error matching errors.ErrUnsupported: a
// region then updates its shared invalidation record without it (see
// dogpile.SharedInvalidation).
func (b Base) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if s, ok := b.Next.(backend.Swapper); ok {
		return s.CompareAndSwap(ctx, key, old, new)
	}
	return false, fmt.Errorf("dogpile/proxy: %T has no compare-and-swap: %w", b.Next, errors.ErrUnsupported)
}

// Close closes Next if it is an io.Closer.
func (b Base) Close() error {
	if c, ok := b.Next.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
