package file

import (
	"context"
	"database/sql"
)

// wrote counts a write toward the next cleanup and runs the cleanup when one
// is due: after cleanupEvery writes, or after max_size/8 bytes written, by
// this Backend. The writer that crosses the line pays for it, so the bound
// holds without a background goroutine. A failed cleanup (another process
// kept the file busy) is left to the next one.
func (b *Backend) wrote(ctx context.Context, n, bytes int64) {
	if b.opts.MaxSize == 0 && b.opts.TTL == 0 {
		return
	}
	writes, total := b.writes.Add(n), b.written.Add(bytes)
	if writes < cleanupEvery && (b.opts.MaxSize == 0 || total < b.opts.MaxSize/8) {
		return
	}
	if !b.cleaning.CompareAndSwap(false, true) {
		return // another goroutine is cleaning up
	}
	defer b.cleaning.Store(false)
	b.writes.Store(0)
	b.written.Store(0)
	b.Cleanup(ctx) //nolint:errcheck // best effort, see above
}

// Cleanup applies TTL and MaxSize now, in one write transaction: it
// removes entries written longer than TTL ago, then, if the entries total
// more than MaxSize bytes, the least recently written ones until they total
// at most 7/8 of MaxSize (so that the next few writes need no eviction).
// Freed pages beyond a reserve of MaxSize/4 (1 MiB without MaxSize) are given
// back to the file system. Writes call it as needed; call it yourself to trim
// a store on demand. It does nothing without MaxSize or TTL.
func (b *Backend) Cleanup(ctx context.Context) error {
	if b.opts.MaxSize == 0 && b.opts.TTL == 0 {
		return nil
	}
	removed, err := b.evict(ctx)
	if err != nil {
		return b.fail("cleanup", err)
	}
	if removed > 0 {
		if err := b.vacuum(ctx); err != nil {
			return b.fail("cleanup", err)
		}
	}
	return nil
}

func (b *Backend) evict(ctx context.Context) (removed int64, err error) {
	tx, err := b.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if b.opts.TTL > 0 {
		res, err := tx.ExecContext(ctx, `DELETE FROM cache WHERE written < ?`, b.cutoff())
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	if b.opts.MaxSize > 0 {
		var total int64
		// Reads only the (written, size) index, not the values.
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM cache`).Scan(&total); err != nil {
			return 0, err
		}
		if total > b.opts.MaxSize {
			excess := total - (b.opts.MaxSize - b.opts.MaxSize/8)
			cut, err := b.evictionCutoff(ctx, tx, excess)
			if err != nil {
				return 0, err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM cache WHERE written <= ?`, cut)
			if err != nil {
				return 0, err
			}
			n, _ := res.RowsAffected()
			removed += n
		}
	}
	return removed, tx.Commit()
}

// evictionCutoff returns the write time up to which the oldest entries hold
// at least excess bytes.
func (b *Backend) evictionCutoff(ctx context.Context, tx *sql.Tx, excess int64) (int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT written, size FROM cache ORDER BY written`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var cut, freed int64
	for freed < excess && rows.Next() {
		var size int64
		if err := rows.Scan(&cut, &size); err != nil {
			return 0, err
		}
		freed += size
	}
	return cut, rows.Err()
}

// vacuum returns free pages beyond the reserve to the file system, so that
// the file shrinks after an eviction instead of only ceasing to grow.
func (b *Backend) vacuum(ctx context.Context) error {
	var free, pageSize int64
	if err := b.wdb.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return err
	}
	if err := b.wdb.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return err
	}
	reserve := int64(1 << 20)
	if b.opts.MaxSize > 0 {
		reserve = b.opts.MaxSize / 4
	}
	if extra := free - reserve/pageSize; extra > 0 {
		// incremental_vacuum returns a row per page freed; read them all so
		// that it runs to the end.
		rows, err := b.wdb.QueryContext(ctx, `PRAGMA incremental_vacuum(`+itoa(extra)+`)`)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
		return err
	}
	return nil
}

// Stats describe what a store holds.
type Stats struct {
	Entries int64 // number of entries
	Bytes   int64 // total length of their keys and values: what MaxSize bounds
}

// Stats counts the entries in the store (all of them, including any past
// TTL that no cleanup has removed yet).
func (b *Backend) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := b.rdb.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM cache`).Scan(&s.Entries, &s.Bytes)
	if err != nil {
		return Stats{}, b.fail("stats", err)
	}
	return s, nil
}
