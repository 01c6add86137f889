package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// LockKeyPrefix begins the Redis key of every distributed lock: the lock of
// the value key K is LockKeyPrefix + K.
//
// The prefix begins with the byte 0xFF, which never occurs in UTF-8 text, so
// no text key — everything the region's key generators and manglers produce —
// can be a lock key; and the backend refuses any key that begins with the
// prefix (ErrReservedKey), so not even a binary key can reach a lock. A hash
// tag in K ("user:{42}:name") is kept, so in a Cluster a key's lock lives on
// the key's own slot whenever the key has a tag.
const LockKeyPrefix = "\xffdogpile:lock:"

// LockKey returns the Redis key of the distributed lock of the value key.
func LockKey(key string) string { return LockKeyPrefix + key }

// unlockScript deletes the lock only if it still holds the caller's token:
// a holder whose lock expired and was taken by another must not release the
// other's lock. GET and DEL in one script are atomic on the server.
var unlockScript = goredis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// tokenPrefix makes a holder's token say who holds a lock (host and process)
// to whoever looks at it with redis-cli; the random part makes it unique.
var tokenPrefix = func() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid()) + ":"
}()

// Mutex is one would-be holder of a key's distributed lock: SET lock token
// NX PX lock_timeout to take it, a compare-and-delete script to release it.
// A lock whose holder dies expires after lock_timeout. A Mutex is used by one
// goroutine at a time; make one per holder with Backend.NewMutex.
type Mutex struct {
	b     *Backend
	key   string // the lock's Redis key
	token string // set while this holder holds the lock
}

// NewMutex returns a would-be holder of the distributed lock of the value
// key, usable without a region.
func (b *Backend) NewMutex(key string) *Mutex { return &Mutex{b: b, key: LockKey(key)} }

// Key returns the lock's Redis key.
func (m *Mutex) Key() string { return m.key }

// TryLock takes the lock if it is free and reports whether it did.
func (m *Mutex) TryLock(ctx context.Context) (bool, error) {
	var rnd [12]byte
	rand.Read(rnd[:]) //nolint:errcheck // crypto/rand.Read does not fail
	token := tokenPrefix + hex.EncodeToString(rnd[:])
	ok, err := m.b.client.SetNX(ctx, m.key, token, m.b.lockTimeout).Result()
	if err != nil {
		return false, fmt.Errorf("dogpile/redis: take lock %q: %w", m.key, m.b.wrap(err))
	}
	if ok {
		m.token = token
	}
	return ok, nil
}

// Lock waits until it holds the lock, trying every lock_sleep, for as long
// as ctx allows (and lock_blocking_timeout, if set).
func (m *Mutex) Lock(ctx context.Context) error {
	var giveUp <-chan time.Time
	if m.b.lockWait > 0 {
		t := time.NewTimer(m.b.lockWait)
		defer t.Stop()
		giveUp = t.C
	}
	var sleep *time.Timer
	for {
		ok, err := m.TryLock(ctx)
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("dogpile/redis: waiting for lock %q: %w", m.key, ctx.Err())
		}
		if err != nil {
			return err
		}
		if sleep == nil {
			sleep = time.NewTimer(m.b.lockSleep)
			defer sleep.Stop()
		} else {
			sleep.Reset(m.b.lockSleep)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dogpile/redis: waiting for lock %q: %w", m.key, ctx.Err())
		case <-giveUp:
			return fmt.Errorf("%w %q after lock_blocking_timeout %v", ErrLockWait, m.key, m.b.lockWait)
		case <-sleep.C:
		}
	}
}

// Unlock releases the lock if this holder still holds it. A holder whose
// lock has expired (and may now be another's) releases nothing.
func (m *Mutex) Unlock(ctx context.Context) error {
	if m.token == "" {
		return nil
	}
	token := m.token
	m.token = ""
	if err := unlockScript.Run(ctx, m.b.client, []string{m.key}, token).Err(); err != nil {
		return fmt.Errorf("dogpile/redis: release lock %q: %w", m.key, m.b.wrap(err))
	}
	return nil
}
