package dogpile

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/internal/atomicmax"
	"github.com/dogpile-go/dogpile/internal/clock"
)

// Invalidation is how thoroughly values were invalidated.
type Invalidation uint8

const (
	// NotInvalidated: the value is not affected by any invalidation.
	NotInvalidated Invalidation = iota
	// Soft invalidation makes older values expired: they are served stale
	// while one caller regenerates them.
	Soft
	// Hard invalidation makes older values misses.
	Hard
)

func (i Invalidation) String() string {
	switch i {
	case Soft:
		return "soft"
	case Hard:
		return "hard"
	}
	return "none"
}

// InvalidationStrategy decides which values a region's Invalidate has
// invalidated (Python dogpile.cache's RegionInvalidationStrategy). The
// default keeps the time of the last hard and soft invalidation in this
// process; SharedInvalidation keeps generations in the backend so that every
// process sees them. A custom strategy compares values' creation times with
// times of its own, as the default does.
//
// Invalidated is called on every read, so it must be cheap and must not
// allocate.
type InvalidationStrategy interface {
	// Invalidate invalidates every value created before now.
	Invalidate(ctx context.Context, how Invalidation) error
	// Invalidated reports whether, and how, a value created at created has
	// been invalidated.
	Invalidated(ctx context.Context, created time.Time) Invalidation
}

// localInvalidation is the default strategy: invalidation times in this
// process's memory. Times are safe here — one process, one clock, which
// never goes backwards (internal/clock) — unlike across processes, where
// SharedInvalidation counts generations instead.
type localInvalidation struct {
	hard, soft atomic.Int64 // Unix nanoseconds; 0 = never
	// latest is the later of hard and soft: the one load with which a
	// memory hit knows it was created after both.
	latest atomic.Int64
	clock  clock.Func
}

func (l *localInvalidation) Invalidate(_ context.Context, how Invalidation) error {
	var at *atomic.Int64
	switch how {
	case Hard:
		at = &l.hard
	case Soft:
		at = &l.soft
	default:
		return &ArgError{Name: "how", Value: how, Reason: "want dogpile.Hard or dogpile.Soft"}
	}
	now := l.clock.Now()
	at.Store(now)
	atomicmax.Raise(&l.latest, now) // raised, not stored: a test clock may run backwards
	return nil
}

func (l *localInvalidation) Invalidated(_ context.Context, created time.Time) Invalidation {
	return l.check(created.UnixNano())
}

func (l *localInvalidation) check(created int64) Invalidation {
	if h := l.hard.Load(); h != 0 && created <= h {
		return Hard
	}
	if s := l.soft.Load(); s != 0 && created <= s {
		return Soft
	}
	return NotInvalidated
}
