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

// providers names the package that registers each of this project's codecs
// that live in packages of their own, for the error that suggests the import.
var providers = map[string]string{
	"msgpack": "github.com/dogpile-go/dogpile/codec/msgpack",
}

var registry = struct {
	sync.RWMutex
	codecs map[string]Codec
}{codecs: map[string]Codec{Default.Name(): Default, JSON.Name(): JSON}}

// Register makes c available by its name to configuration files (the codec
// setting) and to Lookup. A codec package calls it from its init function,
// as codec/msgpack does; Default and JSON are registered by this package.
// Registering a name twice is an error.
func Register(c Codec) error {
	if c == nil || c.Name() == "" || len(c.Name()) > 255 {
		return fmt.Errorf("codec: Register needs a codec with a name of 1 to 255 bytes")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.codecs[c.Name()]; dup {
		return fmt.Errorf("codec: %q is already registered", c.Name())
	}
	registry.codecs[c.Name()] = c
	return nil
}

// Lookup returns the codec registered under name. For a name no codec has,
// the error matches ErrUnknown and says which package to import for this
// project's codecs, or lists the registered ones.
func Lookup(name string) (Codec, error) {
	registry.RLock()
	c, ok := registry.codecs[name]
	registry.RUnlock()
	if ok {
		return c, nil
	}
	if pkg, known := providers[name]; known {
		return nil, fmt.Errorf("%w %q: import _ %q to register it", ErrUnknown, name, pkg)
	}
	return nil, fmt.Errorf("%w %q (registered: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
}

// Names returns the names of the registered codecs, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Sorted(maps.Keys(registry.codecs))
}
