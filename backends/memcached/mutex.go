package memcached

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"
)

// DefaultLockPrefix is the default lock_prefix (Options.LockPrefix), which
// begins the key of every lock.
// Locks live in the same key space as values (Memcached has only one), so
// the backend refuses value keys that begin with the lock prefix
// (ErrInvalidKey): a lock and a value can never share a key.
//
// The lock of key is the lock prefix, then the 8 hexadecimal digits of the
// hash that places key on a server, then "." and key itself when that fits in
// 250 bytes, or "#" and the SHA-1 of key when it does not. The selector
// places a lock by the hash it carries, so a lock lives on its value's
// server: a dead server takes only its own keys' locks with it, and a fenced
// write reads the lock and the value from the same server.
const DefaultLockPrefix = "dogpile:lock:"

// maxLockPrefix leaves room in a lock key for the hash and a key's SHA-1.
const maxLockPrefix = MaxKeyLen - 8 - 1 - 2*sha1.Size

// checkLockPrefix returns why prefix can't begin lock keys, or nil.
func checkLockPrefix(prefix string) error {
	switch {
	case prefix == "":
		return errors.New("empty: every key would be reserved for locks")
	case len(prefix) > maxLockPrefix:
		return fmt.Errorf("%d bytes; at most %d fit in a Memcached key with the rest of a lock key", len(prefix), maxLockPrefix)
	}
	if i := badKeyByte(prefix); i >= 0 {
		return fmt.Errorf("byte %d is %q; Memcached keys can hold no spaces or control characters", i, prefix[i])
	}
	return nil
}

// lockKey returns the key of key's lock.
func (b *Backend) lockKey(key string) string {
	var h uint32
	if b.sel != nil {
		h = b.sel.hash(key)
	} else {
		h = oneAtATime(key) // a foreign selector hashes the lock key as it likes
	}
	var hx [8]byte
	hex.Encode(hx[:], []byte{byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)})
	if len(b.lockPrefix)+len(hx)+1+len(key) <= MaxKeyLen {
		return b.lockPrefix + string(hx[:]) + "." + key
	}
	sum := sha1.Sum([]byte(key))
	return b.lockPrefix + string(hx[:]) + "#" + hex.EncodeToString(sum[:])
}

// lockKeyHash returns the placement hash carried by a lock key that begins
// with prefix.
func lockKeyHash(prefix, key string) (uint32, bool) {
	n := len(prefix)
	if len(key) < n+9 || key[:n] != prefix {
		return 0, false
	}
	h, err := strconv.ParseUint(key[n:n+8], 16, 32)
	if err != nil {
		return 0, false
	}
	return uint32(h), true
}

// tokens tell the holders of locks apart: a random prefix per process and a
// counter, so no two acquisitions anywhere share one.
var (
	tokenPrefix = func() string {
		b := make([]byte, 8)
		crand.Read(b) //nolint:errcheck // crypto/rand.Read does not fail
		return hex.EncodeToString(b)
	}()
	tokenSeq atomic.Uint64
)

func newToken() []byte {
	return strconv.AppendUint([]byte(tokenPrefix+"-"), tokenSeq.Add(1), 10)
}

// releasedValue is what a released lock holds: a free lock, which the next
// holder takes over by cas. (No token is ever equal to it. Earlier versions
// of this package released a lock by swapping in "released" and deleting
// it; such a marker counts as held, as they expected, until they delete it
// or it expires, so that their delete never ends a lock taken over it.)
var releasedValue = []byte("free")

// releasedExpiry is the exptime of a released lock. Its expiry only tidies
// up: released or gone, the lock is free.
const releasedExpiry = 1

// fenceAttempts bounds the tries of a fenced write that finds the value
// changed under it by writers that are not the holder.
const fenceAttempts = 3

// mutex is one would-be holder of a key's lock: an item added with "add"
// (which fails if the key exists) holding this holder's token, expiring after
// the lock timeout so that a crashed holder's lock ends. It is a lock.Lease
// (renewed by cas) and a backend.Fenced.
type mutex struct {
	b       *Backend
	key     string
	lockKey string

	mu    sync.Mutex // guards token: Renew runs beside the other methods
	token []byte     // set while this value holds the lock
}

var _ interface {
	lock.Lease
	backend.Fenced
} = (*mutex)(nil)

func (m *mutex) held() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token
}

func (m *mutex) setHeld(token []byte) {
	m.mu.Lock()
	m.token = token
	m.mu.Unlock()
}

// holds reports whether it is this holder's token that the lock item it
// belongs to holds.
func holds(it *memcache.Item, token []byte) bool {
	return token != nil && bytes.Equal(it.Value, token)
}

// TryLock takes the lock if it is free: absent (add) or released (cas).
func (m *mutex) TryLock(ctx context.Context) (bool, error) {
	if err := m.b.checkKey(m.key); err != nil {
		return false, err // no value can be stored under key either
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	token := newToken()
	ok, err := m.acquire(token)
	if err != nil {
		return false, m.b.fail(ctx, "lock", m.key, err)
	}
	if ok {
		m.setHeld(token)
	}
	return ok, nil
}

// acquire writes token into the lock item if the lock is free, and reports
// whether it did.
func (m *mutex) acquire(token []byte) (bool, error) {
	item := &memcache.Item{Key: m.lockKey, Value: token, Expiration: m.b.lockExpire}
	for range 2 { // once more if a released lock expires under us
		err := m.b.client.Add(item)
		if m.b.retry(err) {
			// The add may or may not have reached the server before the
			// connection broke; add again, and if the lock is taken, the
			// read below sees whether it is by this very token.
			err = m.b.client.Add(item)
		}
		if !errors.Is(err, memcache.ErrNotStored) {
			return err == nil, err
		}
		it, err := m.b.get(m.lockKey)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			continue // released and expired, or just released by a holder of an older version
		case err != nil:
			return false, err
		case holds(it, token):
			return true, nil
		case !bytes.Equal(it.Value, releasedValue):
			return false, nil // held
		}
		it.Value, it.Expiration = token, m.b.lockExpire
		err = m.b.client.CompareAndSwap(it)
		switch {
		case err == nil:
			return true, nil
		case notSwapped(err):
			return false, nil // another waiter took it first
		case m.b.retry(err):
			// Whether the swap was made is unknown: see whose the lock is.
			it, err := m.b.get(m.lockKey)
			if errors.Is(err, memcache.ErrCacheMiss) {
				return false, nil
			}
			return err == nil && holds(it, token), err
		}
		return false, err
	}
	return false, nil
}

// Lock waits until it takes the lock or ctx ends. Memcached cannot tell a
// waiter that a lock was released, so Lock polls, with pauses that grow with
// the time waited (see lockPause).
func (m *mutex) Lock(ctx context.Context) error {
	start := time.Now()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ok, err := m.TryLock(ctx)
		if err != nil || ok {
			return err
		}
		wait := lockPause(time.Since(start), m.b.lockSleep)
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("memcached: waiting for the lock on %s: %w", quoteKey(m.key), ctx.Err())
		case <-timer.C:
		}
	}
}

// lockPause is how long a waiter that has waited for waited pauses before it
// tries the lock again: an eighth of the time waited, at least a millisecond
// and at most lockSleep, give or take a quarter at random so that processes
// waiting together do not try in step (never more than lockSleep). A lock
// released after a wait of w is so taken within about w/6 (and a round
// trip), while a long wait costs few tries: about 25 in the first 50ms,
// then one per lockSleep.
func lockPause(waited, lockSleep time.Duration) time.Duration {
	p := min(max(waited/8, time.Millisecond), lockSleep)
	return min(p*3/4+rand.N(p/2+1), lockSleep)
}

// TTL is the least time the lock lives from its taking or its last renewal:
// lock_timeout.
func (m *mutex) TTL() time.Duration { return m.b.lockTimeout }

// Renew extends the lock by TTL if this holder still holds it: it reads the
// lock with its CAS id, checks the token, and writes the same token with a
// new expiry by cas, which fails if the item changed since the read. A lock
// gone (expired, evicted, lost with a restart) or another's is an error
// matching lock.ErrLockLost.
func (m *mutex) Renew(ctx context.Context) error {
	token := m.held()
	if token == nil {
		return lockLost("renew", m.key, "not held")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for range 2 { // once more after a broken connection
		it, err := m.b.get(m.lockKey)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			return lockLost("renew", m.key, "the lock is gone (expired, evicted, or lost with a restart of its server)")
		case err != nil:
			return m.b.fail(ctx, "renew", m.key, err)
		case !holds(it, token):
			return lockLost("renew", m.key, "another holder has the lock")
		}
		it.Expiration = m.b.lockExpire
		err = m.b.client.CompareAndSwap(it)
		switch {
		case err == nil:
			return nil
		case notSwapped(err):
			// Only this holder writes its token, so the lock changed hands
			// (or went) between the read and the swap.
			return lockLost("renew", m.key, "the lock changed hands")
		case m.b.retry(err):
			continue // read again: whether the swap was made, the token decides
		}
		return m.b.fail(ctx, "renew", m.key, err)
	}
	return m.b.fail(ctx, "renew", m.key, errors.New("the connection broke twice"))
}

// SetFenced stores value under key if this holder holds key's lock, so that
// a holder that lost its lock never overwrites the value of a later holder
// (see the package documentation for the argument). It reads the value's
// item with its CAS id, then the lock; if the lock holds this holder's token,
// it writes the value by cas against that CAS id (add when there was none),
// which fails if anyone wrote the value since the read. A holder that finds
// its lock gone or another's stores nothing and returns an error matching
// lock.ErrLockLost. A value changed between the read and the write by a
// writer that is not the holder (a late holder that had lost the lock to
// this one, or a plain Set) is read again, and overwritten.
func (m *mutex) SetFenced(ctx context.Context, key string, value []byte) error {
	if key != m.key {
		return fmt.Errorf("memcached: a fenced write of %s through the lock of %s", quoteKey(key), quoteKey(m.key))
	}
	if err := m.b.checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcached: fenced set %s: %w", quoteKey(key), err)
	}
	token := m.held()
	if token == nil {
		return lockLost("fenced set", key, "the lock is not held")
	}
	for range fenceAttempts {
		cur, err := m.b.get(key)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			cur = nil
		case err != nil:
			return m.b.fail(ctx, "set", key, err)
		}
		lk, err := m.b.get(m.lockKey)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			return lockLost("fenced set", key, "the lock is gone (expired, evicted, or lost with a restart of its server); the value is not stored")
		case err != nil:
			return m.b.fail(ctx, "set", key, err)
		case !holds(lk, token):
			return lockLost("fenced set", key, "another holder has the lock; the value is not stored")
		}
		if cur == nil {
			err = m.b.client.Add(&memcache.Item{Key: key, Value: value, Expiration: m.b.expiration()})
		} else {
			cur.Value, cur.Expiration = value, m.b.expiration()
			err = m.b.client.CompareAndSwap(cur)
		}
		switch {
		case err == nil:
			return nil
		case notSwapped(err), m.b.retry(err):
			continue // written since the read (perhaps by us, over a broken connection): read again
		}
		return m.b.fail(ctx, "set", key, tooLarge(err, key, len(value)))
	}
	return lockLost("fenced set", key, fmt.Sprintf("the value changed under %d attempts to write it; it is not stored", fenceAttempts))
}

// Unlock releases the lock if this value holds it, and only then.
//
// Memcached's text protocol has no compare-and-delete, and a plain get,
// compare, delete could delete another holder's lock if ours expired between
// the get and the delete. So the lock is not deleted: Unlock reads it with
// its CAS id and, if it holds this holder's token, swaps it by cas (which
// fails if the lock changed hands since the read) for the released marker,
// which the next holder takes over by cas as it would add a missing lock.
// Every step compares before it writes, so no release can end another
// holder's lock.
func (m *mutex) Unlock(ctx context.Context) error {
	token := m.held()
	if token == nil {
		return nil
	}
	m.setHeld(nil)
	if err := ctx.Err(); err != nil {
		return err
	}
	it, err := m.b.get(m.lockKey)
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil // expired
	case err != nil:
		return m.b.fail(ctx, "unlock", m.key, err)
	case !holds(it, token):
		return nil // expired, and taken by another holder: theirs now
	}
	it.Value, it.Expiration = releasedValue, releasedExpiry
	err = m.b.client.CompareAndSwap(it)
	if m.b.retry(err) {
		// A cas is safe to send again: it can only succeed if the item is
		// still the one read, i.e. if the first one was not made.
		err = m.b.client.CompareAndSwap(it)
	}
	if err == nil || notSwapped(err) { // not swapped: changed hands since the read
		return nil
	}
	return m.b.fail(ctx, "unlock", m.key, err)
}
