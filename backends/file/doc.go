// Package file is the "file" backend: a cache in one file on local disk,
// shared safely by the goroutines of a process and by several processes on
// one host, with a cross-process dogpile lock made of OS file locks. It is the
// Go counterpart of Python dogpile.cache's dbm backend (registered aliases
// "dbm" and "dogpile.cache.dbm") and the embedded default that needs no
// server.
//
// Import it for its side effect of registering the backend:
//
//	import _ "github.com/dogpile-go/dogpile/backends/file"
//
//	region, err := dogpile.NewRegion().Configure("file",
//		dogpile.WithExpiration(time.Hour),
//		dogpile.WithArguments(dogpile.Args{"filename": "/var/cache/app/cache.db", "max_size": "256MiB"}))
//
// or use the typed constructor [New] with [Options], which names the
// settings as every backend of this project does: DistributedLock, and TTL
// for the store-side lifetime (max_age). As with the other backends, the
// zero Options have no distributed lock, where the registered "file"
// backend, like Python's dbm backend, has it on unless distributed_lock is
// false:
//
//	b, err := file.New(file.Options{Filename: "/var/cache/app/cache.db", DistributedLock: true})
//	region, err := dogpile.NewRegion().ConfigureBackend(b, dogpile.WithExpiration(time.Hour))
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
// # The file's name
//
// A file can be reached by many paths: relative ones, symbolic links to it
// or to a directory above it, paths through "..". New opens the cache file
// by its one real name — absolute, every link resolved (a link whose target
// does not exist yet creates the target), each ".." taken after the link
// before it, as the OS takes it — and [Backend.Options] reports that name.
// So every process, whatever spelling it is given, opens the same file with
// the same write-ahead log and the same lock file beside it. A file with more
// than one hard link is refused: hard links give one file two real names,
// and SQLite, which keeps the write-ahead log beside the name a database is
// opened by, would corrupt a file used through both. Renaming another file
// over the cache file while processes have it open is, for SQLite, the same
// mistake; do not.
//
// # Permissions
//
// The cache file, its -wal and -shm files and the lock file are created
// readable and writable by their owner only (0600), and the directories New
// creates, the per-user one of [DefaultPath] included, are 0700: a cache can
// hold anything its callers compute. Files and directories that already
// exist keep their modes, so a cache shared by the processes of several
// users is prepared beforehand with the modes it needs (SQLite gives -wal and
// -shm the mode of the cache file).
//
// # Arguments
//
// By Python's names, as a configuration gives them, plus distributed_lock as
// the other backends take it:
//
//   - filename (required): the path of the cache file. Beside it SQLite
//     keeps filename-wal and filename-shm while the cache is in use.
//   - distributed_lock: true (the default) for the cross-process dogpile
//     lock; false for none, as with the other backends: a region then elects
//     one creator per key in each process ([Options].DistributedLock).
//   - dogpile_lockfile: the path of the lock file; by default the cache
//     file's real name + ".dogpile.lock" ([Options].LockFile). false turns the
//     lock off, as distributed_lock=false does; the two must not disagree.
//   - rw_lockfile: in Python, the lock file that kept readers and writers of
//     the dbm file apart. SQLite locks its own file, so the argument (a path
//     or false) is accepted, so that a Python configuration carries over, and
//     not used.
//   - max_size: the most bytes of keys and values to keep, as a number or a
//     string such as "64MiB" or "1GB"; 0 or absent means no bound
//     ([Options].MaxSize).
//   - max_age: how long to keep an entry after its last write, in seconds or
//     as a Go duration ("24h"); 0 or absent means for ever ([Options].TTL).
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
// Unix systems, classic POSIX record locks (F_SETLK). A process opens each
// lock file once and shares it among its backends; holders within the
// process exclude each other through a table in memory and wait for each
// other on a channel. TryLock never waits. Lock waits for a holder in another
// process in the kernel (the waiting form of the same lock), which wakes it
// the moment the holder releases the byte or dies, so a waiter reads the new
// value at once rather than at its next poll. The kernel's wait cannot be
// ended by a context: a Lock whose context ends returns at once, and the
// wait it leaves behind releases the byte when it is granted. Past 64 keys
// waited for so at once by one process (each wait holds an OS thread), Lock
// polls, from 1 ms backing off to 50 ms. Unlock by
// a value that does not hold the lock does nothing. Every process must name
// the same lock file (see The file's name). A process that finds the lock
// file replaced or removed — a rename over it, a cleaner deleting it —
// follows the name to the new file at its next attempt, so that it keeps
// excluding the processes that opened the cache since. On systems without
// fcntl locks (Windows), set distributed_lock=false.
//
// # Why the lock needs no lease
//
// A file lock belongs to the open file it was taken through and ends only
// with it: when the holder unlocks, or its process exits or is killed and
// the kernel closes its files. It has no timeout, so it cannot expire under
// a holder that is slow or stalled — stopped by a debugger or SIGSTOP, a long
// GC pause, a VM migration: the holder keeps the lock however long it takes,
// and nobody else creates meanwhile. The locks of the network backends are
// leases instead (they outlive a holder that died by at most their timeout,
// so they must be renewed while a creation runs, and a holder that lost its
// lease must be kept from writing). Here nothing needs renewing, and a holder
// writes only while it holds the lock.
//
// The mutex still writes the value it created through the lock (it is a
// backend.Fenced): the write is refused, with lock.ErrLockLost, if the value
// no longer holds the lock (after Unlock), or if the lock file was removed or
// replaced while it was held, the one way for its hold to stop excluding
// others short of its process dying — processes that opened the cache since
// lock the new file. The check and the write need not be one step, as a
// lease's must: while the hold lasts, no one else can take it. A lock file on
// a network file system (NFS) is another matter: its locks go through a lock
// manager that may lose them when the server restarts; keep the cache file
// and its lock file on a local disk.
//
// # Compare and swap
//
// [Backend.CompareAndSwap] replaces a value only if it is still what the
// caller read, or stores one only if the key holds none, in one SQL
// statement, and so atomically across every process using the file: a
// region keeps its shared invalidation record with it (backend.Swapper).
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
// Without max_size or max_age the file grows with what is stored, as
// Python's dbm file does. With them, a cleanup runs when a backend opens the
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
