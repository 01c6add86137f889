package file

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/lock"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

func init() {
	if err := dogpile.RegisterBackend("file", fromArgs); err != nil {
		panic(err)
	}
}

const (
	// appID marks an SQLite file as a dogpile cache ("dpgo"), so that New
	// refuses to take over some other application's database.
	appID = 0x6470676f
	// formatVersion is the schema version, kept in PRAGMA user_version.
	formatVersion = 1

	defaultBusyTimeout = 5 * time.Second
	// cleanupEvery is how many writes through one Backend may pass between
	// two cleanups when max_size or max_age is set.
	cleanupEvery = 256
	// walLimit bounds the write-ahead log kept on disk between checkpoints
	// (PRAGMA journal_size_limit).
	walLimit = 4 << 20
	// multiChunk is how many keys one GetMulti/DeleteMulti statement takes,
	// well under SQLite's smallest limit on bound parameters (999).
	multiChunk = 500
	// multiCached: GetMulti keeps its statements prepared for up to this many
	// keys; preparing costs more than running a small one.
	multiCached = 64
)

// Options configure a file backend. The zero value of every field but
// Filename is a sensible default.
type Options struct {
	// Filename is the path of the cache file (filename), by any spelling:
	// the backend opens it by its real name (see the package documentation).
	// Its directory is created if missing. Beside it SQLite keeps
	// Filename+"-wal" and Filename+"-shm" while the store is open.
	Filename string

	// DistributedLock gives the backend its cross-process mutex
	// (distributed_lock), a byte-range lock in the lock file, which a
	// region takes before it creates a value, so that one creator runs per
	// key across every process using the cache file. Without it, Mutex
	// returns nil and, as with the other backends without their distributed
	// lock, a region elects one creator per key in each process. (The
	// registered "file" backend has it on by default, as Python's dbm
	// backend has.)
	DistributedLock bool
	// LockFile is the path of the dogpile lock file (dogpile_lockfile),
	// which holds one byte-range lock per key; by default the cache file's
	// path with ".dogpile.lock" added. Every process sharing the cache must
	// use the same lock file. Only with DistributedLock.
	LockFile string

	// MaxSize bounds the bytes of keys and values kept in the store
	// (max_size); 0 means no bound. Past it, the least recently written
	// entries are removed. See the package documentation for how tight the
	// bound is.
	MaxSize int64
	// TTL is how long an entry is kept after it was last written
	// (max_age); 0 means for ever. Older entries read as misses and are
	// removed by the next cleanup. It is store-side retention, separate from
	// (and usually longer than) a region's expiration time, as the other
	// backends' server-side TTL is.
	TTL time.Duration

	// BusyTimeout is how long a write waits for another process's write to
	// finish before failing (busy_timeout); 0 means 5 seconds.
	BusyTimeout time.Duration
}

// Backend is a cache in one SQLite file on local disk, shared safely by the
// goroutines of a process and by several processes on the host. It
// implements dogpile.Backend, backend.Multi, backend.Locking (its mutexes
// are backend.Fenced; nil unless Options.DistributedLock is set),
// backend.Swapper and io.Closer. Make one with [New] or
// by the name "file" (alias "dbm", "dogpile.cache.dbm").
type Backend struct {
	opts Options          // with defaults filled in and paths absolute
	now  func() time.Time // time.Now, but for tests

	rdb *sql.DB // readers: WAL lets them run beside a writer
	wdb *sql.DB // the one writer connection of this process
	get *sql.Stmt
	set *sql.Stmt
	del *sql.Stmt
	// CompareAndSwap's statements: insert if absent, replace if unchanged.
	casAbsent *sql.Stmt
	casSame   *sql.Stmt

	multiMu  sync.Mutex
	getMulti map[int]*sql.Stmt // GetMulti's statement by number of keys, up to multiCached

	locks *lockFile // nil without DistributedLock

	// Write accounting for the next cleanup (only with MaxSize or TTL).
	writes   atomic.Int64
	written  atomic.Int64
	cleaning atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

var (
	_ backend.Multi     = (*Backend)(nil)
	_ backend.Locking   = (*Backend)(nil)
	_ backend.Swapper   = (*Backend)(nil)
	_ backend.Immutable = (*Backend)(nil)
)

// DefaultPath returns the per-user cache file that the command-line tool uses
// when it is given no configuration: dogpile/cache.db in os.UserCacheDir (on
// Linux $XDG_CACHE_HOME or ~/.cache). New creates the directories it needs
// there with mode 0700.
func DefaultPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("file: no per-user cache directory: %w", err)
	}
	return filepath.Join(dir, "dogpile", "cache.db"), nil
}

// New opens (creating if needed) the cache file opts.Filename. It fails if
// the file is not a dogpile cache (another SQLite database, or not SQLite),
// with a *dogpile.ArgError for filename that wraps SQLite's error, or if it
// has more than one hard link.
func New(opts Options) (*Backend, error) {
	if opts.Filename == "" {
		return nil, &dogpile.ArgError{Name: "filename", Reason: "required: the path of the cache file"}
	}
	if opts.MaxSize < 0 {
		return nil, &dogpile.ArgError{Name: "max_size", Value: opts.MaxSize, Reason: "must not be negative"}
	}
	if opts.TTL < 0 {
		return nil, &dogpile.ArgError{Name: "max_age", Value: opts.TTL, Reason: "must not be negative"}
	}
	if opts.BusyTimeout < 0 {
		return nil, &dogpile.ArgError{Name: "busy_timeout", Value: opts.BusyTimeout, Reason: "must not be negative"}
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = defaultBusyTimeout
	}
	// The file's one name, so that every spelling of it shares one
	// write-ahead log and one lock file (see realPath).
	name, err := realPath(opts.Filename)
	if err != nil {
		return nil, fmt.Errorf("file: the cache file %s: %w", opts.Filename, err)
	}
	opts.Filename = name
	if opts.DistributedLock {
		if !fileLocksSupported {
			return nil, &dogpile.ArgError{Name: "distributed_lock", Reason: "this OS has no byte-range file locks that this backend can use; set distributed_lock=false (Options.DistributedLock)"}
		}
		lockName := name + ".dogpile.lock"
		if opts.LockFile != "" {
			if lockName, err = realPath(opts.LockFile); err != nil {
				return nil, fmt.Errorf("file: the dogpile lock file %s: %w", opts.LockFile, err)
			}
		}
		opts.LockFile = lockName
	}
	if err := createFile(name); err != nil {
		return nil, err
	}

	b := &Backend{opts: opts, now: time.Now}
	if err := b.open(); err != nil {
		b.Close() //nolint:errcheck // the open error says more
		return nil, err
	}
	if opts.MaxSize > 0 || opts.TTL > 0 {
		// Whatever another process left past the bounds goes now; a failure
		// (another writer holding the file too long) is retried later.
		ctx, cancel := context.WithTimeout(context.Background(), opts.BusyTimeout)
		b.Cleanup(ctx) //nolint:errcheck // best effort, see above
		cancel()
	}
	return b, nil
}

// dsn is the database/sql name of the file with the per-connection settings.
// The "file:" URI form keeps any character of the path literal.
func (b *Backend) dsn(write bool) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(b.opts.Filename)}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // Windows drive letters
	}
	q := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(b.opts.BusyTimeout.Milliseconds(), 10) + ")",
		// NORMAL is safe in WAL mode: a crash of the process loses nothing
		// committed, and a crash of the OS or power loss may roll back the
		// last transactions but never corrupts the file. FULL would add an
		// fsync to every write, which a cache does not need.
		"_pragma=synchronous(NORMAL)",
		"_pragma=journal_size_limit(" + strconv.Itoa(walLimit) + ")",
	}
	if write {
		// Write transactions take SQLite's write lock at BEGIN, so they wait
		// in busy_timeout rather than fail when upgrading from a read.
		q = append(q, "_txlock=immediate")
	}
	return u.String() + "?" + strings.Join(q, "&")
}

func (b *Backend) open() error {
	var err error
	if b.wdb, err = sql.Open("sqlite", b.dsn(true)); err != nil {
		return b.fail("open", err)
	}
	// One writer connection per process: writers here queue in database/sql
	// (honouring their contexts) instead of spinning on SQLite's file lock.
	b.wdb.SetMaxOpenConns(1)
	b.wdb.SetMaxIdleConns(1)
	if b.rdb, err = sql.Open("sqlite", b.dsn(false)); err != nil {
		return b.fail("open", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	b.rdb.SetMaxOpenConns(n)
	b.rdb.SetMaxIdleConns(n)

	ctx, cancel := context.WithTimeout(context.Background(), 2*b.opts.BusyTimeout)
	defer cancel()
	if err := b.initSchema(ctx); err != nil {
		return err
	}
	if b.get, err = b.rdb.PrepareContext(ctx, `SELECT value FROM cache WHERE key = ? AND written >= ?`); err != nil {
		return b.fail("open", err)
	}
	if b.set, err = b.wdb.PrepareContext(ctx, `INSERT INTO cache (key, written, size, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET written = excluded.written, size = excluded.size, value = excluded.value`); err != nil {
		return b.fail("open", err)
	}
	if b.del, err = b.wdb.PrepareContext(ctx, `DELETE FROM cache WHERE key = ?`); err != nil {
		return b.fail("open", err)
	}
	// An entry older than max_age is absent, as for Get: the insert
	// replaces it.
	if b.casAbsent, err = b.wdb.PrepareContext(ctx, `INSERT INTO cache (key, written, size, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET written = excluded.written, size = excluded.size, value = excluded.value
		WHERE cache.written < ?`); err != nil {
		return b.fail("open", err)
	}
	if b.casSame, err = b.wdb.PrepareContext(ctx, `UPDATE cache SET written = ?, size = ?, value = ?
		WHERE key = ? AND value = ? AND written >= ?`); err != nil {
		return b.fail("open", err)
	}
	if b.opts.DistributedLock {
		if b.locks, err = openLockFile(b.opts.LockFile); err != nil {
			return fmt.Errorf("file: open the dogpile lock file: %w", err)
		}
	}
	return nil
}

// initSchema creates the table in a new file, or checks that an existing file
// is a dogpile cache of this format, then switches it to WAL mode.
func (b *Backend) initSchema(ctx context.Context) error {
	// Lets Cleanup return freed pages to the file system. It can only be set
	// on an empty file, outside a transaction; if another process is
	// creating the file at this moment it fails, and that process sets it.
	var pages int
	if err := b.wdb.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return b.unreadable("read the page count", err)
	}
	if pages == 0 {
		b.wdb.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`) //nolint:errcheck // see above
	}
	tx, err := b.wdb.BeginTx(ctx, nil)
	if err != nil {
		return b.unreadable("begin a transaction", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var id, version, tables int
	if err := tx.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&id); err != nil {
		return b.unreadable("read the application id", err)
	}
	switch id {
	case 0:
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'`).Scan(&tables); err != nil {
			return b.unreadable("count the tables", err)
		}
		if tables > 0 {
			return b.notACache(errors.New("it is an SQLite database of another application"))
		}
		for _, stmt := range []string{
			// written is the time of the last write in Unix nanoseconds and
			// size is len(key)+len(value): with the index they let Cleanup
			// find the total and the oldest entries without reading values.
			// value comes last so that those columns sit before the
			// overflow pages of a large value.
			`CREATE TABLE cache (
				key     TEXT PRIMARY KEY,
				written INTEGER NOT NULL,
				size    INTEGER NOT NULL,
				value   BLOB NOT NULL
			)`,
			`CREATE INDEX cache_written ON cache (written, size)`,
			`PRAGMA application_id = ` + strconv.Itoa(appID),
			`PRAGMA user_version = ` + strconv.Itoa(formatVersion),
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return b.fail("create the table", err)
			}
		}
	case appID:
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
			return b.unreadable("read the format version", err)
		}
		if version != formatVersion {
			return b.notACache(fmt.Errorf("its format version is %d; this build reads version %d", version, formatVersion))
		}
	default:
		return b.notACache(fmt.Errorf("it is an SQLite database of another application (application_id %#x)", id))
	}
	if err := tx.Commit(); err != nil {
		return b.fail("create the table", err)
	}
	return b.useWAL(ctx)
}

// useWAL switches the file to WAL mode, which lets readers in every process
// run beside the one writer. The mode is kept in the file, so only a new file
// is converted. The switch needs the file to itself and SQLite does not wait
// for that (no busy handler), so it is retried, with backoff, until
// BusyTimeout.
func (b *Backend) useWAL(ctx context.Context) error {
	stop := time.Now().Add(b.opts.BusyTimeout)
	wait := time.Millisecond
	for {
		var mode string
		err := b.wdb.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode)
		if err == nil && strings.EqualFold(mode, "wal") {
			return nil
		}
		if err == nil {
			err = b.wdb.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
			if err == nil && strings.EqualFold(mode, "wal") {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("journal mode is still %q", mode)
			}
		}
		if time.Now().After(stop) {
			return b.fail("switch to WAL mode", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return b.fail("switch to WAL mode", ctx.Err())
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// notACache is the error for a file that is not a cache: an *ArgError, since
// the filename argument names the wrong file, so that a configuration file's
// error points at that line.
func (b *Backend) notACache(err error) error {
	return &dogpile.ArgError{Name: "filename", Value: b.opts.Filename, Reason: "not a dogpile cache file", Err: err}
}

// unreadable is the error for a failed read of the file's header: the file
// is not a cache when SQLite says it is not a database; any other failure
// (a busy or unreadable file, a cancelled context) is the world's, not the
// argument's.
func (b *Backend) unreadable(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return b.notACache(err)
	}
	return b.fail(op, err)
}

func (b *Backend) fail(op string, err error) error {
	return fmt.Errorf("file: %s: %s: %w", b.opts.Filename, op, err)
}

// Options returns the backend's options, with defaults filled in and paths
// resolved to the real names of the files.
func (b *Backend) Options() Options { return b.opts }

// cutoff is the oldest write time a read accepts.
func (b *Backend) cutoff() int64 {
	if b.opts.TTL <= 0 {
		return 0
	}
	return b.now().Add(-b.opts.TTL).UnixNano()
}

// Get returns the value stored under key. One indexed SELECT in an implicit
// read transaction; it does not wait for writers.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := b.get.QueryRowContext(ctx, key, b.cutoff()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, b.fail("get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// ValuesImmutable reports true (backend.Immutable): database/sql scans each
// value into memory of its own.
func (b *Backend) ValuesImmutable() bool { return true }

// Set stores value under key in one transaction.
func (b *Backend) Set(ctx context.Context, key string, value []byte) error {
	if m, ok := lock.As[*fileMutex](lock.Held(ctx, key)); ok && m.b == b {
		// A creation's write, under the key's lock: fenced.
		return m.SetFenced(ctx, key, value)
	}
	return b.setUnfenced(ctx, key, value)
}

// setUnfenced is Set without the fence.
func (b *Backend) setUnfenced(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{} // the column is NOT NULL; nil and empty are one value
	}
	size := int64(len(key) + len(value))
	if _, err := b.set.ExecContext(ctx, key, b.now().UnixNano(), size, value); err != nil {
		return b.fail("set", err)
	}
	b.wrote(ctx, 1, size)
	return nil
}

// CompareAndSwap stores new under key if key holds old, or holds nothing
// when old is nil (an empty old is an empty value, not nothing), and reports
// whether it did. It is one SQL statement, so one transaction: the
// comparison and the write are atomic across every process using the file.
// An entry older than the TTL (max_age) holds nothing, as for Get.
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if new == nil {
		new = []byte{}
	}
	size := int64(len(key) + len(new))
	now, cutoff := b.now().UnixNano(), b.cutoff()
	var res sql.Result
	var err error
	if old == nil {
		res, err = b.casAbsent.ExecContext(ctx, key, now, size, new, cutoff)
	} else {
		res, err = b.casSame.ExecContext(ctx, now, size, new, key, old, cutoff)
	}
	if err != nil {
		return false, b.fail("compare_and_swap", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, b.fail("compare_and_swap", err)
	}
	if n == 0 {
		return false, nil
	}
	b.wrote(ctx, 1, size)
	return true, nil
}

// Delete removes key.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if _, err := b.del.ExecContext(ctx, key); err != nil {
		return b.fail("delete", err)
	}
	return nil
}

// placeholders returns "?, ?, …" for n parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// GetMulti returns the values of keys, in order, nil for a miss: one SELECT
// per 500 keys.
func (b *Backend) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	at := make(map[string][]int, len(keys))
	for i, k := range keys {
		at[k] = append(at[k], i)
	}
	cutoff := b.cutoff()
	for start := 0; start < len(keys); start += multiChunk {
		chunk := keys[start:min(start+multiChunk, len(keys))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, cutoff)
		for _, k := range chunk {
			args = append(args, k)
		}
		stmt, err := b.getMultiStmt(ctx, len(chunk))
		if err != nil {
			return nil, b.fail("get_multi", err)
		}
		err = b.readMulti(ctx, stmt, args, at, out)
		if len(chunk) > multiCached {
			stmt.Close() //nolint:errcheck // a statement of our own
		}
		if err != nil {
			return nil, b.fail("get_multi", err)
		}
	}
	return out, nil
}

// readMulti runs a GetMulti statement and puts each value found at the
// positions of its key.
func (b *Backend) readMulti(ctx context.Context, stmt *sql.Stmt, args []any, at map[string][]int, out [][]byte) error {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if v == nil {
			v = []byte{}
		}
		for _, i := range at[k] {
			out[i] = v
		}
	}
	return rows.Err()
}

// getMultiStmt returns the prepared GetMulti statement for n keys: cached
// for small n; for larger n the caller closes it.
func (b *Backend) getMultiStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	query := `SELECT key, value FROM cache WHERE written >= ? AND key IN (` + placeholders(n) + `)`
	if n > multiCached {
		return b.rdb.PrepareContext(ctx, query)
	}
	b.multiMu.Lock()
	defer b.multiMu.Unlock()
	if s, ok := b.getMulti[n]; ok {
		return s, nil
	}
	s, err := b.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if b.getMulti == nil {
		b.getMulti = map[int]*sql.Stmt{}
	}
	b.getMulti[n] = s
	return s, nil
}

// SetMulti stores every item in one transaction: after a crash either all of
// them are stored or none.
func (b *Backend) SetMulti(ctx context.Context, items map[string][]byte) error {
	if len(items) == 0 {
		return nil
	}
	// A creation's writes, under the keys' locks: fenced, all or nothing
	// (a lost lock's check is local, so checking first is enough).
	for k := range items {
		if m, ok := lock.As[*fileMutex](lock.Held(ctx, k)); ok && m.b == b {
			if err := m.check(k); err != nil {
				return err
			}
		}
	}
	tx, err := b.wdb.BeginTx(ctx, nil)
	if err != nil {
		return b.fail("set_multi", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	set := tx.StmtContext(ctx, b.set)
	now := b.now().UnixNano()
	var total int64
	for k, v := range items {
		if v == nil {
			v = []byte{}
		}
		size := int64(len(k) + len(v))
		total += size
		if _, err := set.ExecContext(ctx, k, now, size, v); err != nil {
			return b.fail("set_multi", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return b.fail("set_multi", err)
	}
	b.wrote(ctx, int64(len(items)), total)
	return nil
}

// DeleteMulti removes every key in one transaction.
func (b *Backend) DeleteMulti(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	tx, err := b.wdb.BeginTx(ctx, nil)
	if err != nil {
		return b.fail("delete_multi", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for start := 0; start < len(keys); start += multiChunk {
		chunk := keys[start:min(start+multiChunk, len(keys))]
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM cache WHERE key IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return b.fail("delete_multi", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return b.fail("delete_multi", err)
	}
	return nil
}

// Mutex returns a would-be holder of key's cross-process lock: a byte-range
// lock in the dogpile lock file, released by the OS if the holder's process
// dies. Without Options.DistributedLock it is nil: the backend has no mutex.
func (b *Backend) Mutex(key string) lock.Mutex {
	if b.locks == nil {
		return nil
	}
	return &fileMutex{b: b, lf: b.locks, key: key, off: keyOffset(key)}
}

// Close closes the store and this backend's hold on the lock file. Unlock
// the backend's mutexes first: a lock still held stays held until every
// backend of the process using the lock file is closed, or the process
// exits. A wait in the OS left by a Lock that gave up ends when the other
// process releases the lock. Close is safe to call more than once.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		var errs []error
		b.multiMu.Lock()
		for _, s := range b.getMulti {
			errs = append(errs, s.Close())
		}
		b.getMulti = nil
		b.multiMu.Unlock()
		for _, s := range []*sql.Stmt{b.get, b.set, b.del, b.casAbsent, b.casSame} {
			if s != nil {
				errs = append(errs, s.Close())
			}
		}
		for _, db := range []*sql.DB{b.rdb, b.wdb} {
			if db != nil {
				errs = append(errs, db.Close())
			}
		}
		if b.locks != nil {
			errs = append(errs, b.locks.release())
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}
