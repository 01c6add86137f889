package dogpile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/internal/envelope"
)

// SharedInvalidation returns an invalidation strategy that keeps the
// region's invalidations in its backend, so that Invalidate in one process
// applies in every process sharing the backend. Give each region a name
// (WithName): the record is stored under "dogpile:invalidated:<name>"
// (ReservedKeyPrefix + "invalidated:" + the name, through the region's key
// mangler and after its key prefix), a key that no call can write.
//
// # Generations, not clocks
//
// The record holds two counters, a hard and a soft generation; Invalidate
// adds one to the counter of its kind. Every entry the region writes carries
// the generations its writer had read when it began making the value (read
// with the value, and again after taking the key's lock). An entry is hard
// invalidated when its hard generation is below the record's, and soft
// invalidated when its soft generation is. No host's clock takes part: a
// writer whose clock is minutes fast still writes the generations it read,
// so its value from before an invalidation is not served after it; an
// invalidator whose clock is fast only adds one, so values written after its
// invalidation carry the new generation and are served. (Comparing creation
// times with invalidation times, as the in-process default does, would need
// every host's clock to agree.) A value whose creation overlapped an
// invalidation carries the generation from before it and is invalid: an
// invalidation is never lost to a creation in flight.
//
// Invalidate updates the record with the backend's compare-and-swap
// (backend.Swapper): two processes invalidating at once — a Soft in one and
// a Hard in another — both count. A backend without it (a user's backend of
// Get, Set and Delete) gets a read, modify and write instead: the region
// logs a warning when it is configured, and concurrent invalidations from
// different processes may then lose one. The built-in memory backends and
// the tier (package tiered) over a remote that has it compare and swap.
//
// Under WithSigning the record is signed like an entry, covering its key. A
// record not signed by an accepted key — planted by someone who can write to
// the store but holds no key — is ignored, counted as EventRejected and
// logged, and replaced by the next Invalidate; it can't switch the cache off.
// Without signing, a record that can't be read is ignored, and one planted
// with huge generations costs one regeneration per key: values written
// after it carry its generations.
//
// A process never lowers the generations it has seen, so a record lost from
// the store (evicted, or the store restarted without persistence) loses no
// invalidation for the processes that saw it, and the next Invalidate counts
// on from the highest. A process started after the loss sees generation 0
// until then, and may serve an entry invalidated before the loss if the
// store kept the entry. A store-side TTL (redis_expiration_time,
// memcached_expire_time) is safe: the record, rewritten at each
// invalidation, outlives every entry written before it.
//
// refresh is how a process learns of other processes' invalidations:
//
//   - 0: the record is read with every value — in the same round trip on
//     backends with multi-key reads (Redis, Memcached), as one more read on
//     others — and before every Set. An invalidation is seen by the very
//     next call everywhere.
//   - > 0: the record is read at most once per refresh interval (by one
//     caller; the others use the copy they have). Reads cost nothing extra,
//     but another process's invalidation takes up to refresh to be seen.
//     Until then this process writes entries with the generations it has,
//     which are invalid as soon as it (or any other process) sees the new
//     ones: never wrongly valid, at worst created once more.
//
// BENCHMARKS.md measures both on Redis.
//
// The strategy's Invalidated method, which compares times, always answers
// NotInvalidated: a region recognises the strategy and asks it about
// generations instead, so it can't be wrapped in a strategy of your own.
func SharedInvalidation(refresh time.Duration) InvalidationStrategy {
	return &sharedInvalidation{refresh: refresh}
}

// recordCodec is the codec name in the invalidation record's envelope: no
// codec has it, and the record has no payload.
const recordCodec = "dogpile/invalidation"

// maxSwaps bounds Invalidate's compare-and-swap attempts: each failed
// attempt means another process's update succeeded, so only a store that
// never swaps (a broken backend) gets that far.
const maxSwaps = 1000

type sharedInvalidation struct {
	refresh  time.Duration
	key      string
	backend  Backend
	swapper  backend.Swapper // nil: read, modify and write
	r        *Region
	backName string       // the backend's name, for messages
	nextRead atomic.Int64 // refresh > 0: when to read again
	reading  atomic.Bool

	// The highest generations read or written: entries with lower ones are
	// invalidated.
	hard, soft atomic.Uint64

	// The last record bytes accepted and rejected, so that a read of the
	// same record costs a comparison, not a parse and an HMAC.
	accepted, rejected atomic.Pointer[[]byte]
	noSwapOnce         sync.Once
}

// attach gives the strategy its region's backend and key; a strategy value
// serves one region.
func (s *sharedInvalidation) attach(r *Region, st *regionState) error {
	if s.r != nil && (s.r != r || s.backend != st.backend) {
		return &ArgError{Name: "invalidation strategy", Reason: "a SharedInvalidation serves one region; make one per region"}
	}
	name := strings.Map(func(c rune) rune {
		if c <= ' ' || c == 0x7f {
			return '_'
		}
		return c
	}, r.name)
	s.key, s.backend, s.r, s.backName = r.reservedStorageKey(ReservedKeyPrefix+"invalidated:"+name), st.backend, r, st.backendName
	s.swapper, _ = st.backend.(backend.Swapper)
	if _, real := st.real.(backend.Swapper); s.swapper == nil || !real {
		s.warnNoSwap()
	}
	return nil
}

// warnNoSwap says, once, that Invalidate falls back to read, modify and
// write.
func (s *sharedInvalidation) warnNoSwap() {
	s.noSwapOnce.Do(func() {
		s.r.logger.Warn("dogpile: the backend cannot compare and swap: shared invalidations made at the same moment by different processes may lose one",
			"region", s.r.name, "backend", s.backName)
	})
}

// exact reports whether the record is read with every value.
func (s *sharedInvalidation) exact() bool { return s.refresh <= 0 }

// current returns the generations a value made now is written under.
func (s *sharedInvalidation) current() envelope.Generations {
	return envelope.Generations{Hard: s.hard.Load(), Soft: s.soft.Load()}
}

// check decides whether the value with stamp st is invalidated. An entry
// without generations (written without SharedInvalidation) counts as
// written under generation 0 of both.
func (s *sharedInvalidation) check(ctx context.Context, st stamp) Invalidation {
	if !s.exact() && s.r.clock.Coarse() >= s.nextRead.Load() && s.reading.CompareAndSwap(false, true) {
		s.read(ctx) //nolint:errcheck // the copy we have stays in use until a read succeeds
		s.nextRead.Store(s.r.clock.Now() + int64(s.refresh))
		s.reading.Store(false)
	}
	if st.gens.Hard < s.hard.Load() {
		return Hard
	}
	if st.gens.Soft < s.soft.Load() {
		return Soft
	}
	return NotInvalidated
}

func (s *sharedInvalidation) Invalidated(context.Context, time.Time) Invalidation {
	return NotInvalidated
}

func (s *sharedInvalidation) Invalidate(ctx context.Context, how Invalidation) error {
	if how != Hard && how != Soft {
		return &ArgError{Name: "how", Value: how, Reason: "want dogpile.Hard or dogpile.Soft"}
	}
	for range maxSwaps {
		raw, ok, err := s.backend.Get(ctx, s.key)
		if err != nil {
			return &BackendError{Backend: "invalidation", Op: "get", Key: s.key, Err: err}
		}
		if !ok {
			raw = nil // absent, for CompareAndSwap
		}
		s.load(raw)
		// From the highest generations seen, not only the record's: if the
		// record was lost, this process's invalidations still count on.
		next := s.current()
		counter := &next.Soft
		if how == Hard {
			counter = &next.Hard
		}
		if *counter == math.MaxUint64 {
			// Only a record planted without signing gets here.
			return fmt.Errorf("dogpile: region %q: the invalidation record %q is at the largest generation; delete it", s.r.name, s.key)
		}
		*counter++
		b := s.encode(next)
		swapped, err := s.swap(ctx, raw, b)
		if swapped {
			// Even with an error (a tier that could not tell the other
			// processes): the record holds next.
			s.raise(next)
		}
		if err != nil {
			return &BackendError{Backend: "invalidation", Op: "compare_and_swap", Key: s.key, Err: err}
		}
		if swapped {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return &BackendError{Backend: "invalidation", Op: "compare_and_swap", Key: s.key, Err: fmt.Errorf("the record changed under %d attempts in a row", maxSwaps)}
}

// swap replaces old with b, atomically where the backend can.
func (s *sharedInvalidation) swap(ctx context.Context, old, b []byte) (bool, error) {
	if s.swapper != nil {
		swapped, err := s.swapper.CompareAndSwap(ctx, s.key, old, b)
		if !errors.Is(err, errors.ErrUnsupported) {
			return swapped, err
		}
		// A proxy or tier over a backend that cannot swap.
		s.warnNoSwap()
	}
	return true, s.backend.Set(ctx, s.key, b)
}

// read fetches the record from the backend.
func (s *sharedInvalidation) read(ctx context.Context) error {
	b, _, err := s.backend.Get(ctx, s.key)
	if err != nil {
		return &BackendError{Backend: "invalidation", Op: "get", Key: s.key, Err: err}
	}
	s.load(b)
	return nil
}

// raise raises the generations seen to g's, never lowering either.
func (s *sharedInvalidation) raise(g envelope.Generations) {
	raise := func(a *atomic.Uint64, v uint64) {
		for {
			old := a.Load()
			if v <= old || a.CompareAndSwap(old, v) {
				return
			}
		}
	}
	raise(&s.hard, g.Hard)
	raise(&s.soft, g.Soft)
}

// load takes the generations from stored record bytes (nil: none stored).
func (s *sharedInvalidation) load(b []byte) {
	if len(b) == 0 {
		return
	}
	if p := s.accepted.Load(); p != nil && bytes.Equal(*p, b) {
		return // already raised to its generations
	}
	if p := s.rejected.Load(); p != nil && bytes.Equal(*p, b) {
		if s.r.signingKeys != nil {
			s.r.observe(EventRejected, 0)
		}
		return
	}
	g, err := s.parse(b)
	own := bytes.Clone(b)
	if err != nil {
		s.rejected.Store(&own)
		if s.r.signingKeys != nil {
			s.r.observe(EventRejected, 0)
			s.r.logger.Warn("dogpile: invalidation record not signed by an accepted key; ignored until the next Invalidate replaces it",
				"region", s.r.name, "key", s.key, "err", err)
		} else {
			s.r.logger.Debug("dogpile: unreadable invalidation record ignored", "region", s.r.name, "key", s.key, "err", err)
		}
		return
	}
	s.raise(g)
	s.accepted.Store(&own)
}

// encode makes the record for g: an envelope with the generations and no
// payload, signed when the region signs.
func (s *sharedInvalidation) encode(g envelope.Generations) []byte {
	m := envelope.Meta{Created: s.r.clock.Now(), Codec: recordCodec, HasGens: true, Gens: g}
	b := envelope.Append(make([]byte, 0, envelope.Size(&m, 0)), &m, nil)
	if s.r.signingKeys != nil {
		b = envelope.Sign(b, s.key, s.r.signingKeys[0])
	}
	return b
}

// parse reads record bytes: an envelope with generations, under signing
// signed by an accepted key for this record's key.
func (s *sharedInvalidation) parse(b []byte) (envelope.Generations, error) {
	if s.r.signingKeys != nil {
		if err := envelope.Verify(b, s.key, s.r.signingKeys); err != nil {
			return envelope.Generations{}, err
		}
	}
	e, err := envelope.Open(b)
	if err != nil {
		return envelope.Generations{}, err
	}
	if e.Codec != recordCodec || !e.HasGens || len(e.Payload) != 0 {
		return envelope.Generations{}, errors.New("dogpile: not an invalidation record")
	}
	return e.Gens, nil
}
