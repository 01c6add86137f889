package dogpile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/dogpile-go/dogpile/internal/suggest"
)

// Factory makes a backend from its arguments. It must not modify args.
type Factory func(args Args) (Backend, error)

var registry = struct {
	sync.RWMutex
	factories map[string]Factory
}{factories: map[string]Factory{}}

// aliases maps Python dogpile.cache's dotted names (and its older names) to
// ours, so that a configuration written for it carries over. Valkey speaks
// the Redis protocol: its names are the redis backends'.
var aliases = map[string]string{
	"dogpile.cache.memory":          "memory",
	"dogpile.cache.memory_pickle":   "memory_serialized",
	"memory_pickle":                 "memory_serialized",
	"dogpile.cache.null":            "null",
	"dogpile.cache.dbm":             "file",
	"dbm":                           "file",
	"dogpile.cache.redis":           "redis",
	"dogpile.cache.redis_sentinel":  "redis_sentinel",
	"dogpile.cache.redis_cluster":   "redis_cluster",
	"dogpile.cache.valkey":          "redis",
	"dogpile.cache.valkey_sentinel": "redis_sentinel",
	"dogpile.cache.valkey_cluster":  "redis_cluster",
	"valkey":                        "redis",
	"valkey_sentinel":               "redis_sentinel",
	"valkey_cluster":                "redis_cluster",
	"dogpile.cache.memcached":       "memcached",
	"dogpile.cache.pylibmc":         "memcached",
	"dogpile.cache.bmemcached":      "memcached",
	"dogpile.cache.pymemcache":      "memcached",
	"dogpile.cache.memcache":        "memcached",
}

// providers names the package that registers each of this project's backends,
// for the error that suggests the missing import.
var providers = map[string]string{
	"redis":          "github.com/dogpile-go/dogpile/backends/redis",
	"redis_sentinel": "github.com/dogpile-go/dogpile/backends/redis",
	"redis_cluster":  "github.com/dogpile-go/dogpile/backends/redis",
	"memcached":      "github.com/dogpile-go/dogpile/backends/memcached",
	"file":           "github.com/dogpile-go/dogpile/backends/file",
}

// RegisterBackend makes a backend available by name to [Region.Configure] and
// configuration files, as database/sql's Register does for drivers. A backend
// package calls it from its init function. Registering a name twice, or a
// name that is one of the aliases of Python dogpile.cache's names, is an
// error.
func RegisterBackend(name string, factory Factory) error {
	if name == "" || factory == nil {
		return &ArgError{Name: "name", Value: name, Reason: "RegisterBackend needs a name and a factory"}
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.factories[name]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateBackend, name)
	}
	if target, ok := aliases[name]; ok {
		return fmt.Errorf("%w: %q is an alias of %q", ErrDuplicateBackend, name, target)
	}
	registry.factories[name] = factory
	return nil
}

// mustRegister is RegisterBackend for this module's own backends, whose names
// cannot clash.
func mustRegister(name string, f Factory) {
	if err := RegisterBackend(name, f); err != nil {
		panic(err)
	}
}

// Backends returns the registered backend names, sorted.
func Backends() []string {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Sorted(maps.Keys(registry.factories))
}

// lookupBackend finds the factory for name or an alias of it.
func lookupBackend(name string) (Factory, string, error) {
	canonical := name
	if target, ok := aliases[name]; ok {
		canonical = target
	}
	registry.RLock()
	f, ok := registry.factories[canonical]
	registry.RUnlock()
	if ok {
		return f, canonical, nil
	}
	if pkg, known := providers[canonical]; known {
		return nil, "", fmt.Errorf("%w %q: import _ %q to register it", ErrUnknownBackend, name, pkg)
	}
	known := Backends()
	if s, ok := suggest.Closest(name, append(slices.Collect(maps.Keys(providers)), known...)); ok {
		if !slices.Contains(known, s) {
			return nil, "", fmt.Errorf("%w %q; did you mean %q? (import _ %q to register it)", ErrUnknownBackend, name, s, providers[s])
		}
		return nil, "", fmt.Errorf("%w %q; did you mean %q? (registered: %s)", ErrUnknownBackend, name, s, strings.Join(known, ", "))
	}
	return nil, "", fmt.Errorf("%w %q (registered: %s); a third-party backend must be imported so that its package registers it",
		ErrUnknownBackend, name, strings.Join(known, ", "))
}

// NewBackend makes a backend by registered name (or alias) from args, as
// Configure does.
func NewBackend(name string, args Args) (Backend, error) {
	f, _, err := lookupBackend(name)
	if err != nil {
		return nil, err
	}
	return f(args.clone())
}
