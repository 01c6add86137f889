// Package lock is the dogpile lock: it elects one creator per key and tells
// every other caller what to do while that creator works.
//
// It is the Go counterpart of dogpile.cache's Lock and can be used on its own,
// without a cache region: give it a way to load the current value, a way to
// create a new one, and optionally a [Mutex] shared by several processes.
//
// # States
//
// [Lock.Get] first loads the value. The loader reports one of three states:
//
//   - [Fresh]: the value is returned at once. No lock is taken.
//   - [Stale]: a value exists but is expired (or soft-invalidated). If another
//     caller in this process is already regenerating the key, the stale value
//     is returned at once. Otherwise this caller becomes the regenerator: it
//     tries the cross-process [Mutex] without waiting (if another process
//     holds it, the stale value is returned), loads again in case a fresh
//     value has just been stored, and then either hands the regeneration to
//     the async runner and returns the stale value at once, or runs the
//     creator and returns the new value.
//   - [Missing]: there is no usable value. The caller joins the key's flight
//     in this process, or starts one. The flight's leader waits for the
//     cross-process [Mutex], loads again (another process may have stored the
//     value while it waited), and otherwise runs the creator. Everyone in the
//     flight gets the leader's result.
//
// # Many keys
//
// [Batch] is the same lock for many keys in one call, as a multi-key
// get-or-create needs it: each key is served, waited for or led as above,
// the keys this call leads are loaded and created together — their mutexes
// taken in the order of the keys, so that calls asking for overlapping keys
// cannot deadlock, then one load and one Create call with exactly the keys
// still without a value — and every key's flight is finished, errors and
// panics included. A Lock is the Batch of its one key.
//
// # Cancellation
//
// A flight's work (waiting for the mutex, creating, storing) runs in its own
// goroutine under a context detached from the cancellation of the caller that
// started it (its values are kept), bounded by [Lock.Timeout]. A caller whose
// context ends returns its context's error at once; the flight goes on and the
// other callers get its result. A caller that holds a stale value may bound
// its wait with [Lock.SoftTimeout]: once it has passed, it is served the
// stale value and the flight goes on without it.
//
// # Leases
//
// A cross-process mutex that expires unless renewed (a [Lease], such as a
// Redis lock with a timeout) is renewed every third of its TTL while the
// creation runs, so a creator slower than the TTL keeps it. If a renewal
// finds the lock gone — it expired while the holder was stalled, or the store
// lost it in a restart or failover — the creation's context ends with
// [ErrLockLost] as its cause, and the flight, once the creator returns, waits
// for the mutex again and loads again before it would create a second time.
// A creation's context carries the mutex it holds ([Held]), so that the
// value can be written through it: a store that fences writes (checks the
// holder and writes in one step) refuses the write of a holder that lost its
// lock, and a later holder's value is never overwritten. A single-master
// store's lock is an efficiency lock: after a restart or failover a second
// creator may run; fencing keeps the data right.
//
// # Errors and panics
//
// An error from the creator is returned to every caller in the flight and
// nothing is kept. A failure of the cross-process mutex itself is returned as
// a [*MutexError] to callers without a value; a caller holding a stale value
// is served it instead (and the failure is reported as [MutexFailed]). A panic in the creator is recovered in the flight's
// goroutine, the mutex is released, the waiters get a [*PanicError], and the
// caller that started the flight (if it is still waiting) panics with the same
// value, as golang.org/x/sync/singleflight does.
//
// # Nesting
//
// A creator may call [Lock.Get] for another key; flights on different keys
// never wait for each other. A creator that asks for its own key deadlocks
// until its context ends, as any non-reentrant lock would.
package lock
