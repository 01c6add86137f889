package dogpile

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dogpile-go/dogpile/internal/clock"
)

// WithAutoRecovery makes a fail-open region (WithFailOpen, with a positive
// cooldown) keep the writes it could not make while its backend was down,
// and make them once it is back. Set, SetMulti, Delete, DeleteMulti and
// Invalidate (and so the cached functions' Set and Invalidate) that fail
// because the backend is down, or are called while the breaker is open, are
// queued and return nil; so are InvalidateTags under SharedInvalidation.
// (Invalidate under the default strategy, which keeps its times in this
// process, applies at once, as do tag invalidations without
// SharedInvalidation; SharedInvalidation's and a custom strategy's are
// queued.) When the breaker's probe finds the backend back, the
// queue is replayed in order before the breaker closes, so that no call of
// this process reads the backend before the writes it made are there, and
// other processes sharing the store see them — an invalidation made during
// an outage is honoured everywhere once the store is back.
//
// The queue is coalesced by key: a key's latest write or delete replaces
// the one queued before it and takes its place at the end of the queue, and
// so does an invalidation of each kind (the latest Hard, the latest Soft),
// which replaces nothing else. Replaying the queue has the effect of
// replaying every operation in the order it was made. It holds at most
// maxKeys keys (10,000 if maxKeys is zero or less); an operation on a new key
// when it is full is refused — its error returned, matching ErrBackend — and
// counted (EventRecoveryOverflow). Invalidations are always queued.
//
// A replayed Set writes the value with the creation time of the call that
// made it and, under SharedInvalidation, the generations of the record as it
// is when the write is replayed: it is valid against invalidations that
// other processes made during the outage, and invalid after one this
// process made later. Like any Set, it replaces what the key holds then —
// a value another process stored during the outage included. An operation the backend refuses when it is replayed
// (a value too large) is dropped and logged. Values created by GetOrCreate
// and the cached functions while the backend is down are not queued: they
// are returned uncached, and made again when next needed.
//
// The queue is in this process's memory: a process that exits (or a region
// that is closed) before the backend is back loses what it queued. Queued
// and replayed operations are counted (EventRecoveryQueued,
// EventRecoveryReplayed).
func WithAutoRecovery(maxKeys int) RegionOption {
	if maxKeys <= 0 {
		maxKeys = 10000
	}
	return func(r *Region) { r.recovery = &recovery{limit: maxKeys} }
}

// recoveryErr is why Configure refuses the region's WithAutoRecovery, if
// it does.
func (r *Region) recoveryErr() error {
	if r.recovery != nil && (!r.failOpen || r.cooldown <= 0) {
		return &ArgError{Name: "WithAutoRecovery", Reason: "needs WithFailOpen with a positive cooldown"}
	}
	return nil
}

// recovery is the queue of WithAutoRecovery.
type recovery struct {
	limit int

	mu     sync.Mutex
	order  list.List // of *queued, in the order they were (last) queued
	at     map[slot]*list.Element
	keys   int         // set and delete slots in order
	timer  *time.Timer // the probe the queue waits for, if no call comes to start one
	closed bool
}

type opKind uint8

const (
	opSet opKind = iota
	opDelete
	opInvalidate
	opInvalidateTag
)

// queued is an operation waiting for the backend.
type queued struct {
	kind  opKind
	s     *regionState
	key   string       // storage key: set, delete; the tag: invalidate a tag
	value any          // set
	w     writing      // set: the type, the creation time
	o     callOptions  // set: the call's options (its tags)
	how   Invalidation // invalidate
}

// slot is what an operation coalesces on: a key for sets and deletes, a
// kind for invalidations, a tag and a kind for invalidations of a tag.
type slot struct {
	key string
	how Invalidation
	tag bool
}

func (q *queued) slot() slot {
	switch q.kind {
	case opInvalidate:
		return slot{how: q.how}
	case opInvalidateTag:
		return slot{key: q.key, how: q.how, tag: true}
	}
	return slot{key: q.key}
}

// keyed reports whether q counts against the queue's bound (sets and
// deletes; invalidations are always queued).
func (q *queued) keyed() bool { return q.kind == opSet || q.kind == opDelete }

// setOps are the operations of a write of vals under the storage keys sk,
// with the call's options o, to queue if it can't be made (nil without
// auto-recovery).
func (r *Region) setOps(s *regionState, sk []string, vals []any, typ typeID, o *callOptions) []queued {
	if r.recovery == nil {
		return nil
	}
	now := s.clock.Now()
	ops := make([]queued, len(sk))
	for i, k := range sk {
		ops[i] = queued{kind: opSet, s: s, key: k, value: vals[i], w: writing{id: typ, dynamic: typ == writeDynamic, created: now}, o: *o}
	}
	return ops
}

// deleteOps are the operations of a delete of the storage keys sk.
func (r *Region) deleteOps(s *regionState, sk []string) []queued {
	if r.recovery == nil {
		return nil
	}
	ops := make([]queued, len(sk))
	for i, k := range sk {
		ops[i] = queued{kind: opDelete, s: s, key: k}
	}
	return ops
}

// invalidateOps is the operation of an invalidation (nil for the default
// strategy, which keeps its times in this process and needs no backend:
// values replayed later keep their creation times, which it compares).
func (r *Region) invalidateOps(s *regionState, how Invalidation) []queued {
	if r.recovery == nil || s.localInv != nil || how != Hard && how != Soft {
		return nil
	}
	return []queued{{kind: opInvalidate, s: s, how: how}}
}

// invalidateTagOps are the operations of an invalidation of tags (nil when
// tags are invalidated in this process, which needs no backend).
func (r *Region) invalidateTagOps(s *regionState, how Invalidation, tags []string) []queued {
	if r.recovery == nil || s.tags.shared == nil || how != Hard && how != Soft {
		return nil
	}
	ops := make([]queued, len(tags))
	for i, tag := range tags {
		ops[i] = queued{kind: opInvalidateTag, s: s, key: tag, how: how}
	}
	return ops
}

// write makes a write (do) whose operations are ops: at once, or, under
// auto-recovery while the breaker is open or when do fails because the
// backend is down, by queuing ops.
func (r *Region) write(s *regionState, ops []queued, do func() error) error {
	q := r.recovery
	if q == nil || ops == nil {
		return do()
	}
	if r.breakerOpen() {
		if queued, err := q.add(r, s, ops, nil); queued || err != nil {
			return err
		}
		// The breaker closed meanwhile: write now.
	}
	err := do()
	if !down(err) {
		return err
	}
	r.trip(err)
	_, err = q.add(r, s, ops, err)
	return err
}

// down reports whether err says that the backend is down (rather than
// that the operation was wrong, or refused).
func down(err error) bool {
	return err != nil && errors.Is(err, ErrBackend) && !refused(err) || errors.Is(err, context.DeadlineExceeded)
}

// errBreakerOpen is the cause of an operation refused by a full queue while
// the breaker was open (the backend was not asked).
var errBreakerOpen = errors.New("the backend is down (the circuit breaker is open)")

// add queues ops, unless the breaker has closed (queued is false: the
// caller writes). cause is the error the write failed with, if it was
// made; the error is for an operation the queue can't take.
func (q *recovery) add(r *Region, s *regionState, ops []queued, cause error) (queued bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || r.openUntil.Load() == 0 {
		return false, cause
	}
	if q.at == nil {
		q.at = make(map[slot]*list.Element)
	}
	need := 0
	for i := range ops {
		if ops[i].keyed() {
			if _, ok := q.at[ops[i].slot()]; !ok {
				need++
			}
		}
	}
	if need > 0 && q.keys+need > q.limit {
		r.observe(EventRecoveryOverflow, 0)
		if cause == nil {
			cause = &BackendError{Backend: s.backendName, Op: "queue", Key: ops[0].key, Err: errBreakerOpen, counted: true}
		}
		return false, fmt.Errorf("%w (not queued for replay: the recovery queue holds its limit of %d keys)", cause, q.limit)
	}
	for i := range ops {
		op := &ops[i]
		sl := op.slot()
		if e, ok := q.at[sl]; ok {
			q.order.Remove(e)
		} else if op.keyed() {
			q.keys++
		}
		q.at[sl] = q.order.PushBack(op)
		r.observe(EventRecoveryQueued, 0)
	}
	q.probeLaterLocked(r)
	return true, nil
}

// probeLater makes sure that a probe runs when the breaker's cooldown ends
// while operations are queued, even if no call comes to start one.
func (q *recovery) probeLater(r *Region) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.probeLaterLocked(r)
}

func (q *recovery) probeLaterLocked(r *Region) {
	if q.closed || q.timer != nil || q.order.Len() == 0 {
		return
	}
	wait := time.Duration(r.openUntil.Load() - clock.Now())
	q.timer = time.AfterFunc(max(wait, 0), func() {
		q.mu.Lock()
		q.timer = nil
		q.mu.Unlock()
		if r.probing.CompareAndSwap(false, true) {
			r.probe()
		}
	})
}

// drain is the probe's second step, once the backend answered: it replays
// the queue in order, then closes the breaker, atomically with the queue's
// being empty (an operation queued meanwhile is replayed first). It stops
// at the first operation the backend still can't take, which stays at the
// head of the queue, and returns its error.
func (q *recovery) drain(r *Region) error {
	if q == nil {
		r.openUntil.Store(0)
		return nil
	}
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return errors.New("dogpile: region closed")
		}
		e := q.order.Front()
		if e == nil {
			r.openUntil.Store(0)
			q.mu.Unlock()
			return nil
		}
		q.mu.Unlock()

		op := e.Value.(*queued)
		ctx, cancel := context.WithTimeout(context.Background(), r.probeTimeout())
		err := q.replay(ctx, r, op)
		cancel()
		if down(err) {
			return err
		}
		if err != nil {
			r.logger.Warn("dogpile: a queued operation failed when replayed; dropped", "region", r.name, "key", op.key, "err", err)
		} else {
			r.observe(EventRecoveryReplayed, 0)
		}
		q.mu.Lock()
		// Unless a later operation on the slot has replaced it meanwhile.
		if sl := op.slot(); q.at[sl] == e {
			delete(q.at, sl)
			q.order.Remove(e)
			if op.keyed() {
				q.keys--
			}
		}
		q.mu.Unlock()
	}
}

// replay makes op on the backend.
func (q *recovery) replay(ctx context.Context, r *Region, op *queued) error {
	s := op.s
	switch op.kind {
	case opSet:
		w, err := s.writeAfterRead(ctx, op.w.id, &op.o)
		if err != nil {
			return err
		}
		w.dynamic, w.created = op.w.dynamic, op.w.created
		return r.store(ctx, s, op.key, op.value, w)
	case opDelete:
		return s.wrap("delete", op.key, s.backend.Delete(ctx, op.key))
	case opInvalidateTag:
		err := s.tags.invalidate(ctx, op.how, []string{op.key})
		if errors.Is(err, ErrBackend) {
			err = s.wrap("invalidate_tags", "", err)
		}
		return err
	default:
		err := s.inv.Invalidate(ctx, op.how)
		if errors.Is(err, ErrBackend) {
			err = s.wrap("invalidate", "", err)
		}
		return err
	}
}

// close drops the queue: the region is closed.
func (q *recovery) close(r *Region) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	if n := q.order.Len(); n > 0 {
		r.logger.Warn("dogpile: region closed with operations queued for the backend; they are lost", "region", r.name, "queued", n)
	}
	q.order.Init()
	q.at, q.keys = nil, 0
}
