package memcached

import (
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// LockPrefix begins the key of every lock. Locks live in the same key space
// as values (Memcached has only one), so the backend refuses value keys that
// begin with it (ErrInvalidKey): a lock and a value can never share a key.
//
// The lock of key is LockPrefix, then the 8 hexadecimal digits of the hash
// that places key on a server, then "." and key itself when that fits in 250
// bytes, or "#" and the SHA-1 of key when it does not. The selector places a
// lock by the hash it carries, so a lock lives on its value's server: a dead
// server takes only its own keys' locks with it.
const LockPrefix = "dogpile:lock:"

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
	if len(LockPrefix)+len(hx)+1+len(key) <= MaxKeyLen {
		return LockPrefix + string(hx[:]) + "." + key
	}
	sum := sha1.Sum([]byte(key))
	return LockPrefix + string(hx[:]) + "#" + hex.EncodeToString(sum[:])
}

// lockKeyHash returns the placement hash carried by a lock key.
func lockKeyHash(key string) (uint32, bool) {
	const n = len(LockPrefix)
	if len(key) < n+9 || key[:n] != LockPrefix {
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

// releasedValue replaces a lock's token while its owner deletes it.
var releasedValue = []byte("released")

// mutex is one would-be holder of a key's lock: an item added with "add"
// (which fails if the key exists) holding this holder's token, expiring after
// the lock timeout so that a crashed holder's lock ends.
type mutex struct {
	b       *Backend
	key     string
	lockKey string
	token   []byte // set while this value holds the lock
}

func (m *mutex) item(token []byte) *memcache.Item {
	return &memcache.Item{Key: m.lockKey, Value: token, Expiration: m.b.lockExpire}
}

// TryLock takes the lock if it is free.
func (m *mutex) TryLock(ctx context.Context) (bool, error) {
	if err := checkKey(m.key); err != nil {
		return false, err // no value can be stored under key either
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	token := newToken()
	err := m.b.client.Add(m.item(token))
	if m.b.retry(err) {
		// The add may or may not have reached the server before the
		// connection broke; add again, and if the lock is taken, see whether
		// it is by this very token.
		if err = m.b.client.Add(m.item(token)); errors.Is(err, memcache.ErrNotStored) {
			if it, gerr := m.b.client.Get(m.lockKey); gerr == nil && string(it.Value) == string(token) {
				err = nil
			}
		}
	}
	switch {
	case err == nil:
		m.token = token
		return true, nil
	case errors.Is(err, memcache.ErrNotStored):
		return false, nil
	}
	return false, m.b.fail(ctx, "lock", m.key, err)
}

// Lock waits until it takes the lock or ctx ends. It polls, as Memcached
// cannot notify: pauses start at a millisecond and double up to LockPoll,
// with jitter so that processes waiting together do not retry in step.
func (m *mutex) Lock(ctx context.Context) error {
	pause := time.Millisecond
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
		wait := pause + rand.N(pause/2+1)
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
		pause = min(2*pause, m.b.lockPoll)
	}
}

// Unlock releases the lock if this value holds it, and only then.
//
// Memcached has no compare-and-delete in its text protocol, and a plain get,
// compare, delete could delete another holder's lock if ours expired between
// the get and the delete. So: get the lock with its CAS id; if it holds our
// token, compare-and-swap it to a "released" marker (this fails if the item
// changed since the get, i.e. if another holder took the lock after ours
// expired); then delete the marker. The one race left is the marker expiring
// (after the full lock timeout) between the swap and the delete, and another
// process taking the lock in that instant; the delete would then remove its
// lock. A delete delayed by the whole lock timeout is not a case worth more
// round trips. (The meta protocol's "md <key> C<cas>" would close it, but
// gomemcache does not speak it.)
func (m *mutex) Unlock(ctx context.Context) error {
	token := m.token
	if token == nil {
		return nil
	}
	m.token = nil
	if err := ctx.Err(); err != nil {
		return err
	}
	it, err := m.b.client.Get(m.lockKey)
	if m.b.retry(err) {
		it, err = m.b.client.Get(m.lockKey)
	}
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil // expired
	case err != nil:
		return m.b.fail(ctx, "unlock", m.key, err)
	case string(it.Value) != string(token):
		return nil // expired, and taken by another holder: theirs now
	}
	it.Value = releasedValue
	it.Expiration = m.b.lockExpire
	err = m.b.client.CompareAndSwap(it)
	switch {
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return nil // changed hands since the get
	case err != nil:
		return m.b.fail(ctx, "unlock", m.key, err)
	}
	err = m.b.client.Delete(m.lockKey)
	if m.b.retry(err) {
		err = m.b.client.Delete(m.lockKey)
	}
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		// The marker blocks the key until it expires, as a lost release would.
		return m.b.fail(ctx, "unlock", m.key, err)
	}
	return nil
}
