package lock

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Batch is the dogpile lock for many keys at once, as a cache's multi-key
// get-or-create needs it: one call does for every key what [Lock] does for
// one — a fresh value is returned, a stale one is served while one caller
// regenerates it, a missing one is waited for — and calls Create once, with
// exactly the keys that still need a value once their mutexes are taken.
// Fill in its fields and call Get; a Batch value describes one call and is
// not reused. A Lock is the Batch of its one key.
//
// The keys this call creates share one flight's work: their cross-process
// mutexes are taken in the order of the keys (so that two calls asking for
// overlapping keys, in any order, cannot deadlock each other, in one process
// or in several), each of them that is a [Lease] is renewed while the work
// runs, and the creation's context carries them all ([Held]). If any lease
// is found gone, the creation's context ends with [ErrLockLost] as its
// cause, and the keys still without a value are tried once more.
type Batch[T any] struct {
	// Group is where the callers of one key in this process meet. All locks of
	// one cache share one Group. Required.
	Group *Group
	// Keys identify the values in Group (and usually in the store). A key may
	// appear more than once; it is created once.
	Keys []string
	// Mutex, if not nil, returns key's cross-process mutex, or nil when the
	// key has none.
	Mutex func(key string) Mutex
	// Load returns the current values of keys and their states, one of each
	// per key in the order of keys (in one round trip, where the store can).
	// Required.
	Load func(ctx context.Context, keys []string) ([]T, []State, error)
	// Create creates the values of keys, one per key in the order of keys,
	// and stores them where Load will find them. It is given only keys of
	// Keys, each once. Required.
	Create func(ctx context.Context, keys []string) ([]T, error)
	// Async, if not nil, runs a regeneration in the background when every key
	// this call would create has a stale value: every caller, this one
	// included, returns at once. It must call regenerate exactly once, in any
	// goroutine. A call that also has a missing key creates in the
	// foreground, stale keys with it.
	Async func(regenerate func())
	// Timeout, if positive, bounds a flight's work (waiting for mutexes,
	// Create), which runs detached from the cancellation of the caller that
	// started it: the hard timeout.
	Timeout time.Duration
	// SoftTimeout, if positive, bounds how long this call waits for the
	// creation of a key it holds a stale value of: once it has passed, the
	// call is served the stale value (reported as SoftTimedOut) and the
	// flight goes on in the background, stores its value and ends as it
	// would have. Keys without a value are waited for as before, until
	// Timeout or the caller's ctx ends; NoStale turns the soft timeout off.
	SoftTimeout time.Duration
	// NoStale makes callers that find a stale value wait for the new one
	// instead of being served the stale one.
	NoStale bool
	// Epoch is how many invalidations this call knows the cache to have had
	// (any count that only grows: a cache counts the hard invalidations it
	// makes or learns of). A flight started by a call that knew of fewer may
	// be creating a value from before an invalidation this call knows of:
	// this call does not take that flight's value, it loads again when the
	// flight ends (and creates, if the value stored is invalid), so that a
	// call made after an invalidation returned never gets a value whose
	// creation began before it.
	Epoch uint64
	// Observe, if not nil, is told what the lock does, for metrics. It is
	// called synchronously and must be cheap and safe for concurrent use.
	Observe func(e Event, d time.Duration)
}

func (b *Batch[T]) observe(e Event, d time.Duration) {
	if b.Observe != nil {
		b.Observe(e, d)
	}
}

// Get returns the values of Keys, in their order: each loaded if fresh, stale
// while another caller regenerates it, or created (by this call or by the one
// it waits for).
func (b *Batch[T]) Get(ctx context.Context) ([]T, error) {
	if len(b.Keys) == 0 {
		return []T{}, nil
	}
	vals, states, err := b.load(ctx, b.Keys)
	if err != nil {
		return nil, err
	}
	return b.GetLoaded(ctx, vals, states)
}

// GetLoaded is Get for a caller that has already loaded Keys itself (a cache
// does, to serve hits without building a Batch). vals and states are what
// Load returned for Keys.
func (b *Batch[T]) GetLoaded(ctx context.Context, vals []T, states []State) ([]T, error) {
	if len(vals) != len(b.Keys) || len(states) != len(b.Keys) {
		return nil, fmt.Errorf("dogpile: %d values and %d states for %d keys", len(vals), len(states), len(b.Keys))
	}
	out := make([]T, len(b.Keys))
	var todo []entry[T] // made at the first key that is not fresh, for the keys from there on
	for i, st := range states {
		if st == Fresh {
			out[i] = vals[i]
			continue
		}
		if todo == nil {
			todo = make([]entry[T], 0, len(b.Keys)-i)
		}
		todo = append(todo, entry[T]{i: i, v: vals[i], st: st})
	}
	for len(todo) > 0 {
		again, err := b.round(ctx, todo, out)
		if err != nil {
			return nil, err
		}
		if len(again) == 0 {
			break
		}
		// The flights of these keys ended without a value they can use
		// (their leaders found the values stale and another process
		// regenerating them). Look again; a key still without a usable
		// value joins or leads a flight that waits for the mutex this time.
		keys := make([]string, len(again))
		for j, e := range again {
			keys[j] = b.Keys[e.i]
		}
		vs, sts, err := b.load(ctx, keys)
		if err != nil {
			return nil, err
		}
		todo = todo[:0]
		for j, e := range again {
			if sts[j] == Stale && !b.NoStale {
				b.observe(ServedStale, 0) // another process is regenerating it
				out[e.i] = vs[j]
				continue
			}
			todo = append(todo, entry[T]{i: e.i, v: vs[j], st: sts[j]})
		}
	}
	return out, nil
}

// entry is a key of Keys (its index i) without a value yet: v and st are what
// was last loaded for it.
type entry[T any] struct {
	i  int
	v  T
	st State
}

// item is a key whose flight this call leads.
type item[T any] struct {
	entry[T]
	key string
	f   *Flight
	// stale: the caller holds a stale value, so the flight only tries the
	// mutex (another process holding it is regenerating) instead of waiting.
	stale bool

	// The flight's outcome, set by attempt, published by run.
	val      T
	fresh    bool
	err      error
	resolved bool
}

func (it *item[T]) resolve(v T, fresh bool, err error) {
	it.val, it.fresh, it.err, it.resolved = v, fresh, err, true
}

// waiting is a key of Keys whose value a flight is creating: one this call
// leads, or another caller's.
type waiting[T any] struct {
	entry[T]
	f      *Flight
	leader bool
}

// round is one pass of the state machine over todo: each key is served
// (fresh, or stale while someone else regenerates it), led (this call starts
// its flight) or waited for (it joins the flight of another caller). The
// flights led run as one piece of work, and round waits for every flight it
// needs. Values found go into out; round returns the keys whose flights ended
// without a value they can use.
func (b *Batch[T]) round(ctx context.Context, todo []entry[T], out []T) (again []entry[T], err error) {
	var (
		lead  = make([]item[T], 0, len(todo))
		mine  = make([]waiting[T], 0, len(todo)) // the flights in lead, to wait for
		waits []waiting[T]                       // other callers' flights
	)
	allStale := true
	for _, e := range todo {
		key := b.Keys[e.i]
		switch {
		case e.st == Fresh:
			out[e.i] = e.v
		case e.st == Stale && !b.NoStale:
			f, leader := b.Group.Begin(key)
			if !leader {
				b.observe(ServedStale, 0) // someone in this process is regenerating
				out[e.i] = e.v
				continue
			}
			f.epoch = b.Epoch
			lead = append(lead, item[T]{entry: e, key: key, f: f, stale: true})
			mine = append(mine, waiting[T]{entry: e, f: f, leader: true})
		default: // Missing, or Stale for a caller that won't take stale
			f, leader := b.Group.Join(key)
			if !leader {
				waits = append(waits, waiting[T]{entry: e, f: f})
				continue
			}
			f.epoch = b.Epoch
			lead = append(lead, item[T]{entry: e, key: key, f: f})
			mine = append(mine, waiting[T]{entry: e, f: f, leader: true})
			allStale = false
		}
	}

	if len(lead) > 0 {
		dctx, cancel := b.detach(ctx)
		if allStale && b.Async != nil {
			b.Async(func() {
				defer cancel()
				b.run(dctx, lead)
			})
			for _, w := range mine {
				b.observe(ServedStale, 0)
				out[w.i] = w.v
			}
			mine = nil
		} else {
			go func() {
				defer cancel()
				b.run(dctx, lead)
			}()
		}
	}

	// The soft timeout runs from here, for every key this call holds a
	// stale value of.
	var soft context.Context
	if b.SoftTimeout > 0 && !b.NoStale && len(mine) > 0 {
		var cancel context.CancelFunc
		soft, cancel = context.WithTimeout(ctx, b.SoftTimeout)
		defer cancel()
	}

	// The flights this call leads first: a creator's panic is raised again
	// here, in the caller that started the creation, as singleflight does.
	for _, w := range append(mine, waits...) {
		start := time.Now()
		var (
			got   any
			fresh bool
			err   error
		)
		if soft != nil && w.st == Stale {
			if got, fresh, err = w.f.Wait(soft); err != nil && ctx.Err() == nil && !finished(w.f) {
				// The creation outlasted the soft timeout: the stale
				// value now, the new one stored when the flight ends.
				b.observe(SoftTimedOut, time.Since(start))
				b.observe(ServedStale, 0)
				out[w.i] = w.v
				continue
			}
		}
		if soft == nil || w.st != Stale || err != nil {
			got, fresh, err = w.f.Wait(ctx)
		}
		if w.leader {
			if err != nil && ctx.Err() == nil {
				// The flights this call leads end together, an instant
				// apart: let all of them end before returning, so that
				// what the caller does next finds none of them.
				for _, m := range mine {
					<-m.f.Done()
				}
			}
			if pe, ok := err.(*PanicError); ok {
				panic(pe)
			}
		} else {
			b.observe(Waited, time.Since(start))
			if fresh && err == nil && w.f.epoch < b.Epoch {
				fresh = false // from before an invalidation this call knows of
			}
		}
		if err != nil {
			return nil, err
		}
		ok, err := b.settle(w.entry, got, fresh, out)
		if err != nil {
			return nil, err
		}
		if !ok {
			again = append(again, w.entry)
		}
	}
	return again, nil
}

// finished reports whether f has ended.
func finished(f *Flight) bool {
	select {
	case <-f.Done():
		return true
	default:
		return false
	}
}

// settle puts a flight's outcome for e into out, and reports false when the
// flight ended without a value e can use: not a new one, and e has no stale
// value it may be served.
func (b *Batch[T]) settle(e entry[T], got any, fresh bool, out []T) (bool, error) {
	if fresh {
		v, ok := got.(T)
		if !ok {
			return false, fmt.Errorf("dogpile: the flight for key %q produced a %T, not a %T", b.Keys[e.i], got, out[e.i])
		}
		out[e.i] = v
		return true, nil
	}
	if e.st == Stale && !b.NoStale {
		b.observe(ServedStale, 0) // another process is regenerating it
		out[e.i] = e.v
		return true, nil
	}
	return false, nil
}

func (b *Batch[T]) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	dctx := context.WithoutCancel(ctx)
	if b.Timeout > 0 {
		return context.WithTimeout(dctx, b.Timeout)
	}
	return dctx, func() {}
}

// load is Load, checked to return one value and state per key.
func (b *Batch[T]) load(ctx context.Context, keys []string) ([]T, []State, error) {
	vals, states, err := b.Load(ctx, keys)
	if err == nil && (len(vals) != len(keys) || len(states) != len(keys)) {
		err = fmt.Errorf("dogpile: Load returned %d values and %d states for %d keys", len(vals), len(states), len(keys))
	}
	return vals, states, err
}

// run is the work of the flights in items: take their cross-process mutexes,
// load again, create. It finishes every item's flight, even if the creator
// panics, and only once the mutexes are released. The keys of an attempt
// that lost a lease are tried once more: their mutexes are waited for again
// (the new holder may be creating) and they are loaded again before they
// would be created a second time.
func (b *Batch[T]) run(ctx context.Context, lead []item[T]) {
	items := make([]*item[T], len(lead))
	for i := range lead {
		items[i] = &lead[i]
	}
	defer func() {
		var pe *PanicError
		if r := recover(); r != nil {
			pe = &PanicError{Value: r, Stack: debug.Stack()}
		}
		for _, it := range items {
			if pe != nil && !it.resolved {
				it.f.Finish(nil, false, pe)
				continue
			}
			it.f.Finish(it.val, it.fresh, it.err)
		}
	}()
	if retry := b.attempt(ctx, items); len(retry) > 0 && ctx.Err() == nil {
		b.attempt(ctx, retry)
	}
}

// attempt takes the cross-process mutexes of items (those there are, in key
// order), loads again the keys still without a value, and creates the ones
// that need it. It resolves every item; when a lease was lost, it returns
// the items that ended with an error, to be tried again.
func (b *Batch[T]) attempt(ctx context.Context, items []*item[T]) (retry []*item[T]) {
	for _, it := range items {
		it.resolved = false
	}
	if b.Mutex != nil {
		order := slices.Clone(items)
		slices.SortFunc(order, func(x, y *item[T]) int { return strings.Compare(x.key, y.key) })
		var locked []Mutex
		// Release even when ctx has ended: a lock must not outlive us.
		// (Deferred before the renewals' stop, so it runs after it: the
		// renewers never use a mutex once it is released.)
		defer func() {
			for _, m := range locked {
				if err := m.Unlock(context.WithoutCancel(ctx)); err != nil {
					b.observe(MutexFailed, 0) // a lost release expires with the lock's timeout
				}
			}
		}()
		cctx, lost := context.WithCancelCause(ctx)
		defer lost(nil)
		var stops []func()
		defer func() {
			for _, stop := range stops {
				stop()
			}
		}()
		holds := make(held, len(order))
		for _, it := range order {
			m := b.Mutex(it.key)
			if m == nil || !b.take(ctx, it, m) {
				continue
			}
			locked = append(locked, m)
			h := &hold{m: m}
			holds[it.key] = h
			// Renewed from now on: waiting for the next key's mutex may
			// take longer than this one's TTL.
			if lease, ok := As[Lease](m); ok {
				stops = append(stops, b.keepAlive(cctx, lease, h, lost))
			}
		}
		ctx = withHeld(cctx, holds)
		defer func() {
			if context.Cause(ctx) == ErrLockLost {
				retry = lostItems(items)
			}
		}()
	}

	// Someone (in this process or another) may have stored fresh values
	// between our Load and taking the locks.
	var (
		pending []*item[T]
		keys    []string
	)
	for _, it := range items {
		if !it.resolved {
			pending = append(pending, it)
			keys = append(keys, it.key)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	vals, states, err := b.load(ctx, keys)
	if err != nil {
		resolveAll(pending, err)
		return nil
	}
	need, keys := pending[:0], keys[:0]
	for j, it := range pending {
		if states[j] == Fresh {
			it.resolve(vals[j], true, nil)
			continue
		}
		need = append(need, it)
		keys = append(keys, it.key)
	}
	if len(need) == 0 {
		return nil
	}

	start := time.Now()
	created := false
	defer func() {
		// Runs before run's deferred Finish, panics included.
		if created {
			b.observe(Created, time.Since(start))
		} else {
			b.observe(CreateFailed, time.Since(start))
		}
	}()
	vs, err := b.Create(ctx, keys)
	if err == nil && len(vs) != len(keys) {
		err = fmt.Errorf("dogpile: the creator returned %d values for %d keys", len(vs), len(keys))
	}
	if err != nil {
		resolveAll(need, err)
		return nil
	}
	created = true
	for j, it := range need {
		it.resolve(vs[j], true, nil)
	}
	return nil
}

// take takes it's mutex m: a caller holding a stale value only tries it.
// It reports whether it holds m; if not, it has resolved it.
func (b *Batch[T]) take(ctx context.Context, it *item[T], m Mutex) bool {
	if it.stale {
		ok, err := m.TryLock(ctx)
		if err != nil {
			// A caller holding a value is better served it than an
			// error: the store's trouble is counted, not returned.
			b.observe(MutexFailed, 0)
		}
		if err != nil || !ok { // another process is regenerating: serve stale
			it.resolve(it.v, false, nil)
			return false
		}
		return true
	}
	start := time.Now()
	err := b.lock(ctx, it, m)
	b.observe(MutexWaited, time.Since(start))
	if it.resolved { // the holder's value, loaded at its release
		return false
	}
	if err != nil {
		if ctx.Err() == nil {
			err = &MutexError{Op: "lock", Key: it.key, Err: err}
		}
		var zero T
		it.resolve(zero, false, err)
		return false
	}
	return true
}

// lock waits until it holds m. With a Waiter it loads the key again at each
// release of another holder's lock, and resolves it with the value that
// holder stored instead of taking the lock.
func (b *Batch[T]) lock(ctx context.Context, it *item[T], m Mutex) error {
	w, ok := m.(Waiter)
	if !ok {
		return m.Lock(ctx)
	}
	for {
		locked, err := w.LockOrWait(ctx)
		if err != nil || locked {
			return err
		}
		vals, states, err := b.load(ctx, []string{it.key})
		if err != nil {
			return err
		}
		if len(states) == 1 && states[0] == Fresh {
			it.resolve(vals[0], true, nil)
			return nil
		}
	}
}

func resolveAll[T any](items []*item[T], err error) {
	var zero T
	for _, it := range items {
		it.resolve(zero, false, err)
	}
}

// lostItems returns the items that ended with an error in an attempt that
// lost a lease, their errors marked as caused by the loss.
func lostItems[T any](items []*item[T]) []*item[T] {
	var out []*item[T]
	for _, it := range items {
		if it.err != nil {
			it.err = fmt.Errorf("%w while creating %q: %w", ErrLockLost, it.key, it.err)
			out = append(out, it)
		}
	}
	return out
}

// keepAlive renews lease every TTL/3 until stop is called, Redisson's
// watchdog. When a renewal finds the lease gone, or no renewal has succeeded
// for a whole TTL (the store unreachable: the hold has surely ended), it ends
// ctx with ErrLockLost as its cause (through lost). stop ends the renewals
// and returns once none is running.
func (b *Batch[T]) keepAlive(ctx context.Context, lease Lease, h *hold, lost context.CancelCauseFunc) (stop func()) {
	ttl := lease.TTL()
	if ttl <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		every := max(ttl/3, 1)
		t := time.NewTicker(every)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			err := lease.Renew(rctx)
			rcancel()
			switch {
			case err == nil:
				renewed = time.Now()
				continue
			case !errors.Is(err, ErrLockLost) && time.Since(renewed) < ttl:
				b.observe(MutexFailed, 0)
				continue // the store may answer the next time; the hold lasts
			}
			if h.lost.CompareAndSwap(false, true) { // once, with a refused write
				b.observe(LeaseLost, 0)
			}
			lost(ErrLockLost)
			return
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}
