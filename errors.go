package dogpile

import (
	"errors"
	"fmt"

	"github.com/dogpile-go/dogpile/lock"
)

// Errors returned by regions and the registry. They are wrapped with detail;
// test for them with errors.Is.
var (
	// ErrNotConfigured: the region has no backend yet.
	ErrNotConfigured = errors.New("dogpile: region is not configured")
	// ErrAlreadyConfigured: Configure was called on a configured region
	// without WithReplaceBackend.
	ErrAlreadyConfigured = errors.New("dogpile: region is already configured (use WithReplaceBackend to replace its backend)")
	// ErrUnknownBackend: no backend is registered under the name.
	ErrUnknownBackend = errors.New("dogpile: unknown backend")
	// ErrDuplicateBackend: RegisterBackend was called twice for one name.
	ErrDuplicateBackend = errors.New("dogpile: backend already registered")
	// ErrInvalidArgument: a configuration value or argument is wrong.
	ErrInvalidArgument = errors.New("dogpile: invalid argument")
	// ErrBackend marks every error that comes from a backend (see
	// BackendError).
	ErrBackend = errors.New("dogpile: backend error")
	// ErrCreatorPanicked is matched by the error waiters get when the creator
	// they waited for panicked (a *PanicError).
	ErrCreatorPanicked = lock.ErrPanicked
	// ErrReservedKey is matched by the error for a key that begins with
	// ReservedKeyPrefix, or that the region's key mangler turns into one of
	// the library's own keys: every call refuses it rather than let it
	// overwrite, or read, the library's records. It also matches
	// ErrInvalidArgument.
	ErrReservedKey = fmt.Errorf("%w: reserved key", ErrInvalidArgument)
)

// reservedKey is the error for the user's key that would land on a
// reserved one.
func reservedKey(key string) error {
	return fmt.Errorf("%w: key %q: keys beginning with %q are the library's own", ErrReservedKey, key, ReservedKeyPrefix)
}

// PanicError is what waiters get when the creator panicked, and the value the
// caller that ran the creator panics with. errors.Is(err, ErrCreatorPanicked)
// reports true for it.
type PanicError = lock.PanicError

// BackendError is an error from a backend, with the operation and key.
// It matches ErrBackend and unwraps to the backend's own error.
type BackendError struct {
	Backend string // the backend's registered name, or its Go type
	Op      string // "get", "set", "delete", "get_multi", …
	Key     string // the (mangled) key, or the first key of a multi-key call
	Err     error  // the backend's own error

	counted bool // in the region's Stats.BackendErrors already
}

func (e *BackendError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("dogpile: %s backend: %s: %v", e.Backend, e.Op, e.Err)
	}
	return fmt.Sprintf("dogpile: %s backend: %s %q: %v", e.Backend, e.Op, e.Key, e.Err)
}

// Unwrap returns the backend's own error.
func (e *BackendError) Unwrap() error { return e.Err }

// Is reports true for ErrBackend.
func (e *BackendError) Is(target error) bool { return target == ErrBackend }
