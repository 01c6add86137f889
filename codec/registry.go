package codec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// ErrUnknown is returned by Lookup for a name no codec is registered under.
var ErrUnknown = errors.New("codec: unknown codec")

// ErrDuplicate is returned by Register and RegisterCompression for a name
// already registered.
var ErrDuplicate = errors.New("codec: already registered")

// providers names the package that registers each of this project's codecs
// that live in packages of their own, for the error that suggests the import.
var providers = map[string]string{
	"msgpack": "github.com/dogpile-go/dogpile/codec/msgpack",
	"s2":      "github.com/dogpile-go/dogpile/codec/compress",
	"zstd":    "github.com/dogpile-go/dogpile/codec/compress",
}

// table is a registry of named things, safe for concurrent use.
type table[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// add registers v under name, unless the name is taken.
func (t *table[T]) add(name string, v T) (added bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.m[name]; dup {
		return false
	}
	t.m[name] = v
	return true
}

// get returns what is registered under name.
func (t *table[T]) get(name string) (v T, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok = t.m[name]
	return v, ok
}

// names returns the registered names, sorted.
func (t *table[T]) names() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Sorted(maps.Keys(t.m))
}

// lookup returns what is registered under name. Its error for a name
// nothing has matches ErrUnknown and says which package to import, for this
// project's own names (providers), or lists the registered names; kind is
// what the table holds, for the error.
func (t *table[T]) lookup(kind, name string) (T, error) {
	if v, ok := t.get(name); ok {
		return v, nil
	}
	var zero T
	if pkg, known := providers[name]; known {
		return zero, fmt.Errorf("%w %q: import _ %q to register it", unknown(kind), name, pkg)
	}
	registered := strings.Join(t.names(), ", ")
	if registered == "" {
		registered = "none"
	}
	return zero, fmt.Errorf("%w %q (registered: %s)", unknown(kind), name, registered)
}

// unknown is ErrUnknown said of a kind of registered thing ("codec: unknown
// compression"): errors.Is matches it with ErrUnknown.
type unknown string

func (k unknown) Error() string        { return "codec: unknown " + string(k) }
func (k unknown) Is(target error) bool { return target == ErrUnknown }

var (
	codecs       = table[Codec]{m: map[string]Codec{Default.Name(): Default, JSON.Name(): JSON}}
	compressions = table[Compression]{m: map[string]Compression{}}
)

// Register makes c available by its name to configuration files (the codec
// setting) and to Lookup. A codec package calls it from its init function,
// as codec/msgpack does; Default and JSON are registered by this package.
// Registering a name twice is an error.
func Register(c Codec) error {
	if c == nil || c.Name() == "" || len(c.Name()) > 255 {
		return fmt.Errorf("codec: Register needs a codec with a name of 1 to 255 bytes")
	}
	if !codecs.add(c.Name(), c) {
		return fmt.Errorf("%w: %q", ErrDuplicate, c.Name())
	}
	return nil
}

// Lookup returns the codec registered under name. For a name no codec has,
// the error matches ErrUnknown and says which package to import for this
// project's codecs, or lists the registered ones.
func Lookup(name string) (Codec, error) {
	return codecs.lookup("codec", name)
}

// Names returns the names of the registered codecs, sorted.
func Names() []string {
	return codecs.names()
}

// Compression makes a codec that compresses what inner encodes when the
// encoding is at least minBytes long (minBytes 0: the compression's
// default threshold). Packages of compression codecs register one per
// algorithm with RegisterCompression, so that configuration files can name
// it (the compress setting), as codec/compress does for "s2" and "zstd".
type Compression func(inner Codec, minBytes int) (Codec, error)

// RegisterCompression makes c available under name (an algorithm, such as
// "s2") to configuration files and to LookupCompression. A compression
// package calls it from its init function. Registering a name twice is an
// error.
func RegisterCompression(name string, c Compression) error {
	if c == nil || name == "" {
		return fmt.Errorf("codec: RegisterCompression needs a name and a function")
	}
	if !compressions.add(name, c) {
		return fmt.Errorf("%w: compression %q", ErrDuplicate, name)
	}
	return nil
}

// LookupCompression returns the compression registered under name. For a
// name none has, the error matches ErrUnknown and says which package to
// import for this project's compressions, or lists the registered ones.
func LookupCompression(name string) (Compression, error) {
	return compressions.lookup("compression", name)
}
