package file

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

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
	info os.FileInfo
	f    *os.File
	refs int // guarded by lockFiles.mu

	mu   sync.Mutex
	held map[int64]chan struct{} // byte offset → closed when its holder in this process releases it
}

// lockFiles holds the lock files open in this process.
var lockFiles struct {
	mu    sync.Mutex
	files []*lockFile
}

// openLockFile returns this process's handle on the lock file at path,
// creating the file if needed. Call release when done.
func openLockFile(path string) (*lockFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	lockFiles.mu.Lock()
	defer lockFiles.mu.Unlock()
	// Stat before opening: if another backend in this process already has the
	// file open (by any name), reuse its descriptor rather than opening and
	// closing a second one.
	if fi, err := os.Stat(abs); err == nil {
		for _, lf := range lockFiles.files {
			if os.SameFile(fi, lf.info) {
				lf.refs++
				return lf, nil
			}
		}
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	lf := &lockFile{path: abs, info: fi, f: f, refs: 1, held: map[int64]chan struct{}{}}
	lockFiles.files = append(lockFiles.files, lf)
	return lf, nil
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
	return lf.f.Close()
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
	lf   *lockFile
	key  string
	off  int64
	held chan struct{} // non-nil while this value holds the lock
}

var _ lock.Mutex = (*fileMutex)(nil)

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
	ok, err = rangeLock(lf.f, m.off, true)
	if err != nil {
		return false, nil, fmt.Errorf("file: lock %q in %s: %w", m.key, lf.path, err)
	}
	if !ok {
		return false, nil, nil
	}
	m.held = make(chan struct{})
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
	_, err := rangeLock(lf.f, m.off, false)
	if lf.held[m.off] == m.held {
		delete(lf.held, m.off)
	}
	close(m.held)
	m.held = nil
	if err != nil {
		return fmt.Errorf("file: unlock %q in %s: %w", m.key, lf.path, err)
	}
	return nil
}
