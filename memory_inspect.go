package dogpile

import (
	"context"
	"iter"

	"github.com/dogpile-go/dogpile/backend"
)

var (
	_ backend.Lister        = (*MemoryBackend)(nil)
	_ backend.StatsReporter = (*MemoryBackend)(nil)
	_ backend.Lister        = serializedMemory{}
	_ backend.StatsReporter = serializedMemory{}
)

// all yields every entry, as the map or cache beneath gives them.
func (b *MemoryBackend) all() iter.Seq2[string, any] {
	if b.bounded != nil {
		return b.bounded.All()
	}
	return b.m.All()
}

// ListKeys yields the keys held (backend.Lister), in no particular order.
func (b *MemoryBackend) ListKeys(ctx context.Context, opts backend.ListOptions) iter.Seq2[string, error] {
	keys := func(yield func(string, error) bool) {
		for k := range b.all() {
			if err := ctx.Err(); err != nil {
				yield("", err)
				return
			}
			if !yield(k, nil) {
				return
			}
		}
	}
	return backend.FilterKeys(keys, opts, nil)
}

// StoreStats reports the number of entries (backend.StatsReporter), and for
// entries held as bytes (memory_serialized) the bytes of their keys and
// values. A bound on the entries is reported as max_entries.
func (b *MemoryBackend) StoreStats(ctx context.Context) ([]backend.Stats, error) {
	st := backend.NewStats("process memory")
	st.Entries = int64(b.Len())
	var size int64
	for k, v := range b.all() {
		bs, ok := v.([]byte)
		if !ok {
			size = backend.Unknown // Go values: their size is not known
			break
		}
		size += int64(len(k) + len(bs))
	}
	st.Bytes = size
	if b.bounded != nil {
		st.Extra = append(st.Extra, backend.Stat{Name: "max_entries", Value: int64(b.bounded.GetMaximum())})
	}
	return []backend.Stats{st}, ctx.Err()
}

// ListKeys yields the keys held (backend.Lister), in no particular order.
func (s serializedMemory) ListKeys(ctx context.Context, opts backend.ListOptions) iter.Seq2[string, error] {
	return s.m.ListKeys(ctx, opts)
}

// StoreStats reports the number of entries and their bytes
// (backend.StatsReporter).
func (s serializedMemory) StoreStats(ctx context.Context) ([]backend.Stats, error) {
	return s.m.StoreStats(ctx)
}
