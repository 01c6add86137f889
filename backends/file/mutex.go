package file

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

// How often a waiting Lock retries a byte held by another process: the OS
// gives no wait that a context can interrupt, so Lock polls, starting fast (a
// creator that finishes quickly is noticed at once) and backing off so that a
// long creation costs the waiters little.
const (
	minPoll = time.Millisecond
	maxPoll = 50 * time.Millisecond
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
	lf := &lockFile{path: path, info: info, f: f, refs: 1, held: map[int64]chan struct{}{}}
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

// try takes the lock if it is free. When a holder in this process has it,
// inproc is closed on its release; when another process has it, inproc is
// nil.
func (m *fileMutex) try() (ok bool, inproc <-chan struct{}, err error) {
	lf := m.lf
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if ch, busy := lf.held[m.off]; busy {
		return false, ch, nil
	}
	// One stat per attempt keeps this process on the lock file that the
	// others, including those that start later, lock.
	if err := lf.follow(); err != nil {
		return false, nil, fmt.Errorf("file: reopen the lock file %s: %w", lf.path, err)
	}
	ok, err = rangeLock(lf.f, m.off, true)
	if err != nil {
		return false, nil, fmt.Errorf("file: lock %q in %s: %w", m.key, lf.path, err)
	}
	if !ok {
		return false, nil, nil
	}
	m.held = make(chan struct{})
	m.f, m.info = lf.f, lf.info
	lf.held[m.off] = m.held
	return true, nil, nil
}

// TryLock takes the lock if no one, in this process or another, holds it.
func (m *fileMutex) TryLock(context.Context) (bool, error) {
	ok, _, err := m.try()
	return ok, err
}

// Lock waits for the lock until ctx ends. A holder in this process is waited
// for on a channel; a holder in another process by polling with backoff.
func (m *fileMutex) Lock(ctx context.Context) error {
	wait := minPoll
	for {
		ok, inproc, err := m.try()
		if err != nil || ok {
			return err
		}
		if inproc != nil {
			select {
			case <-inproc:
				continue
			case <-ctx.Done():
				return fmt.Errorf("file: waiting for the lock of %q: %w", m.key, ctx.Err())
			}
		}
		t := time.NewTimer(wait + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("file: waiting for the lock of %q: %w", m.key, ctx.Err())
		}
		wait = min(2*wait, maxPoll)
	}
}

// Unlock releases the lock if this value holds it; otherwise it does nothing.
func (m *fileMutex) Unlock(context.Context) error {
	if m.held == nil {
		return nil
	}
	lf := m.lf
	lf.mu.Lock()
	defer lf.mu.Unlock()
	_, err := rangeLock(m.f, m.off, false)
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
	if m.held == nil {
		return fmt.Errorf("file: set %q: %w: this value does not hold the lock", key, lock.ErrLockLost)
	}
	if !m.lf.current(m.info) {
		return fmt.Errorf("file: set %q: %w: the lock file %s was removed or replaced while the lock was held", key, lock.ErrLockLost, m.lf.path)
	}
	return m.b.Set(ctx, key, value)
}
