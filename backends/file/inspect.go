package file

import (
	"context"
	"iter"
	"os"

	"github.com/dogpile-go/dogpile/backend"
)

var (
	_ backend.Lister        = (*Backend)(nil)
	_ backend.StatsReporter = (*Backend)(nil)
)

// ListKeys lists the keys in key order (bytewise) with one indexed query,
// read as it goes (backend.Lister). Entries past the TTL, which reads already
// treat as missing, are left out. The file holds no keys of the backend's
// own: its locks are in the lock file.
func (b *Backend) ListKeys(ctx context.Context, opts backend.ListOptions) iter.Seq2[string, error] {
	keys := func(yield func(string, error) bool) {
		limit := -1 // SQLite: no limit
		if opts.Limit > 0 {
			limit = opts.Limit
		}
		q, args := `SELECT key FROM cache WHERE key >= ? AND written >= ? ORDER BY key LIMIT ?`, []any{opts.Prefix, b.cutoff(), limit}
		if end, ok := prefixEnd(opts.Prefix); ok {
			q, args = `SELECT key FROM cache WHERE key >= ? AND key < ? AND written >= ? ORDER BY key LIMIT ?`, []any{opts.Prefix, end, b.cutoff(), limit}
		}
		rows, err := b.rdb.QueryContext(ctx, q, args...)
		if err != nil {
			yield("", b.fail("list keys", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				yield("", b.fail("list keys", err))
				return
			}
			if !yield(k, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield("", b.fail("list keys", err))
		}
	}
	return backend.FilterKeys(keys, opts, nil)
}

// prefixEnd returns the smallest string greater than every string that
// begins with prefix, if there is one (there is none for "" or a prefix of
// 0xff bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// StoreStats reports the entries of the file and the bytes of their keys and
// values, what MaxSize bounds (backend.StatsReporter); beside them, the
// file's size on disk and the cleanup's bounds. The file counts no hits or
// misses.
func (b *Backend) StoreStats(ctx context.Context) ([]backend.Stats, error) {
	st := backend.NewStats("file " + b.opts.Filename)
	s, err := b.Stats(ctx)
	if err != nil {
		return nil, err
	}
	st.Entries, st.Bytes = s.Entries, s.Bytes
	if fi, err := os.Stat(b.opts.Filename); err == nil {
		st.Extra = append(st.Extra, backend.Stat{Name: "file_size", Value: fi.Size()})
	}
	st.Extra = append(st.Extra,
		backend.Stat{Name: "max_size", Value: b.opts.MaxSize},
		backend.Stat{Name: "max_age", Value: b.opts.TTL})
	return []backend.Stats{st}, nil
}
