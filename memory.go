package dogpile

import (
	"bytes"
	"context"

	"github.com/maypok86/otter/v2"
	"github.com/puzpuzpuz/xsync/v4"

	"github.com/dogpile-go/dogpile/backend"
)

var (
	_ backend.Swapper = (*MemoryBackend)(nil)
	_ backend.Swapper = serializedMemory{}
)

// The in-process backends that the root package registers: memory,
// memory_serialized and null.
func init() {
	mustRegister("memory", func(a Args) (Backend, error) { return newMemoryFromArgs(a, false) })
	mustRegister("memory_serialized", func(a Args) (Backend, error) { return newMemoryFromArgs(a, true) })
	mustRegister("null", func(a Args) (Backend, error) {
		if err := a.Known(); err != nil {
			return nil, err
		}
		return NullBackend{}, nil
	})
}

// MemoryOptions configure a memory backend.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries; 0 means unbounded. A bounded
	// backend evicts with W-TinyLFU (github.com/maypok86/otter/v2), which keeps
	// the entries most likely to be asked for again.
	MaxEntries int
}

// MemoryBackend keeps entries in process memory: it is the "memory" backend.
// It holds Go values as they are: a hit returns the very value that was
// stored and allocates nothing, so callers must not mutate what they get.
// The "memory_serialized" backend (NewSerializedMemoryBackend) is built on
// one but is another type, which holds encoded bytes.
type MemoryBackend struct {
	m       *xsync.Map[string, any] // unbounded: lock-free reads, typed string keys
	bounded *otter.Cache[string, any]
}

// NewMemoryBackend returns a memory backend.
func NewMemoryBackend(opts MemoryOptions) (*MemoryBackend, error) {
	b := &MemoryBackend{}
	if opts.MaxEntries == 0 {
		b.m = xsync.NewMap[string, any]()
	}
	if opts.MaxEntries < 0 {
		return nil, &ArgError{Name: "max_entries", Value: opts.MaxEntries, Reason: "must not be negative"}
	}
	if opts.MaxEntries > 0 {
		c, err := otter.New(&otter.Options[string, any]{MaximumSize: opts.MaxEntries})
		if err != nil {
			return nil, &ArgError{Name: "max_entries", Value: opts.MaxEntries, Reason: err.Error()}
		}
		b.bounded = c
	}
	return b, nil
}

// NewSerializedMemoryBackend returns a memory_serialized backend: it holds
// encoded bytes rather than Go values, so callers can't mutate a cached value
// through the value they stored or got, at the cost of encoding.
func NewSerializedMemoryBackend(opts MemoryOptions) (Backend, error) {
	b, err := NewMemoryBackend(opts)
	if err != nil {
		return nil, err
	}
	return serializedMemory{b}, nil
}

func newMemoryFromArgs(a Args, serialized bool) (Backend, error) {
	if err := a.Known("max_entries"); err != nil {
		return nil, err
	}
	n, err := a.Int("max_entries", 0)
	if err != nil {
		return nil, err
	}
	if serialized {
		return NewSerializedMemoryBackend(MemoryOptions{MaxEntries: n})
	}
	return NewMemoryBackend(MemoryOptions{MaxEntries: n})
}

func (b *MemoryBackend) load(key string) (any, bool) {
	if b.bounded != nil {
		return b.bounded.GetIfPresent(key)
	}
	return b.m.Load(key)
}

func (b *MemoryBackend) put(key string, v any) {
	if b.bounded != nil {
		b.bounded.Set(key, v)
		return
	}
	b.m.Store(key, v)
}

// Get returns the bytes stored under key.
func (b *MemoryBackend) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := b.load(key)
	if !ok {
		return nil, false, nil
	}
	bs, ok := v.([]byte)
	return bs, ok, nil
}

// Set stores value under key.
func (b *MemoryBackend) Set(_ context.Context, key string, value []byte) error {
	b.put(key, value)
	return nil
}

// Delete removes key.
func (b *MemoryBackend) Delete(_ context.Context, key string) error {
	if b.bounded != nil {
		b.bounded.Invalidate(key)
	} else {
		b.m.Delete(key)
	}
	return nil
}

// CompareAndSwap stores new under key if key holds the bytes old — or holds
// nothing, when old is nil — atomically, and reports whether it did
// (backend.Swapper).
func (b *MemoryBackend) CompareAndSwap(_ context.Context, key string, old, new []byte) (bool, error) {
	match := func(cur any, found bool) bool {
		if old == nil {
			return !found
		}
		bs, ok := cur.([]byte)
		return found && ok && bytes.Equal(bs, old)
	}
	swapped := false
	if b.bounded != nil {
		b.bounded.Compute(key, func(cur any, found bool) (any, otter.ComputeOp) {
			if !match(cur, found) {
				return cur, otter.CancelOp
			}
			swapped = true
			return new, otter.WriteOp
		})
		return swapped, nil
	}
	b.m.Compute(key, func(cur any, found bool) (any, xsync.ComputeOp) {
		if !match(cur, found) {
			return cur, xsync.CancelOp
		}
		swapped = true
		return new, xsync.UpdateOp
	})
	return swapped, nil
}

// GetValue returns the Go value stored under key.
func (b *MemoryBackend) GetValue(_ context.Context, key string) (any, bool, error) {
	v, ok := b.load(key)
	return v, ok, nil
}

// SetValue stores a Go value under key.
func (b *MemoryBackend) SetValue(_ context.Context, key string, value any) error {
	b.put(key, value)
	return nil
}

// Len returns the number of entries (an estimate when bounded).
func (b *MemoryBackend) Len() int {
	if b.bounded != nil {
		return b.bounded.EstimatedSize()
	}
	return b.m.Size()
}

// Close stops the bounded cache's background work.
func (b *MemoryBackend) Close() error {
	if b.bounded != nil {
		b.bounded.StopAllGoroutines()
	}
	return nil
}

// serializedMemory is the memory_serialized backend: a MemoryBackend seen
// only through the byte interface, so the region encodes every value.
type serializedMemory struct{ m *MemoryBackend }

func (s serializedMemory) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return s.m.Get(ctx, key)
}
func (s serializedMemory) Set(ctx context.Context, key string, v []byte) error {
	return s.m.Set(ctx, key, v)
}
func (s serializedMemory) Delete(ctx context.Context, key string) error { return s.m.Delete(ctx, key) }
func (s serializedMemory) Close() error                                 { return s.m.Close() }
func (s serializedMemory) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	return s.m.CompareAndSwap(ctx, key, old, new)
}

// ValuesImmutable reports true (backend.Immutable): a value is the bytes a
// Set stored, which are replaced, never written to.
func (s serializedMemory) ValuesImmutable() bool { return true }

// NullBackend stores nothing: every get misses and every set is dropped. It
// switches caching off from configuration.
type NullBackend struct{}

// Get always misses.
func (NullBackend) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

// Set drops the value.
func (NullBackend) Set(context.Context, string, []byte) error { return nil }

// Delete does nothing.
func (NullBackend) Delete(context.Context, string) error { return nil }
