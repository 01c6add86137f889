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
	"github.com/dogpile-go/dogpile/internal/atomicmax"
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
// Invalidation by tag (Region.InvalidateTags) uses the same design: each
// tag has a record of generations like the region's, under
// "dogpile:tag:<name>:<tag>", updated by compare-and-swap, signed under
// WithSigning, and read with the values that carry the tag, following the
// same refresh policy — with every tagged value when refresh is 0, at most
// once per refresh interval and tag otherwise.
//
// The strategy's Invalidated method, which compares times, always answers
// NotInvalidated: a region recognises the strategy and asks it about
// generations instead, so it can't be wrapped in a strategy of your own.
func SharedInvalidation(refresh time.Duration) InvalidationStrategy {
	return &sharedInvalidation{refresh: refresh}
}

// recordCodec is the codec name in the envelope of a record of generations
// (a region's invalidation record, a tag's record): no codec has it, and the
// record has no payload.
const recordCodec = "dogpile/invalidation"

// maxSwaps bounds Invalidate's compare-and-swap attempts: each failed
// attempt means another process's update succeeded, so only a store that
// never swaps (a broken backend) gets that far.
const maxSwaps = 1000

type sharedInvalidation struct {
	record   // the region's
	refresh  time.Duration
	backend  Backend
	swapper  backend.Swapper // nil: read, modify and write
	r        *Region
	backName string       // the backend's name, for messages
	nextRead atomic.Int64 // refresh > 0: when to read again
	reading  atomic.Bool

	noSwapOnce sync.Once
}

// record is a record of generations in the store: a region's invalidation
// record, or a tag's (see Region.InvalidateTag). Both are read, written,
// signed and checked by the same code.
type record struct {
	key string
	tag string // the tag's name; "" for the region's record

	// The highest generations read or written: entries with lower ones are
	// invalidated.
	hard, soft atomic.Uint64

	// The last record bytes accepted and rejected, so that a read of the
	// same record costs a comparison, not a parse and an HMAC.
	accepted, rejected atomic.Pointer[[]byte]
}

// current returns the generations a value made now is written under.
func (rec *record) current() envelope.Generations {
	return envelope.Generations{Hard: rec.hard.Load(), Soft: rec.soft.Load()}
}

// raise raises the generations seen to g's, never lowering either, and
// reports whether either rose.
func (rec *record) raise(g envelope.Generations) bool {
	h := atomicmax.Raise(&rec.hard, g.Hard)
	return atomicmax.Raise(&rec.soft, g.Soft) || h
}

// raise is rec.raise that also moves the region's invalidation epoch when a
// hard generation rose: a flight begun before this process knew of it may
// be creating a value from before the invalidation (see lock.Batch.Epoch).
func (s *sharedInvalidation) raise(rec *record, g envelope.Generations) bool {
	hard := rec.hard.Load()
	raised := rec.raise(g)
	if rec.hard.Load() > hard {
		s.r.hardEpoch.Add(1)
	}
	return raised
}

// invalidated decides whether an entry written under gens is invalidated by
// the generations seen.
func (rec *record) invalidated(gens envelope.Generations) Invalidation {
	if gens.Hard < rec.hard.Load() {
		return Hard
	}
	if gens.Soft < rec.soft.Load() {
		return Soft
	}
	return NotInvalidated
}

// what names the record in messages.
func (rec *record) what() string {
	if rec.tag != "" {
		return "tag record"
	}
	return "invalidation record"
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
	s.record.key, s.backend, s.r, s.backName = st.reservedStorageKey(ReservedKeyPrefix+"invalidated:"+name), st.backend, r, st.backendName
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

// check decides whether the value with stamp st is invalidated. An entry
// without generations (written without SharedInvalidation) counts as
// written under generation 0 of both.
func (s *sharedInvalidation) check(ctx context.Context, st stamp) Invalidation {
	if !s.exact() && s.r.clock.Coarse() >= s.nextRead.Load() && s.reading.CompareAndSwap(false, true) {
		s.read(ctx) //nolint:errcheck // the copy we have stays in use until a read succeeds
		s.nextRead.Store(s.r.clock.Now() + int64(s.refresh))
		s.reading.Store(false)
	}
	return s.invalidated(st.gens)
}

func (s *sharedInvalidation) Invalidated(context.Context, time.Time) Invalidation {
	return NotInvalidated
}

func (s *sharedInvalidation) Invalidate(ctx context.Context, how Invalidation) error {
	if how != Hard && how != Soft {
		return &ArgError{Name: "how", Value: how, Reason: "want dogpile.Hard or dogpile.Soft"}
	}
	_, err := s.bump(ctx, &s.record, how)
	return err
}

// bump adds one to rec's counter of kind how, in the store, and reports
// whether the generations this process had seen rose.
func (s *sharedInvalidation) bump(ctx context.Context, rec *record, how Invalidation) (raised bool, err error) {
	for range maxSwaps {
		raw, ok, err := s.backend.Get(ctx, rec.key)
		if err != nil {
			return raised, &BackendError{Backend: "invalidation", Op: "get", Key: rec.key, Err: err}
		}
		if !ok {
			raw = nil // absent, for CompareAndSwap
		}
		raised = s.loadRecord(rec, raw) || raised
		// From the highest generations seen, not only the record's: if the
		// record was lost, this process's invalidations still count on.
		next := rec.current()
		counter := &next.Soft
		if how == Hard {
			counter = &next.Hard
		}
		if *counter == math.MaxUint64 {
			// Only a record planted without signing gets here.
			return raised, fmt.Errorf("dogpile: region %q: the %s %q is at the largest generation; delete it", s.r.name, rec.what(), rec.key)
		}
		*counter++
		b := s.encode(rec, next)
		swapped, err := s.swap(ctx, rec.key, raw, b)
		if swapped {
			// Even with an error (a tier that could not tell the other
			// processes): the record holds next.
			raised = s.raise(rec, next) || raised
		}
		if err != nil {
			return raised, &BackendError{Backend: "invalidation", Op: "compare_and_swap", Key: rec.key, Err: err}
		}
		if swapped {
			return raised, nil
		}
		if err := ctx.Err(); err != nil {
			return raised, err
		}
	}
	return raised, &BackendError{Backend: "invalidation", Op: "compare_and_swap", Key: rec.key, Err: fmt.Errorf("the record changed under %d attempts in a row", maxSwaps)}
}

// swap replaces old with b under key, atomically where the backend can.
func (s *sharedInvalidation) swap(ctx context.Context, key string, old, b []byte) (bool, error) {
	if s.swapper != nil {
		swapped, err := s.swapper.CompareAndSwap(ctx, key, old, b)
		if !errors.Is(err, errors.ErrUnsupported) {
			return swapped, err
		}
		// A proxy or tier over a backend that cannot swap.
		s.warnNoSwap()
	}
	return true, s.backend.Set(ctx, key, b)
}

// read fetches the region's record from the backend.
func (s *sharedInvalidation) read(ctx context.Context) error {
	b, _, err := s.backend.Get(ctx, s.key)
	if err != nil {
		return &BackendError{Backend: "invalidation", Op: "get", Key: s.key, Err: err}
	}
	s.load(b)
	return nil
}

// load takes the region's generations from stored record bytes (nil: none
// stored).
func (s *sharedInvalidation) load(b []byte) { s.loadRecord(&s.record, b) }

// loadRecord takes rec's generations from stored record bytes (nil: none
// stored) and reports whether the generations seen rose.
func (s *sharedInvalidation) loadRecord(rec *record, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if p := rec.accepted.Load(); p != nil && bytes.Equal(*p, b) {
		return false // already raised to its generations
	}
	if p := rec.rejected.Load(); p != nil && bytes.Equal(*p, b) {
		if s.r.signingKeys != nil {
			s.r.observe(EventRejected, 0)
		}
		return false
	}
	g, err := s.parse(rec, b)
	own := bytes.Clone(b)
	if err != nil {
		rec.rejected.Store(&own)
		if s.r.signingKeys != nil {
			s.r.observe(EventRejected, 0)
			s.r.logger.Warn("dogpile: "+rec.what()+" not signed by an accepted key; ignored until the next invalidation replaces it",
				"region", s.r.name, "key", rec.key, "err", err)
		} else {
			s.r.logger.Debug("dogpile: unreadable "+rec.what()+" ignored", "region", s.r.name, "key", rec.key, "err", err)
		}
		return false
	}
	raised := s.raise(rec, g)
	rec.accepted.Store(&own)
	return raised
}

// encode makes the record for g: an envelope with the generations and no
// payload, signed (covering rec's key) when the region signs.
func (s *sharedInvalidation) encode(rec *record, g envelope.Generations) []byte {
	m := envelope.Meta{Created: s.r.clock.Now(), Codec: recordCodec, HasGens: true, Gens: g}
	b := envelope.Append(make([]byte, 0, envelope.Size(&m, 0)), &m, nil)
	if s.r.signingKeys != nil {
		b = envelope.Sign(b, rec.key, s.r.signingKeys[0])
	}
	return b
}

// parse reads record bytes: an envelope with generations, under signing
// signed by an accepted key for rec's key.
func (s *sharedInvalidation) parse(rec *record, b []byte) (envelope.Generations, error) {
	if s.r.signingKeys != nil {
		if err := envelope.Verify(b, rec.key, s.r.signingKeys); err != nil {
			return envelope.Generations{}, err
		}
	}
	e, err := envelope.Open(b)
	if err != nil {
		return envelope.Generations{}, err
	}
	if e.Codec != recordCodec || !e.HasGens || len(e.Payload) != 0 || len(e.Tags) != 0 {
		return envelope.Generations{}, errors.New("dogpile: not a record of generations")
	}
	return e.Gens, nil
}
