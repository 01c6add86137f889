package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
)

// ---- DL9: the lock is bound to the file's identity, not its spelling ----

// spellings lays out one cache file with many names and returns them, the
// file's own path first:
//
//	root/real/cache.db          the file
//	root/real/sub/              a directory beside it
//	root/tofile   -> real/cache.db (a relative link to the file)
//	root/toabs    -> root/real/cache.db (an absolute one)
//	root/chain    -> tofile     (a link to a link)
//	root/todir    -> real       (a link to the directory)
//	root/tosub    -> real/sub   (so that tosub/../cache.db is real/cache.db,
//	                             which a lexical clean would make root/cache.db)
//
// plus the relative path real/cache.db from root (chdir).
func spellings(t *testing.T) (root string, names []spelling) {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(root, "real", "cache.db")
	if err := os.MkdirAll(filepath.Join(root, "real", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"tofile": filepath.Join("real", "cache.db"),
		"toabs":  real,
		"chain":  "tofile",
		"todir":  "real",
		"tosub":  filepath.Join("real", "sub"),
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Skipf("symbolic links: %v", err)
		}
	}
	names = []spelling{
		{name: "the file's path", db: real},
		{name: "a relative link to the file", db: filepath.Join(root, "tofile")},
		{name: "an absolute link to the file", db: filepath.Join(root, "toabs")},
		{name: "a link to a link", db: filepath.Join(root, "chain")},
		{name: "a link to the directory", db: filepath.Join(root, "todir", "cache.db")},
		{name: "a path through .. after a link", db: filepath.Join(root, "tosub") + string(filepath.Separator) + ".." + string(filepath.Separator) + "cache.db"},
		{name: "a relative path", db: filepath.Join("real", "cache.db"), chdir: root},
		{name: "a relative path through .. after a link", db: "tosub" + string(filepath.Separator) + ".." + string(filepath.Separator) + "cache.db", chdir: root},
		{name: "a path with ./ and //", db: root + "/./real//cache.db"},
	}
	return root, names
}

// openSpelling opens the backend of one spelling, in its directory if it is
// relative.
func openSpelling(t *testing.T, s spelling) *file.Backend {
	t.Helper()
	if s.chdir != "" {
		t.Chdir(s.chdir)
	}
	return open(t, file.Options{Filename: s.db})
}

// TestDL9SpellingsShareOneLockInProcess: backends of one process opened
// through every spelling of one file are one cache with one lock: a key
// locked through one spelling is locked for every other, and they all name
// the same file and lock file.
func TestDL9SpellingsShareOneLockInProcess(t *testing.T) {
	_, names := spellings(t)
	ctx := context.Background()
	base := open(t, file.Options{Filename: names[0].db})
	for _, s := range names[1:] {
		t.Run(s.name, func(t *testing.T) {
			b := openSpelling(t, s)
			if got, want := b.Options(), base.Options(); got.Filename != want.Filename || got.LockFile != want.LockFile {
				t.Fatalf("%s opened %s with lock file %s; the file's path opened %s with %s", s.db, got.Filename, got.LockFile, want.Filename, want.LockFile)
			}
			m := base.Mutex("k")
			if ok, err := m.TryLock(ctx); !ok || err != nil {
				t.Fatalf("TryLock through the file's path = %v, %v", ok, err)
			}
			if ok, err := b.Mutex("k").TryLock(ctx); ok || err != nil {
				t.Fatalf("TryLock through %s while the file's path holds the lock = %v, %v; want false", s.db, ok, err)
			}
			if err := m.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.Set(ctx, "written-through", []byte(s.name)); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := base.Get(ctx, "written-through"); err != nil || !ok || string(v) != s.name {
				t.Fatalf("a value written through %s reads %q, %v, %v through the file's path", s.db, v, ok, err)
			}
		})
	}
}

// TestDL9DanglingLink: a cache created through a symbolic link whose target
// does not exist yet is created at the target, and shares its lock with the
// target's name.
func TestDL9DanglingLink(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(root, "later", "cache.db")
	link := filepath.Join(root, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links: %v", err)
	}
	a := open(t, file.Options{Filename: link})
	if a.Options().Filename != target {
		t.Fatalf("a cache created through a dangling link is at %s; want its target %s", a.Options().Filename, target)
	}
	b := open(t, file.Options{Filename: target})
	ctx := context.Background()
	if ok, err := a.Mutex("k").TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if ok, _ := b.Mutex("k").TryLock(ctx); ok {
		t.Fatal("the target's name took a lock held through the link")
	}
}

// TestDL9HardLinkRefused: a cache file with a second hard link is refused
// through either name, with an argument error naming filename: SQLite would
// keep a write-ahead log per name (corrupting the file) and each name would
// have its own lock.
func TestDL9HardLinkRefused(t *testing.T) {
	dir := t.TempDir()
	db, other := filepath.Join(dir, "c.db"), filepath.Join(dir, "hard.db")
	b, err := file.New(file.Options{Filename: db, DistributedLock: true})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := os.Link(db, other); err != nil {
		t.Skipf("hard links: %v", err)
	}
	for _, name := range []string{db, other} {
		b, err := file.New(file.Options{Filename: name, DistributedLock: true})
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) || ae.Name != "filename" || !errors.Is(err, dogpile.ErrInvalidArgument) {
			if b != nil {
				b.Close()
			}
			t.Fatalf("New(%s) of a file with two names: %v; want an ArgError naming filename", name, err)
		}
	}
}

// TestDL9OneCreatorAcrossSpellings: four processes × 50 goroutines, each
// process naming the one file differently (its path, a link to it, a path
// through a linked directory and "..", a relative path): one creator runs in
// all.
func TestDL9OneCreatorAcrossSpellings(t *testing.T) {
	_, names := spellings(t)
	oneCreator(t, []spelling{names[0], names[1], names[5], names[6]})
}

// childLocker takes the locks of the keys $DOGPILE_FILE_TEST_KEYS
// (comma-separated; "k" if unset) in the cache of its environment, with
// TryLock, or with Lock in mode "wait"; says "held"; and releases them when
// told "release".
func childLocker() error {
	b, err := openChildBackend(file.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	keys := []string{"k"}
	if k := os.Getenv(keysEnv); k != "" {
		keys = strings.Split(k, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var held []lock.Mutex
	for _, k := range keys {
		m := b.Mutex(k)
		if os.Getenv(modeEnv) == "wait" {
			err = m.Lock(ctx)
		} else if ok, terr := m.TryLock(ctx); terr != nil || !ok {
			err = errors.Join(fmt.Errorf("the lock of %s was taken", k), terr)
		}
		if err != nil {
			return err
		}
		held = append(held, m)
	}
	say("held")
	if err := expectLine("release"); err != nil {
		return err
	}
	for _, m := range held {
		if err := m.Unlock(ctx); err != nil {
			return err
		}
	}
	return nil
}

// replaceLockFile puts a new file in place of b's lock file by a rename, as
// an administrator restoring a directory, or a deployment replacing it,
// would.
func replaceLockFile(t *testing.T, b *file.Backend) {
	t.Helper()
	path := b.Options().LockFile
	tmp := path + ".new"
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestDL9ReplacedLockFileFollowed: a process that opened the cache before
// its lock file was replaced keeps excluding the processes that open it
// afterwards: it follows the name to the new file rather than locking the
// old one alone.
func TestDL9ReplacedLockFileFollowed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	a := open(t, file.Options{Filename: db})
	ctx := context.Background()
	if ok, err := a.Mutex("warm").TryLock(ctx); !ok || err != nil { // the old file is in use
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	replaceLockFile(t, a)
	c := testutil.StartChild(t, "locker", dbEnv+"="+db)
	c.Expect("held", wait)
	if ok, err := a.Mutex("k").TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock while a process that opened the cache after the lock file was replaced holds k = %v, %v; want false", ok, err)
	}
	c.Send("release")
	exitedOK(t, c)
	m := a.Mutex("k")
	if ok, err := m.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after the other process released k = %v, %v", ok, err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDL9RemovedLockFileStillSharedInProcess: a backend opened after the
// lock file was removed (a cleaner deleting it) shares the process's handle
// with the backends opened before, by the file's name, as backends opened
// through any spelling do: a lock that one of them holds is held for it too
// (nothing failed when a backend opened then took a handle of its own, whose
// locks in the new file ignored the holders of this process).
func TestDL9RemovedLockFileStillSharedInProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	a := open(t, file.Options{Filename: db})
	ctx := context.Background()
	m := a.Mutex("k")
	testutil.MustLock(t, m)
	if err := os.Remove(a.Options().LockFile); err != nil {
		t.Fatal(err)
	}
	b := open(t, file.Options{Filename: db})
	if ok, err := b.Mutex("k").TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock through a backend opened after the lock file was removed, while one opened before holds k = %v, %v; want false", ok, err)
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	n := b.Mutex("k")
	testutil.MustLock(t, n)
	if err := n.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDL6FencedWriteRefusedAfterLockFileReplaced: a holder whose lock file
// was replaced while it held the lock (others now lock the new file) has its
// fenced write refused with ErrLockLost and the value is not stored; a
// holder whose lock file is in place writes; a value that no longer holds
// the lock (after Unlock) is refused too.
func TestDL6FencedWriteRefusedAfterLockFileReplaced(t *testing.T) {
	b := open(t, file.Options{})
	ctx := context.Background()
	m := b.Mutex("k")
	if ok, err := m.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	f, ok := m.(backend.Fenced)
	if !ok {
		t.Fatalf("the file mutex %T has no SetFenced", m)
	}
	if err := f.SetFenced(ctx, "k", []byte("held")); err != nil {
		t.Fatalf("SetFenced while holding the lock: %v", err)
	}
	replaceLockFile(t, b)
	if err := f.SetFenced(ctx, "k", []byte("lost")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("SetFenced after the lock file was replaced: %v; want ErrLockLost", err)
	}
	if v, _, _ := b.Get(ctx, "k"); string(v) != "held" {
		t.Fatalf("k = %q after a refused fenced write; want %q", v, "held")
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.SetFenced(ctx, "k", []byte("released")); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("SetFenced after Unlock: %v; want ErrLockLost", err)
	}
}

// TestDL6RegionDoesNotStoreAfterLockLost: a region's creation whose lock
// file is replaced while it runs (so that processes opening the cache since
// lock another file) returns its value but does not store it, and counts the
// lost lock.
func TestDL6RegionDoesNotStoreAfterLockLost(t *testing.T) {
	b := open(t, file.Options{})
	r, err := dogpile.NewRegion(dogpile.WithMetrics()).ConfigureBackend(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
		replaceLockFile(t, b)
		return "made under a lost lock", nil
	})
	if err != nil || v != "made under a lost lock" {
		t.Fatalf("GetOrCreate = %q, %v", v, err)
	}
	if n := r.Stats().LocksLost; n != 1 {
		t.Fatalf("LocksLost = %d; want 1", n)
	}
	v, err = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) { return "made again", nil })
	if err != nil || v != "made again" {
		t.Fatalf("the next GetOrCreate = %q, %v; want the creator to run again (nothing was stored)", v, err)
	}
}
