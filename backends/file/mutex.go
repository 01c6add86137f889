package file

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

// A Lock waiting for a holder in another process waits in the OS: a
// goroutine blocks in fcntl's waiting lock command until the kernel grants
// it the byte, at the moment the holder releases it or dies, and hands the
// lock to the Lock (or, if every Lock waiting for it has given up, releases
// it). The OS offers no wait that a context can end, so a Lock whose context
// ends returns at once and leaves the blocked goroutine behind until the
// release. At most maxOSWaits bytes per lock file are waited for so (each
// blocked call holds an OS thread); beyond that a Lock polls, from minPoll
// backing off to maxPoll.
const (
	maxOSWaits = 64
	minPoll    = time.Millisecond
	maxPoll    = 50 * time.Millisecond
)

// lockFile is this process's handle on one dogpile lock file, shared by every
// backend in the process that names the same file. Sharing one descriptor
// matters for classic POSIX locks, which the process loses when it closes any
// descriptor of the file; it also lets holders in one process wait for each
// other on a channel rather than by polling.
type lockFile struct {
	path string
	refs int // guarded by lockFiles.mu

	mu      sync.Mutex
	f       *os.File                // the file now at path
	info    os.FileInfo             // f's identity
	retired []*os.File              // files once at path, kept open for their holders until the last release
	held    map[int64]chan struct{} // byte offset → closed when its holder in this process releases it
	waits   map[int64]*osWait       // byte offset → the OS wait for its holder in another process
}

// osWait is a wait in the OS for a byte that another process holds, shared
// by the Lock calls of this process that wait for it. Its fields are guarded
// by the lock file's mu.
type osWait struct {
	f       *os.File      // the file waited in
	info    os.FileInfo   // f's identity
	done    chan struct{} // closed when the OS wait has ended
	waiters int           // the Lock calls waiting on it
	hold    chan struct{} // when it ended with the byte granted and waiters left: the hold, for one of them to claim
	claimed bool          // the hold has been claimed, or released for want of a claimant
}

// lockFiles holds the lock files open in this process.
var lockFiles struct {
	mu    sync.Mutex
	files []*lockFile
}

// openLockFile returns this process's handle on the lock file at path (a
// realPath), creating the file, mode 0600, if needed. Call release when
// done.
func openLockFile(path string) (*lockFile, error) {
	lockFiles.mu.Lock()
	defer lockFiles.mu.Unlock()
	// Stat before opening: if another backend in this process already has the
	// file open (by any name), reuse its descriptor rather than opening and
	// closing a second one.
	fi, statErr := os.Stat(path)
	for _, lf := range lockFiles.files {
		lf.mu.Lock()
		same := lf.path == path || statErr == nil && os.SameFile(fi, lf.info)
		var err error
		if same {
			// By the same name but another file, the file was replaced:
			// lf moves to the new one.
			err = lf.follow()
		}
		lf.mu.Unlock()
		if !same {
			continue
		}
		if err != nil {
			return nil, err
		}
		lf.refs++
		return lf, nil
	}
	f, info, err := openLock(path)
	if err != nil {
		return nil, err
	}
	lf := &lockFile{path: path, info: info, f: f, refs: 1, held: map[int64]chan struct{}{}, waits: map[int64]*osWait{}}
	lockFiles.files = append(lockFiles.files, lf)
	return lf, nil
}

func openLock(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// current reports whether the file at lf.path is still the one f was opened
// from (info): a lock file removed or replaced by another (a rename over
// it, a cleaner deleting it) is one that processes opening the cache from
// now on will not lock.
func (lf *lockFile) current(info os.FileInfo) bool {
	fi, err := os.Stat(lf.path)
	return err == nil && os.SameFile(fi, info)
}

// follow moves lf to the file now at lf.path, creating it if it was
// removed, when that is not the one lf has open. Holders of locks in the old
// file keep them until they unlock; that file is closed with lf. Called with
// lf.mu held.
func (lf *lockFile) follow() error {
	if lf.current(lf.info) {
		return nil
	}
	f, info, err := openLock(lf.path)
	if err != nil {
		return err
	}
	lf.retired = append(lf.retired, lf.f)
	lf.f, lf.info = f, info
	return nil
}

// release drops one reference; the last one closes the file, which releases
// any lock still held through it.
func (lf *lockFile) release() error {
	lockFiles.mu.Lock()
	defer lockFiles.mu.Unlock()
	lf.refs--
	if lf.refs > 0 {
		return nil
	}
	for i, x := range lockFiles.files {
		if x == lf {
			lockFiles.files = append(lockFiles.files[:i], lockFiles.files[i+1:]...)
			break
		}
	}
	errs := []error{lf.f.Close()}
	for _, f := range lf.retired {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// keyOffset is the byte of the lock file that stands for key: a 62-bit FNV-1a
// hash, the same in every process. Two keys that collide share a lock, which
// only makes their creators take turns.
func keyOffset(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key)) //nolint:errcheck // hash.Hash.Write does not fail
	return int64(h.Sum64() & (1<<62 - 1))
}

// fileMutex is one would-be holder of a key's lock: the byte at off in the
// lock file, locked with fcntl across processes and through lf.held within
// this one.
type fileMutex struct {
	b    *Backend
	lf   *lockFile
	key  string
	off  int64
	held chan struct{} // non-nil while this value holds the lock
	f    *os.File      // the file the lock is held in
	info os.FileInfo   // f's identity
}

var (
	_ lock.Mutex     = (*fileMutex)(nil)
	_ backend.Fenced = (*fileMutex)(nil)
)

// lockLocked takes the byte in the OS if no other process holds it, with
// lf.mu held and no holder in this process.
func (m *fileMutex) lockLocked() (bool, error) {
	lf := m.lf
	// One stat per attempt keeps this process on the lock file that the
	// others, including those that start later, lock.
	if err := lf.follow(); err != nil {
		return false, fmt.Errorf("file: reopen the lock file %s: %w", lf.path, err)
	}
	ok, err := rangeLock(lf.f, m.off, true, false)
	if err != nil {
		return false, fmt.Errorf("file: lock %q in %s: %w", m.key, lf.path, err)
	}
	if ok {
		m.held = make(chan struct{})
		m.f, m.info = lf.f, lf.info
		lf.held[m.off] = m.held
	}
	return ok, nil
}

// TryLock takes the lock if no one, in this process or another, holds it.
func (m *fileMutex) TryLock(context.Context) (bool, error) {
	lf := m.lf
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if _, busy := lf.held[m.off]; busy {
		return false, nil
	}
	if lf.waits[m.off] != nil { // held by another process, and waited for
		return false, nil
	}
	return m.lockLocked()
}

// attempt takes the lock if it is free. Otherwise it returns what to wait
// for: the release by a holder in this process (inproc), or the OS wait for
// a holder in another process (w, which the caller has joined and ends with
// claim or leave); neither when there are too many OS waits, and the caller
// polls.
func (m *fileMutex) attempt() (ok bool, inproc <-chan struct{}, w *osWait, err error) {
	lf := m.lf
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if ch, busy := lf.held[m.off]; busy {
		return false, ch, nil, nil
	}
	if w := lf.waits[m.off]; w != nil {
		w.waiters++
		return false, nil, w, nil
	}
	if ok, err = m.lockLocked(); ok || err != nil || len(lf.waits) >= maxOSWaits {
		return ok, nil, nil, err
	}
	w = &osWait{f: lf.f, info: lf.info, done: make(chan struct{}), waiters: 1}
	lf.waits[m.off] = w
	go lf.waitOS(m.off, w)
	return false, nil, w, nil
}

// waitOS blocks in the OS until the byte at off is granted, then, with the
// lock file's mu, makes it a hold in this process for one of w's waiters to
// claim, or releases it when none is left.
func (lf *lockFile) waitOS(off int64, w *osWait) {
	granted, _ := rangeLock(w.f, off, true, true) // on a failure (the file closed) the waiters try again
	lf.mu.Lock()
	defer lf.mu.Unlock()
	delete(lf.waits, off)
	if granted {
		if w.waiters > 0 {
			w.hold = make(chan struct{})
			lf.held[off] = w.hold
		} else {
			rangeLock(w.f, off, false, false) //nolint:errcheck // closing the file releases it too
		}
	}
	close(w.done)
}

// claim makes m the holder of the byte w was granted, unless another of its
// waiters has claimed it.
func (m *fileMutex) claim(w *osWait) bool {
	m.lf.mu.Lock()
	defer m.lf.mu.Unlock()
	w.waiters--
	if w.hold == nil || w.claimed {
		return false
	}
	w.claimed = true
	m.held, m.f, m.info = w.hold, w.f, w.info
	return true
}

// leave ends m's wait on w; the last waiter to leave a granted, unclaimed
// byte releases it.
func (m *fileMutex) leave(w *osWait) {
	lf := m.lf
	lf.mu.Lock()
	defer lf.mu.Unlock()
	w.waiters--
	if w.waiters > 0 || w.hold == nil || w.claimed {
		return
	}
	w.claimed = true
	rangeLock(w.f, m.off, false, false) //nolint:errcheck // closing the file releases it too
	if lf.held[m.off] == w.hold {
		delete(lf.held, m.off)
	}
	close(w.hold)
}

// Lock waits for the lock until ctx ends: for a holder in this process on a
// channel, for one in another process in the OS (see maxOSWaits).
func (m *fileMutex) Lock(ctx context.Context) error {
	poll := minPoll
	for {
		ok, inproc, w, err := m.attempt()
		if err != nil || ok {
			return err
		}
		switch {
		case w != nil:
			select {
			case <-w.done:
				if m.claim(w) {
					return nil
				}
			case <-ctx.Done():
				m.leave(w)
				return m.waitErr(ctx)
			}
		case inproc != nil:
			select {
			case <-inproc:
			case <-ctx.Done():
				return m.waitErr(ctx)
			}
		default:
			polls.Add(1)
			t := time.NewTimer(poll + rand.N(poll/2+1))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return m.waitErr(ctx)
			}
			poll = min(2*poll, maxPoll)
		}
	}
}

func (m *fileMutex) waitErr(ctx context.Context) error {
	return fmt.Errorf("file: waiting for the lock of %q: %w", m.key, ctx.Err())
}

// polls counts the polls of every Lock in the process (for the tests).
var polls atomic.Int64

// Unlock releases the lock if this value holds it; otherwise it does nothing.
func (m *fileMutex) Unlock(context.Context) error {
	if m.held == nil {
		return nil
	}
	lf := m.lf
	lf.mu.Lock()
	defer lf.mu.Unlock()
	_, err := rangeLock(m.f, m.off, false, false)
	if lf.held[m.off] == m.held {
		delete(lf.held, m.off)
	}
	close(m.held)
	m.held, m.f, m.info = nil, nil, nil
	if err != nil {
		return fmt.Errorf("file: unlock %q in %s: %w", m.key, lf.path, err)
	}
	return nil
}

// SetFenced stores value under key, as Backend.Set does, if this value
// holds the lock and the lock file it holds it in is still the one at the
// lock file's path; otherwise it stores nothing and returns an error
// matching lock.ErrLockLost.
//
// The check and the write are two steps, and need not be one: a file lock
// does not expire, so while this value holds it no one else can take it. It
// ends only with Unlock, with the holder's process (and then nothing of that
// process writes again), or, in effect, when the lock file is removed or
// replaced: processes that open the cache afterwards lock the new file, and
// the check refuses the write of a holder left in the old one.
func (m *fileMutex) SetFenced(ctx context.Context, key string, value []byte) error {
	if err := m.check(key); err != nil {
		return err
	}
	return m.b.setUnfenced(ctx, key, value)
}

// check reports whether a write of key under this value's hold may go ahead.
func (m *fileMutex) check(key string) error {
	if m.held == nil {
		return fmt.Errorf("file: set %q: %w: this value does not hold the lock", key, lock.ErrLockLost)
	}
	if !m.lf.current(m.info) {
		return fmt.Errorf("file: set %q: %w: the lock file %s was removed or replaced while the lock was held", key, lock.ErrLockLost, m.lf.path)
	}
	return nil
}
