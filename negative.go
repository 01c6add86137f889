package dogpile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrNotFound is the creator's way to say that what it was asked for does
// not exist — a user that was deleted, a page that 404s — so that the answer
// is cached as well as a value would be (negative caching). A creator
// returns it, or an error wrapping it:
//
//	user, err := dogpile.GetOrCreate(ctx, users, "user:42", func(ctx context.Context) (*User, error) {
//		u, err := db.User(ctx, 42)
//		if errors.Is(err, sql.ErrNoRows) {
//			return nil, dogpile.ErrNotFound
//		}
//		return u, err
//	})
//	if errors.Is(err, dogpile.ErrNotFound) { … }
//
// The region stores a negative entry — on the memory backend a marker, on
// a byte backend an entry with a flag and no payload — and every caller
// until it expires gets a *NotFoundError (matching ErrNotFound) without the
// creator running: a thousand calls for a missing user cost one query. The
// entry expires after the call's NegativeExpiration, or the region's
// WithNegativeExpiration, or else as a value would; the creator can set it
// with SetExpiration, or keep the answer from being cached with DontCache.
// Negative entries are invalidated, deleted and replaced like any other;
// ShouldCache is not asked about them. They count as EventNegativeHit when
// read.
//
// Get and GetWithMetadata report a negative entry as not ok with a
// *NotFoundError, so that a caller can tell "known not to exist" from "not
// cached"; GetMulti leaves its key out, as it does a miss. A multi-key
// creator (GetOrCreateMulti, CachedMulti) says which of its keys were not
// found with NotFoundAt; returning ErrNotFound itself says it of all of them.
var ErrNotFound = errors.New("dogpile: not found")

// NotFoundError is what callers get for keys whose creator said they do not
// exist (see ErrNotFound), from the cache or from the creation itself. It
// matches ErrNotFound.
//
// GetOrCreateMulti and CachedMultiFunc.Call return one, listing every key
// not found, together with the values of the other keys (the zero value
// at the keys it lists); CachedMultiFunc.CallMap leaves those arguments out
// of its map and returns no error for them.
type NotFoundError struct {
	// Keys are the keys not found, as the caller gave them (for a cached
	// function, the keys of its arguments, see CachedFunc.Key), in the
	// order of the call.
	Keys []string
}

func (e *NotFoundError) Error() string {
	if len(e.Keys) == 1 {
		return fmt.Sprintf("dogpile: not found: key %q", e.Keys[0])
	}
	q := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return fmt.Sprintf("dogpile: not found: keys %s", strings.Join(q, ", "))
}

// Is reports true for ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// keys returns e's keys; none for a nil e.
func (e *NotFoundError) keys() []string {
	if e == nil {
		return nil
	}
	return e.Keys
}

// notFound is the error for key's cached or created "not found".
func notFound(key string) error { return &NotFoundError{Keys: []string{key}} }

// NotFoundAt is how a multi-key creator (of GetOrCreateMulti or CachedMulti)
// says that the values at some positions of the keys (or arguments) it was
// given do not exist: it returns its values, with anything at those
// positions, and NotFoundAt of them. The others are values like any other;
// those are cached as "not found" (see ErrNotFound). With no positions it
// returns nil, so a batch loader can end with
//
//	return users, dogpile.NotFoundAt(missing...)
func NotFoundAt(positions ...int) error {
	if len(positions) == 0 {
		return nil
	}
	return &notFoundAt{at: slices.Clone(positions)}
}

// notFoundAt is NotFoundAt's error: it matches ErrNotFound.
type notFoundAt struct{ at []int }

func (e *notFoundAt) Error() string {
	return fmt.Sprintf("dogpile: not found: values at positions %v", e.at)
}

func (e *notFoundAt) Is(target error) bool { return target == ErrNotFound }

// notFoundOf reads a multi-key creator's error: which of its n values were
// not found (nil: none), or the error, if it is a failure.
func notFoundOf(err error, n int) ([]bool, error) {
	if err == nil {
		return nil, nil
	}
	var at *notFoundAt
	if errors.As(err, &at) {
		nf := make([]bool, n)
		for _, i := range at.at {
			if i < 0 || i >= n {
				return nil, fmt.Errorf("dogpile: NotFoundAt(%d) for a creation of %d values", i, n)
			}
			nf[i] = true
		}
		return nf, nil
	}
	if errors.Is(err, ErrNotFound) {
		nf := make([]bool, n)
		for i := range nf {
			nf[i] = true
		}
		return nf, nil
	}
	return nil, err
}

// WithNegativeExpiration sets how long a cached "not found" answer (see
// ErrNotFound) lasts: d after the creator gave it, or never with
// NoExpiration. Zero (the default) leaves negative entries to expire as
// values do. The call option NegativeExpiration overrides it, and a
// creator's SetExpiration overrides both.
func WithNegativeExpiration(d time.Duration) RegionOption {
	return func(r *Region) { r.negExpiration = d }
}

// NegativeExpiration sets how long a "not found" answer created by this
// call lasts (see WithNegativeExpiration). It is stored with the entry:
// a later call reading it needs no option. Zero means as if not given.
func NegativeExpiration(d time.Duration) Option { return Option{negExpiration: d} }
