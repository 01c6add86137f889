package dogpile

import "github.com/dogpile-go/dogpile/backend"

// Backend is a store of byte values by key: what a backend implements (see
// package backend, which also has the optional upgrades a region uses when a
// backend has them: many keys in one round trip, a distributed mutex, Go
// values held as they are).
type Backend = backend.Backend

// Proxy wraps a backend to observe or change its calls (Python dogpile.cache's
// ProxyBackend). See [WithWrap].
type Proxy func(next Backend) Backend
