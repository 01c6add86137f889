// Package backend is what a dogpile backend implements, as
// database/sql/driver is what a database driver implements: the one
// interface every backend has ([Backend]: get, set, delete of bytes by key)
// and the optional ones a region upgrades to when a backend has them, the
// io.WriterTo way — many keys in one round trip ([Multi]), a mutex shared by
// every process using the store ([Locking]), Go values held as they are
// ([Values]), decoded values kept beside their bytes ([Keeping]), values
// that never change once returned ([Immutable]).
//
// Users of a cache need none of this: they configure a region with a backend
// by name (dogpile.Region.Configure) or hand it an instance
// (dogpile.Region.ConfigureBackend). dogpile.Backend is this package's
// Backend.
//
// A backend author implements Backend and whichever upgrades the store can do
// well, registers a factory with dogpile.RegisterBackend from the package's
// init function, and runs the conformance suite (package dogpiletest)
// against real servers.
package backend

import (
	"context"
	"log/slog"

	"github.com/dogpile-go/dogpile/lock"
)

// Backend is a store of byte values by key: the whole of what a backend must
// do. A region owns encoding, metadata, expiry and locking; a backend only
// stores what it is given, under the key exactly as given (no hidden prefix).
//
// A backend may implement io.Closer; dogpile.Region.Close calls it.
// Implementations must be safe for concurrent use.
type Backend interface {
	// Get returns the value stored under key. ok is false when there is none;
	// that is not an error. The caller must not modify value: a backend may
	// return memory it keeps (the memory backend's stored bytes) or a
	// client's reply buffer without copying it.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key, replacing any other. The backend may keep
	// value; the region does not modify it afterwards.
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Multi is implemented by backends that read, write and delete many keys in
// one round trip (MGET, pipelines, get-multi). Without it a region loops over
// Get, Set and Delete.
type Multi interface {
	Backend
	// GetMulti returns one value per key, in the order of keys, nil where a
	// key has no value. As with Get, the caller must not modify the values.
	// They may share memory (one reply buffer), so that one kept keeps the
	// others' bytes too: a caller that keeps values beyond the call, such as
	// a local tier, copies them.
	GetMulti(ctx context.Context, keys []string) ([][]byte, error)
	// SetMulti stores every item.
	SetMulti(ctx context.Context, items map[string][]byte) error
	// DeleteMulti removes every key; missing keys are not an error.
	DeleteMulti(ctx context.Context, keys []string) error
}

// Immutable is implemented by backends whose values stay as they are once
// returned: nothing writes to a value that Get or GetMulti returned, or
// reuses its memory for another, and each value has memory of its own
// rather than being a window onto a larger buffer that holds other values.
// A client's fresh reply qualifies (go-redis's reply strings, gomemcache's
// items, database/sql's scanned bytes); a buffer the backend reads the next
// reply into does not. On such a backend a region with the default codec
// decodes a string value without copying it — the string points into the
// value's bytes — so that a hit allocates once less.
type Immutable interface {
	Backend
	// ValuesImmutable reports whether the values are immutable as above
	// (asked once, when the region is configured); a wrapper, see the
	// function ValuesImmutable.
	ValuesImmutable() bool
}

// ValuesImmutable reports whether b's values are immutable: whether it
// implements Immutable and says so. A wrapper that passes its inner
// backend's values through unchanged reports this of the inner backend.
func ValuesImmutable(b Backend) bool {
	im, ok := b.(Immutable)
	return ok && im.ValuesImmutable()
}

// Locking is implemented by backends that provide a mutex shared by every
// process using the store (Python dogpile.cache's get_mutex), so that one
// creator runs per key across processes. Without it a region elects one
// creator per process.
//
// The mutex for a key must not collide with the value stored under the same
// key: a backend keeps its locks apart (another key namespace, or another
// file).
type Locking interface {
	Backend
	// Mutex returns a would-be holder of key's mutex, or nil if the store
	// has none (a proxy over a backend without a mutex returns nil): the
	// region then elects one creator per process.
	Mutex(key string) lock.Mutex
}

// KeyMangler is implemented by backends whose store limits what a key may
// be (Memcached: 250 bytes, no spaces or control characters): a region
// configured on the backend without WithKeyMangler passes every key
// through the function it returns (Python dogpile.cache's backend
// key_mangler). The function is asked for once, when the region is
// configured; it must be deterministic, so that every process maps a key
// alike. A mangler that leaves the keys the store accepts as they are keeps
// them readable in the store.
type KeyMangler interface {
	Backend
	// KeyMangler returns the function that makes a key the store accepts.
	KeyMangler() func(key string) string
}

// Values is implemented by in-process backends that can hold Go values as
// they are, without encoding: a hit then costs a map lookup and allocates
// nothing. The region stores its own entry type; a Values backend must hand
// back exactly what it was given.
type Values interface {
	Backend
	// GetValue returns the value stored by SetValue under key.
	GetValue(ctx context.Context, key string) (value any, ok bool, err error)
	// SetValue stores value under key.
	SetValue(ctx context.Context, key string, value any) error
}

// Keeping is implemented by backends that hold bytes in process memory, such
// as a local tier in front of a remote store (package tiered): the region
// hands the backend the value it decoded from an entry to keep beside the
// entry, and takes it back on the next hit on the same bytes instead of
// decoding them again. A hit then costs about what it costs on a Values
// backend, and, as there, callers share the value: they must not modify it.
// A region reads its shared invalidation record apart from the value on such
// a backend, which is in memory.
type Keeping interface {
	Backend
	// KeepsDecoded reports whether the backend keeps decoded values (asked
	// once, when the region is configured); when false the region decodes
	// every hit, as on any byte backend.
	KeepsDecoded() bool
	// GetKept is Get that also returns what Keep kept with the very bytes
	// returned: nil if nothing was kept, or if the entry changed since.
	GetKept(ctx context.Context, key string) (value []byte, kept any, ok bool, err error)
	// Keep keeps kept with key's entry if the entry still holds value (the
	// bytes GetKept returned, not a copy); otherwise it does nothing.
	Keep(key string, value []byte, kept any)
}

// LoggerSetter is implemented by backends that log, or whose client
// library does (go-redis): a region configured on such a backend gives it
// the region's logger (dogpile.WithLogger; slog.Default() otherwise), so
// that its lines go where the region's do. A backend given a logger of its
// own keeps it. A backend shared by several regions has the logger of the
// last one configured with it.
type LoggerSetter interface {
	Backend
	// SetLogger sets the logger the backend logs to, unless it has one of
	// its own.
	SetLogger(l *slog.Logger)
}
