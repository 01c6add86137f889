package memcached

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/lock"
)

// Errors of this backend, wrapped with detail; test for them with errors.Is.
var (
	// ErrInvalidKey: the key is longer than Memcached's 250 bytes, holds a
	// space or control character, or begins with the backend's lock prefix
	// (lock_prefix).
	// A region on this backend hashes such keys (Backend.KeyMangler) unless
	// it is given a key mangler of its own, so a region sees this error only
	// with WithKeyMangler(nil), or a mangler that makes such keys. It
	// matches dogpile.ErrInvalidArgument too.
	ErrInvalidKey = fmt.Errorf("%w: memcached key", dogpile.ErrInvalidArgument)
	// ErrValueTooLarge: the server refused the value as larger than its
	// item size limit (memcached -I, 1 MiB by default). Nothing is stored
	// under the key: memcached also drops the value it held before. It
	// matches dogpile.ErrInvalidArgument too, and the backend's error for
	// the refusal matches dogpile.ErrValueRefused.
	ErrValueTooLarge = fmt.Errorf("%w: memcached value too large", dogpile.ErrInvalidArgument)
	// ErrServerDown: the key's server refused a connection a moment ago and
	// is skipped for its dead_retry time (see ServerDownError).
	ErrServerDown = errors.New("memcached: server down")
)

// ServerDownError says which server is skipped, and until when.
// It matches ErrServerDown.
type ServerDownError struct {
	Addr  string    // the server's address, host:port or a socket path
	Until time.Time // zero: no dead_retry, the next call tries again
	Err   error     // the connection error, if this call saw it
}

func (e *ServerDownError) Error() string {
	msg := "memcached: server " + e.Addr + " is down"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if !e.Until.IsZero() {
		msg += fmt.Sprintf(" (its keys fail without trying it until %s)", e.Until.Format("15:04:05.000"))
	}
	return msg
}

// Unwrap returns the connection error.
func (e *ServerDownError) Unwrap() error { return e.Err }

// Is reports true for ErrServerDown.
func (e *ServerDownError) Is(target error) bool { return target == ErrServerDown }

// serverError is a call that failed on a server or on the way to it. It
// matches dogpile.ErrBackend, so that a caller of the backend alone can tell
// it from a bad argument; it is not a *dogpile.BackendError, which the
// region builds itself (with the operation and the key) and counts in
// Stats.BackendErrors — a BackendError handed to it would be taken for one it
// had already counted.
type serverError struct{ err error }

func (e *serverError) Error() string {
	if msg := e.err.Error(); strings.HasPrefix(msg, "memcache") { // gomemcache's "memcache:" or this package's "memcached:"
		return msg
	}
	return "memcached: " + e.err.Error()
}

// Unwrap returns the client's error.
func (e *serverError) Unwrap() error { return e.err }

// Is reports true for dogpile.ErrBackend.
func (e *serverError) Is(target error) bool { return target == dogpile.ErrBackend }

// lockLost returns the error of a holder that found its lock gone: it
// matches lock.ErrLockLost.
func lockLost(op, key, why string) error {
	return fmt.Errorf("memcached: %s %s: %w: %s", op, quoteKey(key), lock.ErrLockLost, why)
}

// MaxKeyLen is Memcached's limit on the length of a key, in bytes.
const MaxKeyLen = 250

// checkKey returns an error matching ErrInvalidKey if memcached would refuse
// key, or if it is in the namespace of the backend's locks. Checked here,
// before a call, so that the error names the key and the fix.
func (b *Backend) checkKey(key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, b.lockPrefix) {
		return &KeyError{Key: key, Reason: fmt.Sprintf("keys beginning with %q are reserved for the backend's locks (lock_prefix)", b.lockPrefix)}
	}
	return nil
}

// validKey returns an error matching ErrInvalidKey if memcached would refuse
// key.
func validKey(key string) error {
	if len(key) > MaxKeyLen {
		return &KeyError{Key: key, Reason: fmt.Sprintf("%d bytes, over Memcached's %d-byte limit", len(key), MaxKeyLen), Fix: hashFix}
	}
	if key == "" {
		return &KeyError{Reason: "the empty key"}
	}
	if i := badKeyByte(key); i >= 0 {
		return &KeyError{Key: key, Reason: fmt.Sprintf("byte %d is %q; Memcached keys can hold no spaces or control characters", i, key[i]), Fix: hashFix}
	}
	return nil
}

// hashFix is the fix for a key that is too long or holds a byte Memcached
// refuses: its hash is a valid key.
const hashFix = "hash such keys with dogpile.SHA1Mangler (the key mangler a region on this backend has by default)"

// KeyError is the error for a key Memcached would refuse, or one in the
// namespace of the backend's locks; the backend returns it before making
// the call. It matches ErrInvalidKey, and so dogpile.ErrInvalidArgument.
//
// Its text is ErrInvalidKey's, the key (quoted, its first 64 bytes when it
// is longer), the reason and, last, after "; ", the fix: a program that
// shows the error to people who cannot follow advice meant for Go
// programmers (a command-line tool, say) can leave it out with
// strings.TrimSuffix(err.Error(), "; "+e.Fix), or write its own.
type KeyError struct {
	Key    string // the key as the backend was given it
	Reason string // what is wrong with it, as "251 bytes, over Memcached's 250-byte limit"
	Fix    string // what a Go program can do about it, or ""
}

func (e *KeyError) Error() string {
	msg := ErrInvalidKey.Error()
	if e.Key == "" {
		msg += ": " + e.Reason
	} else {
		msg += " " + quoteKey(e.Key) + ": " + e.Reason
	}
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// Unwrap returns ErrInvalidKey.
func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// badKeyByte returns the index of key's first space or control character,
// which Memcached keys can't hold, or -1.
func badKeyByte(key string) int {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c == 0x7f {
			return i
		}
	}
	return -1
}

// acceptsKey reports whether checkKey accepts key, without the error's
// words: the key mangler asks it on every key.
func (b *Backend) acceptsKey(key string) bool {
	return key != "" && len(key) <= MaxKeyLen && badKeyByte(key) < 0 && !strings.HasPrefix(key, b.lockPrefix)
}

// quoteKey quotes key for an error message, cut short if it is long.
func quoteKey(key string) string {
	if len(key) > 64 {
		return fmt.Sprintf("%q…", key[:64])
	}
	return fmt.Sprintf("%q", key)
}
