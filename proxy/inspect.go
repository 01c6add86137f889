package proxy

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/dogpile-go/dogpile/backend"
)

var (
	_ backend.Lister        = Base{}
	_ backend.StatsReporter = Base{}
)

// ListKeys forwards to Next, or yields an error matching
// errors.ErrUnsupported if Next cannot list its keys.
func (b Base) ListKeys(ctx context.Context, opts backend.ListOptions) iter.Seq2[string, error] {
	if l, ok := b.Next.(backend.Lister); ok {
		return l.ListKeys(ctx, opts)
	}
	return func(yield func(string, error) bool) {
		yield("", fmt.Errorf("proxy: %T cannot list its keys: %w", b.Next, errors.ErrUnsupported))
	}
}

// StoreStats forwards to Next, or returns an error matching
// errors.ErrUnsupported if Next does not report on its store.
func (b Base) StoreStats(ctx context.Context) ([]backend.Stats, error) {
	if r, ok := b.Next.(backend.StatsReporter); ok {
		return r.StoreStats(ctx)
	}
	return nil, fmt.Errorf("proxy: %T does not report on its store: %w", b.Next, errors.ErrUnsupported)
}
