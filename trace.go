package dogpile

import (
	"context"
	"errors"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

// Tracer starts the spans of a region's work, for distributed tracing. The
// metrics/otel package makes one from an OpenTelemetry TracerProvider; the
// core depends on no tracing library.
//
// A region with a tracer (WithTracer) starts a span for:
//
//   - each GetOrCreate, Cached.Call and GetOrCreateMulti call
//     (SpanGetOrCreate, SpanGetOrCreateMulti), but not a hit on the
//     in-process memory backend, which takes nanoseconds where a span takes
//     a microsecond (hits are counted and timed by WithMetrics);
//   - each call of a backend that stores bytes (SpanBackendPrefix and the
//     operation: "dogpile.backend.get", ...);
//   - each creator call (SpanCreate): the creator's context carries the span,
//     so the creator's own spans are its children;
//   - each wait for another caller's creation, and each taking of the
//     backend's cross-process lock (SpanLockWait), reported when the wait
//     ends, with its start time in the past.
//
// Start must be safe for concurrent use.
type Tracer interface {
	// Start starts the span named name (one of the Span constants) as a
	// child of ctx's, and returns the context carrying it.
	Start(ctx context.Context, name string, info SpanInfo) (context.Context, Span)
}

// Span is a span a Tracer started.
type Span interface {
	// End ends the span with its outcome (one of the Outcome constants) and
	// the error of the operation, if any.
	End(outcome string, err error)
}

// SpanInfo is what a span is about. Key is a key value: a Tracer should
// record it only if its user asked for it (keys can carry personal data).
type SpanInfo struct {
	Region  string    // the region's name (WithName)
	Backend string    // the backend's registered name, or its Go type
	Key     string    // the key, as the caller gave it or (backend calls) as it is stored; "" when many
	Keys    int       // how many keys the operation has
	Lock    string    // for SpanLockWait: LockLocal or LockDistributed
	Start   time.Time // when the span began; zero: now
}

// The names of the spans a region starts.
const (
	SpanGetOrCreate      = "dogpile.get_or_create"
	SpanGetOrCreateMulti = "dogpile.get_or_create_multi"
	SpanCreate           = "dogpile.create"
	SpanLockWait         = "dogpile.lock_wait"
	// SpanBackendPrefix begins the name of a backend call's span, which ends
	// with the operation: get, set, delete, get_multi, set_multi,
	// delete_multi, compare_and_swap.
	SpanBackendPrefix = "dogpile.backend."
)

// The outcomes a span ends with.
const (
	OutcomeHit      = "hit"       // a fresh value was found
	OutcomeMiss     = "miss"      // no value was found: created, or waited for
	OutcomeStale    = "stale"     // a stale value was found (served, or regenerated)
	OutcomeNotFound = "not_found" // a cached "not found", or a creator's ErrNotFound
	OutcomeOK       = "ok"        // a write, a creation or a wait that succeeded
	OutcomeError    = "error"     // the operation failed (or, for a creator, panicked)
)

// The kinds of lock a SpanLockWait waits for.
const (
	LockLocal       = "local"       // another caller's creation in this process
	LockDistributed = "distributed" // the backend's cross-process lock
)

// WithTracer makes the region start spans on t (see Tracer). A region
// without one costs no tracing.
func WithTracer(t Tracer) RegionOption { return func(r *Region) { r.tracer = t } }

// spanInfo is the start of a span of the region's on s about key.
func (r *Region) spanInfo(s *regionState, key string, keys int) SpanInfo {
	return SpanInfo{Region: r.name, Backend: s.backendName, Key: key, Keys: keys}
}

// tracedGetOrCreate is GetOrCreate's (and Cached.Call's) lookup and creation
// in a SpanGetOrCreate span; create is the call's second half (createFor).
// The options are a copy, so that the untraced calls' do not move to the
// heap.
func tracedGetOrCreate[T any](ctx context.Context, r *Region, s *regionState, key, k string, o callOptions, create func(context.Context, pending[T], callOptions) (T, error)) (v T, err error) {
	ctx, sp := r.tracer.Start(ctx, SpanGetOrCreate, r.spanInfo(s, key, 1))
	var p pending[T]
	outcome := OutcomeHit
	if lookupForCreate(ctx, r, s, k, &o, &p) {
		v, err = p.answer(key)
	} else {
		outcome = OutcomeMiss
		v, err = create(ctx, p, o)
	}
	if p.st == lock.Stale {
		outcome = OutcomeStale
	}
	sp.End(outcomeOf(outcome, err), err)
	return v, err
}

// outcomeOf is the outcome of an operation that found outcome and returned
// err.
func outcomeOf(outcome string, err error) string {
	switch {
	case err == nil:
		return outcome
	case errors.Is(err, ErrNotFound):
		return OutcomeNotFound
	default:
		return OutcomeError
	}
}

// traceCreator starts a creator's SpanCreate span, when the region traces.
func (r *Region) traceCreator(ctx context.Context, s *regionState) (context.Context, Span) {
	if r.tracer == nil {
		return ctx, nil
	}
	return r.tracer.Start(ctx, SpanCreate, r.spanInfo(s, "", 0))
}

// endCreator ends a creator's span: answered is whether it returned a value
// or a "not found", err its error (nil with !answered: it panicked).
func endCreator(sp Span, answered bool, err error) {
	if sp == nil {
		return
	}
	switch {
	case !answered:
		sp.End(OutcomeError, err)
	case err != nil:
		sp.End(OutcomeNotFound, nil)
	default:
		sp.End(OutcomeOK, nil)
	}
}

// traceLockWaits returns observe, which a lock working for ctx reports to,
// made to also report its waits as SpanLockWait spans, when the region traces.
func (r *Region) traceLockWaits(ctx context.Context, s *regionState, key string, keys int, observe func(lock.Event, time.Duration)) func(lock.Event, time.Duration) {
	if r.tracer == nil {
		return observe
	}
	return func(e lock.Event, d time.Duration) {
		if observe != nil {
			observe(e, d)
		}
		if e != lock.Waited && e != lock.MutexWaited {
			return
		}
		info := r.spanInfo(s, key, keys)
		info.Lock, info.Start = LockLocal, time.Now().Add(-d)
		if e == lock.MutexWaited {
			info.Lock = LockDistributed
		}
		_, sp := r.tracer.Start(ctx, SpanLockWait, info)
		sp.End(OutcomeOK, nil)
	}
}

// traceBackend returns b, wrapped to start a span for each of its calls when
// the region traces and b stores bytes. A backend of Go values (the
// in-process memory backend) is left as it is: its calls take nanoseconds.
func (r *Region) traceBackend(b Backend, name string) Backend {
	if r.tracer == nil {
		return b
	}
	if _, values := b.(backend.Values); values {
		return b
	}
	t := &tracedBackend{next: b, r: r, name: name}
	m, multi := b.(backend.Multi)
	l, locking := b.(backend.Locking)
	switch {
	case multi && locking:
		return &struct {
			tracedMulti
			mutexesOf
		}{tracedMulti{t, m}, mutexesOf{l}}
	case multi:
		return &tracedMulti{t, m}
	case locking:
		return &struct {
			*tracedBackend
			mutexesOf
		}{t, mutexesOf{l}}
	}
	return t
}

// tracedBackend starts a span for each call of next. It has the optional
// interfaces next has (traceBackend): the region's behaviour does not change
// with tracing. Mutex calls are not traced: the waits they cause are
// (SpanLockWait).
type tracedBackend struct {
	next Backend
	r    *Region
	name string
}

func (t *tracedBackend) start(ctx context.Context, op, key string, keys int) (context.Context, Span) {
	return t.r.tracer.Start(ctx, SpanBackendPrefix+op, SpanInfo{Region: t.r.name, Backend: t.name, Key: key, Keys: keys})
}

func (t *tracedBackend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, sp := t.start(ctx, "get", key, 1)
	v, ok, err := t.next.Get(ctx, key)
	outcome := OutcomeMiss
	if ok {
		outcome = OutcomeHit
	}
	sp.End(outcomeOf(outcome, err), err)
	return v, ok, err
}

func (t *tracedBackend) Set(ctx context.Context, key string, value []byte) error {
	ctx, sp := t.start(ctx, "set", key, 1)
	err := t.next.Set(ctx, key, value)
	sp.End(outcomeOf(OutcomeOK, err), err)
	return err
}

func (t *tracedBackend) Delete(ctx context.Context, key string) error {
	ctx, sp := t.start(ctx, "delete", key, 1)
	err := t.next.Delete(ctx, key)
	sp.End(outcomeOf(OutcomeOK, err), err)
	return err
}

// CompareAndSwap forwards to next's, or fails as the region expects of a
// backend without one (errors.ErrUnsupported).
func (t *tracedBackend) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	sw, ok := t.next.(backend.Swapper)
	if !ok {
		return false, errors.ErrUnsupported
	}
	ctx, sp := t.start(ctx, "compare_and_swap", key, 1)
	swapped, err := sw.CompareAndSwap(ctx, key, old, new)
	sp.End(outcomeOf(OutcomeOK, err), err)
	return swapped, err
}

// ValuesImmutable reports next's answer (backend.Immutable): spans don't
// touch the values.
func (t *tracedBackend) ValuesImmutable() bool { return backend.ValuesImmutable(t.next) }

// KeepsDecoded reports whether next keeps decoded values (backend.Keeping).
func (t *tracedBackend) KeepsDecoded() bool {
	k, ok := t.next.(backend.Keeping)
	return ok && k.KeepsDecoded()
}

func (t *tracedBackend) GetKept(ctx context.Context, key string) ([]byte, any, bool, error) {
	ctx, sp := t.start(ctx, "get", key, 1)
	v, kept, ok, err := t.next.(backend.Keeping).GetKept(ctx, key)
	outcome := OutcomeMiss
	if ok {
		outcome = OutcomeHit
	}
	sp.End(outcomeOf(outcome, err), err)
	return v, kept, ok, err
}

func (t *tracedBackend) Keep(key string, value []byte, kept any) {
	t.next.(backend.Keeping).Keep(key, value, kept)
}

// Close closes next, if it is an io.Closer.
func (t *tracedBackend) Close() error {
	if c, ok := t.next.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// mutexesOf gives a traced backend the mutexes of the backend it wraps.
type mutexesOf struct{ l backend.Locking }

func (m mutexesOf) Mutex(key string) lock.Mutex { return m.l.Mutex(key) }

// tracedMulti is a tracedBackend over a backend.Multi.
type tracedMulti struct {
	*tracedBackend
	multi backend.Multi
}

func (t tracedMulti) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	ctx, sp := t.start(ctx, "get_multi", "", len(keys))
	v, err := t.multi.GetMulti(ctx, keys)
	sp.End(outcomeOf(OutcomeOK, err), err)
	return v, err
}

func (t tracedMulti) SetMulti(ctx context.Context, items map[string][]byte) error {
	ctx, sp := t.start(ctx, "set_multi", "", len(items))
	err := t.multi.SetMulti(ctx, items)
	sp.End(outcomeOf(OutcomeOK, err), err)
	return err
}

func (t tracedMulti) DeleteMulti(ctx context.Context, keys []string) error {
	ctx, sp := t.start(ctx, "delete_multi", "", len(keys))
	err := t.multi.DeleteMulti(ctx, keys)
	sp.End(outcomeOf(OutcomeOK, err), err)
	return err
}
