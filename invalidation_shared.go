package dogpile

import (
	"context"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/internal/clock"
)

// SharedInvalidation returns an invalidation strategy that keeps the
// region's invalidation times in its backend, so that Invalidate in one
// process applies in every process sharing the backend. Give each region a
// name (WithName): the times are stored under "dogpile:invalidated:<name>"
// (through the region's key mangler), as 16 bytes.
//
// refresh is how a process learns of other processes' invalidations:
//
//   - 0: the times are read with every value — in the same round trip on
//     backends with multi-key reads (Redis, Memcached), as one more read on
//     others. An invalidation is seen by the very next call everywhere.
//   - > 0: the times are read at most once per refresh interval (by one
//     caller; the others use the copy they have). Reads cost nothing extra,
//     but another process's invalidation takes up to refresh to be seen.
//
// BENCHMARKS.md measures both on Redis.
func SharedInvalidation(refresh time.Duration) InvalidationStrategy {
	return &sharedInvalidation{refresh: refresh}
}

type sharedInvalidation struct {
	localInvalidation // the last times read or written
	refresh           time.Duration
	key               string
	backend           Backend
	nextRead          atomic.Int64 // refresh > 0: when to read again
	reading           atomic.Bool
}

// attach gives the strategy its region's backend and key; a strategy value
// serves one region.
func (s *sharedInvalidation) attach(r *Region, b Backend) error {
	if s.backend != nil && s.backend != b {
		return &ArgError{Name: "invalidation strategy", Reason: "a SharedInvalidation serves one region; make one per region"}
	}
	name := strings.Map(func(c rune) rune {
		if c <= ' ' || c == 0x7f {
			return '_'
		}
		return c
	}, r.name)
	s.key, s.backend = r.mangle("dogpile:invalidated:"+name), b
	return nil
}

// exact reports whether the times are read with every value.
func (s *sharedInvalidation) exact() bool { return s.refresh <= 0 }

func (s *sharedInvalidation) Invalidate(ctx context.Context, how Invalidation) error {
	if how != Hard && how != Soft {
		return &ArgError{Name: "how", Value: how, Reason: "want dogpile.Hard or dogpile.Soft"}
	}
	if err := s.read(ctx); err != nil {
		return err
	}
	if err := s.localInvalidation.Invalidate(ctx, how); err != nil {
		return err
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(s.hard.Load()))
	b = binary.BigEndian.AppendUint64(b, uint64(s.soft.Load()))
	if err := s.backend.Set(ctx, s.key, b); err != nil {
		return &BackendError{Backend: "invalidation", Op: "set", Key: s.key, Err: err}
	}
	return nil
}

func (s *sharedInvalidation) Invalidated(ctx context.Context, created time.Time) Invalidation {
	if !s.exact() && clock.Coarse() >= s.nextRead.Load() && s.reading.CompareAndSwap(false, true) {
		s.read(ctx) //nolint:errcheck // the copy we have stays in use until a read succeeds
		s.nextRead.Store(clock.Now() + int64(s.refresh))
		s.reading.Store(false)
	}
	return s.check(created.UnixNano())
}

// read fetches the times from the backend.
func (s *sharedInvalidation) read(ctx context.Context) error {
	b, _, err := s.backend.Get(ctx, s.key)
	if err != nil {
		return &BackendError{Backend: "invalidation", Op: "get", Key: s.key, Err: err}
	}
	s.load(b)
	return nil
}

// load takes the times from stored bytes; later times win, so a process never
// forgets an invalidation it made or saw.
func (s *sharedInvalidation) load(b []byte) {
	if len(b) != 16 {
		return // none stored yet (or not ours): keep what we have
	}
	raise := func(a *atomic.Int64, v int64) {
		for {
			old := a.Load()
			if v <= old || a.CompareAndSwap(old, v) {
				return
			}
		}
	}
	raise(&s.hard, int64(binary.BigEndian.Uint64(b[:8])))
	raise(&s.soft, int64(binary.BigEndian.Uint64(b[8:])))
}
