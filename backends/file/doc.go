// Package file is the "file" backend: a cache in one file on local disk,
// shared safely by the goroutines of a process and by several processes on
// one host, with a cross-process dogpile lock made of OS file locks. It is the
// Go counterpart of the seed's dbm backend (registered aliases "dbm" and
// "dogpile.cache.dbm") and the embedded default that needs no server.
//
// Import it for its side effect of registering the backend:
//
//	import _ "github.com/dogpile-go/dogpile/backends/file"
//
//	region, err := dogpile.NewRegion().Configure("file",
//		dogpile.WithExpiration(time.Hour),
//		dogpile.WithArguments(dogpile.Args{"filename": "/var/cache/app/cache.db", "max_size": "256MiB"}))
//
// or use the typed constructor [New] with [Options].
//
// # The store
//
// The file is an SQLite database, through modernc.org/sqlite (SQLite
// translated to Go: no cgo, so the module cross-compiles). SQLite is chosen
// because it is made for several processes reading and writing one file at
// once, which the usual embedded Go stores are not: bbolt, pebble and badger
// each lock the whole database to one process. The database is in WAL mode,
// so readers in every process run beside the one writer and never wait for
// it, and every write is a transaction, so a process killed at any moment
// leaves the file consistent. One table holds the entries:
//
//	cache(key TEXT PRIMARY KEY, written INTEGER, size INTEGER, value BLOB)
//
// with an index on (written, size) for cleanup. Keys are stored exactly as
// given. Get is one indexed SELECT; GetMulti is one SELECT … WHERE key IN
// (…) per 500 keys; Set is one upsert; SetMulti and DeleteMulti are one
// transaction each.
//
// Settings on every connection: busy_timeout (a writer waits for another
// process's write transaction instead of failing; see busy_timeout below),
// synchronous=NORMAL (in WAL mode it loses nothing when a process crashes,
// and at worst the last few writes, never the file's consistency, when the
// machine loses power; FULL would fsync every write, which a cache does not
// need), and journal_size_limit (the write-ahead log is cut back to 4 MiB
// after each checkpoint). In a process, writes go through one connection, so
// goroutines queue for it in order, honouring their contexts, instead of
// spinning on SQLite's lock; reads use a small pool of connections.
//
// [New] refuses a file that is not a dogpile cache (one that is not SQLite,
// or an SQLite database of another application, which it does not modify),
// and creates the file's directory if needed.
//
// # Arguments
//
// By the seed's names, as a configuration gives them:
//
//   - filename (required): the path of the cache file. Beside it SQLite
//     keeps filename-wal and filename-shm while the cache is in use.
//   - dogpile_lockfile: the path of the dogpile lock file; by default
//     filename + ".dogpile.lock". false turns the cross-process lock off: then,
//     as in the seed, only callers within one process take turns creating a
//     value ([Options].LockFile, [Options].NoFileLock).
//   - rw_lockfile: in the seed, the lock file that kept readers and writers of
//     the dbm file apart. SQLite locks its own file, so the argument (a path
//     or false) is accepted, so that a seed configuration carries over, and
//     not used.
//   - max_size: the most bytes of keys and values to keep, as a number or a
//     string such as "64MiB" or "1GB"; 0 or absent means no bound
//     ([Options].MaxSize).
//   - max_age: how long to keep an entry after its last write, in seconds or
//     as a Go duration ("24h"); 0 or absent means for ever ([Options].MaxAge).
//     It is store-side retention, separate from the region's expiration.
//   - busy_timeout: how long a write waits for another process's write
//     before failing; 5 seconds by default ([Options].BusyTimeout).
//
// Any other argument is an error that names it.
//
// # The lock
//
// [Backend.Mutex] is the cross-process dogpile lock, so that one creator runs
// per key among all the processes using the file. Each key has its own lock:
// one byte of the lock file, at an offset given by a 62-bit FNV-1a hash of
// the key, locked with fcntl byte-range locks. The file itself stays empty
// and one file serves any number of keys, so there are no per-key files to
// clean up and no stripes that make unrelated keys wait for each other (two
// keys whose hashes collide, a chance of about one in 2^62, only take turns).
//
// On Linux the locks are open file description locks (F_OFD_SETLK); on other
// Unix systems, classic POSIX record locks (F_SETLK). Either way the kernel
// releases them when the holder's process exits or is killed, so a crashed
// creator never leaves a key locked: another process takes the lock within
// one poll. A process opens each lock file once and shares it among its
// backends; holders within the process exclude each other through a table in
// memory and wait for each other on a channel. TryLock never waits. The OS
// offers no wait that a context can end, so Lock waiting for another process
// polls, from 1 ms backing off to 50 ms, until it gets the lock or its
// context ends. Unlock by a value that does not hold the lock does nothing.
// Every process must name the same lock file, and it must not be deleted
// while in use. On systems without fcntl locks (Windows), set
// dogpile_lockfile=false.
//
// # Crashes
//
// Every write is an SQLite transaction and SQLite recovers from the
// write-ahead log when the file is next opened, so a process killed while
// writing leaves a file that opens and reads: it holds everything committed
// before the kill, and the write in flight either entirely or not at all (a
// SetMulti too). A lock held by a killed process is released by the kernel.
// The tests check both by killing processes with SIGKILL.
//
// # Cleanup
//
// Without max_size or max_age the file grows with what is stored, as the
// seed's dbm file does. With them, a cleanup runs when a backend opens the
// file, and then after every 256 writes, or every max_size/8 bytes written,
// through that backend (the write that crosses the line runs it, so no
// background goroutine is needed). A cleanup is one write transaction: it
// removes entries last written more than max_age ago, then, if the entries
// total more than max_size bytes, the least recently written ones until they
// total at most 7/8 of max_size, so that the next writes need no eviction.
// Eviction goes by the time of the last write rather than of the last read:
// recording reads would turn every hit into a write across processes.
// Entries older than max_age are misses from the moment they age, whether or
// not a cleanup has removed them yet.
//
// The bound is soft between cleanups: each process writing to the file may
// add up to max_size/8 bytes (plus one value) before its next cleanup. Pages
// freed by a cleanup are reused by later writes; beyond a reserve of
// max_size/4 they are given back to the file system (SQLite's incremental
// vacuum), so the file itself stays near max_size. [Backend.Cleanup] runs a
// cleanup on demand and [Backend.Stats] reports the entries and their bytes.
package file
