package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpile-go/dogpile/lock"
)

// DefaultLockPrefix is the default beginning of the Redis key of every
// distributed lock (Options.LockPrefix, lock_prefix, sets another).
//
// It begins with the byte 0xFF, which never occurs in UTF-8 text, so no text
// key — everything the region's key generators and manglers produce — can be
// a lock key; and the backend refuses any value key that begins with the lock
// prefix (ErrReservedKey), so not even a binary key can reach a lock.
const DefaultLockPrefix = "\xffdogpile:lock:"

// LockKey returns the Redis key of the distributed lock of the value key,
// with the default prefix: DefaultLockPrefix + "{" + tag + "}" + key.
//
// The tag puts the lock in the value's Redis Cluster hash slot, so that one
// script can check the lock and write the value (a fenced write): it is the
// key's own hash tag when it has one ("user:{42}:name" → "42"), otherwise
// the key itself ("user:42" → "\xffdogpile:lock:{user:42}user:42"). A key
// without a tag that contains "}" (or the empty key) can't be its own tag and
// gets a short one that hashes to the same slot. The lock keys of two value
// keys never coincide.
func LockKey(key string) string { return lockKey(DefaultLockPrefix, key) }

func lockKey(prefix, key string) string {
	return prefix + "{" + lockTag(key) + "}" + key
}

// The lock's scripts. Each runs atomically on the server; in a Cluster each
// touches keys of one slot only (the lock's, which is its value's).
var (
	// unlockScript deletes the lock only if it still holds the caller's
	// token — a holder whose lock expired and was taken by another must not
	// release the other's — and then tells the waiters on the lock's
	// channel. PUBLISH goes through pcall: a user whose ACL forbids the
	// channel still releases (its waiters fall back to polling).
	unlockScript = goredis.NewScript(`
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("DEL", KEYS[1])
redis.pcall("PUBLISH", KEYS[1], "")
return 1`)

	// renewScript extends the lock to a new lifetime only while it holds the
	// holder's token.
	renewScript = goredis.NewScript(`
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call("PEXPIRE", KEYS[1], ARGV[2])`)

	// fencedSetScript writes the value (KEYS[1]) only while the lock
	// (KEYS[2]) holds the holder's token, with the server-side TTL in
	// milliseconds (0: none). The value key comes first, so that a client
	// that routes a script by its first key sends it to the value's server.
	fencedSetScript = goredis.NewScript(`
if redis.call("GET", KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[3] == "0" then
  redis.call("SET", KEYS[1], ARGV[2])
else
  redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
end
return 1`)
)

// tokenPrefix makes a holder's token say who holds a lock (host and process)
// to whoever looks at it with redis-cli; the random part makes it unique.
var tokenPrefix = func() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid()) + ":"
}()

// Mutex is one would-be holder of a key's distributed lock: SET lock token
// NX PX lock_timeout to take it, a compare-and-delete script to release it.
// It is a lease (lock.Lease): the region renews it every lock_timeout/3
// while the creation runs, so a lock outlives a slow creator but not a dead
// one; and it fences writes (backend.Fenced): a value is written only while
// the lock still holds this holder's token.
//
// Lock, TryLock and Unlock are for one goroutine at a time; Renew and
// SetFenced may run concurrently with them and with each other. Make one
// Mutex per holder with Backend.NewMutex (which works whether or not
// Options.DistributedLock is set) or Backend.Mutex.
type Mutex struct {
	b       *Backend
	key     string // the value key
	lockKey string // the lock's Redis key

	mu    sync.Mutex
	token string // set while this holder holds the lock
}

// NewMutex returns a would-be holder of the distributed lock of the value
// key, usable without a region.
func (b *Backend) NewMutex(key string) *Mutex {
	return &Mutex{b: b, key: key, lockKey: lockKey(b.lockPrefix, key)}
}

// LockKey returns the Redis key of the value key's distributed lock, with
// the backend's lock prefix (see the package function LockKey).
func (b *Backend) LockKey(key string) string { return lockKey(b.lockPrefix, key) }

// LockPrefix returns the prefix of the backend's lock keys (lock_prefix, or
// DefaultLockPrefix): tools that list keys leave out the ones that begin with it.
func (b *Backend) LockPrefix() string { return b.lockPrefix }

// Key returns the lock's Redis key.
func (m *Mutex) Key() string { return m.lockKey }

func (m *Mutex) heldToken() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token
}

// TryLock takes the lock if it is free and reports whether it did.
func (m *Mutex) TryLock(ctx context.Context) (bool, error) {
	var rnd [12]byte
	rand.Read(rnd[:]) //nolint:errcheck // crypto/rand.Read does not fail
	token := tokenPrefix + hex.EncodeToString(rnd[:])
	ok, err := m.b.client.SetNX(ctx, m.lockKey, token, m.b.lockTimeout).Result()
	if err != nil {
		return false, fmt.Errorf("dogpile/redis: take lock %q: %w", m.lockKey, m.b.wrap(err))
	}
	if ok {
		m.mu.Lock()
		m.token = token
		m.mu.Unlock()
	}
	return ok, nil
}

// Lock waits until it holds the lock, for as long as ctx allows (and
// lock_blocking_timeout, if set). A waiter is woken when the holder releases
// the lock (through the backend's one subscription to the lock's channel),
// and tries again every lock_sleep as well, for a release it did not hear of
// (a lost subscription, a holder that died and whose lock expired).
func (m *Mutex) Lock(ctx context.Context) error {
	_, err := m.wait(ctx, false)
	return err
}

// LockOrWait takes the lock if it is free (true); otherwise it waits for the
// holder's release (the pub/sub message, or lock_sleep as the fallback) and
// returns false without taking it, so that the caller can read the value the
// holder stored (a lock.Waiter).
func (m *Mutex) LockOrWait(ctx context.Context) (bool, error) { return m.wait(ctx, true) }

// wait takes the lock, waiting for releases; with once it returns (false)
// after the first wait instead of trying again.
func (m *Mutex) wait(ctx context.Context, once bool) (bool, error) {
	var giveUp <-chan time.Time
	if m.b.lockWait > 0 {
		t := time.NewTimer(m.b.lockWait)
		defer t.Stop()
		giveUp = t.C
	}
	var (
		sleep *time.Timer
		w     *waiter
		heard bool // the subscription is confirmed: a wake is a release
	)
	for {
		ok, err := m.TryLock(ctx)
		if ok {
			return true, nil
		}
		if ctx.Err() != nil {
			return false, fmt.Errorf("dogpile/redis: waiting for lock %q: %w", m.lockKey, ctx.Err())
		}
		if err != nil {
			return false, err
		}
		if w == nil {
			// Listen before the next attempt: a release between the first
			// attempt and the subscription is caught by the attempt that
			// follows the subscription's confirmation (which wakes us), or
			// at once when the channel was already subscribed.
			w, heard = m.b.waker.add(m.lockKey)
			defer m.b.waker.remove(w)
			if heard {
				continue
			}
		}
		if sleep == nil {
			sleep = time.NewTimer(m.b.lockSleep)
			defer sleep.Stop()
		} else {
			sleep.Reset(m.b.lockSleep)
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("dogpile/redis: waiting for lock %q: %w", m.lockKey, ctx.Err())
		case <-giveUp:
			return false, fmt.Errorf("%w %q after lock_blocking_timeout %v", ErrLockWait, m.lockKey, m.b.lockWait)
		case <-w.wake:
			if once && heard {
				return false, nil
			}
			heard = true // the confirmation: try again, then wait for a release
		case <-sleep.C:
			if once {
				return false, nil
			}
		}
	}
}

// Unlock releases the lock if this holder still holds it, and wakes the
// processes waiting for it. A holder whose lock has expired (and may now be
// another's) releases nothing.
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	token := m.token
	m.token = ""
	m.mu.Unlock()
	if token == "" {
		return nil
	}
	if err := unlockScript.Run(ctx, m.b.client, []string{m.lockKey}, token).Err(); err != nil {
		return fmt.Errorf("dogpile/redis: release lock %q: %w", m.lockKey, m.b.wrap(err))
	}
	return nil
}

// TTL returns lock_timeout: how long the lock lives after it was taken or
// last renewed (lock.Lease).
func (m *Mutex) TTL() time.Duration { return m.b.lockTimeout }

// Renew gives the lock a whole lock_timeout again if this holder still holds
// it (lock.Lease). When it does not — the lock expired, was taken by
// another, or was lost when the server restarted or failed over — the error
// matches lock.ErrLockLost; any other error is a failure to reach the server.
func (m *Mutex) Renew(ctx context.Context) error {
	token := m.heldToken()
	if token == "" {
		return fmt.Errorf("%w: lock %q is not held by this holder", lock.ErrLockLost, m.lockKey)
	}
	n, err := renewScript.Run(ctx, m.b.client, []string{m.lockKey}, token, m.b.lockTimeout.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("dogpile/redis: renew lock %q: %w", m.lockKey, m.b.wrap(err))
	}
	if n != 1 {
		return fmt.Errorf("%w: lock %q is no longer this holder's", lock.ErrLockLost, m.lockKey)
	}
	return nil
}

// SetFenced stores value under key, as Backend.Set does, if this holder
// still holds the lock — checked and written in one script on the server —
// and otherwise writes nothing and returns an error matching
// lock.ErrLockLost (backend.Fenced). In a Cluster, key must be in the
// lock's slot: the mutex's own key always is.
func (m *Mutex) SetFenced(ctx context.Context, key string, value []byte) error {
	if err := m.b.checkKey(key); err != nil {
		return err
	}
	token := m.heldToken()
	if token == "" {
		return fmt.Errorf("%w: fenced write of %q: lock %q is not held by this holder", lock.ErrLockLost, key, m.lockKey)
	}
	if m.b.cluster != nil && Slot(key) != Slot(m.lockKey) {
		return fmt.Errorf("dogpile/redis: fenced write of %q under the lock of %q: the keys are in different cluster slots", key, m.key)
	}
	n, err := fencedSetScript.Run(ctx, m.b.client, []string{key, m.lockKey}, token, value, m.b.ttl.Milliseconds()).Int()
	if err != nil {
		return m.b.wrap(err)
	}
	if n != 1 {
		return fmt.Errorf("%w: fenced write of %q refused: lock %q is no longer this holder's", lock.ErrLockLost, key, m.lockKey)
	}
	return nil
}

// Locked reports whether anyone — this holder or another, in any process —
// holds the lock now, by reading its key (a lock.Prober, for a region's
// KeyIsLocked). The answer may be out of date as soon as it is returned.
func (m *Mutex) Locked(ctx context.Context) (bool, error) {
	n, err := m.b.client.Exists(ctx, m.lockKey).Result()
	if err != nil {
		return false, fmt.Errorf("dogpile/redis: probe lock %q: %w", m.lockKey, m.b.wrap(err))
	}
	return n == 1, nil
}
