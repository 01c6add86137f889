package file_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backend"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/dogpiletest"
	"github.com/dogpile-go/dogpile/internal/testutil"
	"github.com/dogpile-go/dogpile/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// open returns a backend with the distributed lock (as the registered
// "file" backend has it by default) on a new file in the test's temporary
// directory, closed when the test ends.
func open(t testing.TB, o file.Options) *file.Backend {
	t.Helper()
	o.DistributedLock = true
	return openAs(t, o)
}

// openAs is open with o's DistributedLock as it is.
func openAs(t testing.TB, o file.Options) *file.Backend {
	t.Helper()
	if o.Filename == "" {
		o.Filename = filepath.Join(t.TempDir(), "cache.db")
	}
	b, err := file.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// leftBehind makes a store in a new file of the test's temporary directory,
// as another process would leave it: a backend of its own writes it with
// fill and is closed before leftBehind returns the file's path. The tests of
// what a backend finds on opening start from it.
func leftBehind(t testing.TB, fill func(context.Context, *file.Backend) error) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "c.db")
	b, err := file.New(file.Options{Filename: db, DistributedLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := fill(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestFB1Conformance runs the exported conformance suite against the file
// backend.
func TestFB1Conformance(t *testing.T) {
	dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend { return open(t, file.Options{}) })
}

// TestFB1ConformanceBounded runs the suite on a store with max_size and
// max_age set, so that cleanups run during it.
func TestFB1ConformanceBounded(t *testing.T) {
	dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend {
		return open(t, file.Options{MaxSize: 64 << 20, TTL: time.Hour})
	})
}

// TestFB1ConformanceNoDistributedLock runs the suite with the file lock
// turned off (distributed_lock=false).
func TestFB1ConformanceNoDistributedLock(t *testing.T) {
	dogpiletest.TestBackend(t, func(t *testing.T) dogpile.Backend { return openAs(t, file.Options{}) })
}

// TestRegisteredNames checks the name "file" and Python's aliases.
func TestRegisteredNames(t *testing.T) {
	for _, name := range []string{"file", "dbm", "dogpile.cache.dbm"} {
		b, err := dogpile.NewBackend(name, dogpile.Args{"filename": filepath.Join(t.TempDir(), "c.db")})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := b.(*file.Backend); !ok {
			t.Fatalf("%s made a %T", name, b)
		}
		b.(*file.Backend).Close()
	}
}

// TestFB2MutexConformance runs the mutex part of the suite on the file lock,
// alternating between two backends of one file in one process: holders in
// one process exclude each other as holders in two processes do.
func TestFB2MutexConformance(t *testing.T) {
	dir := t.TempDir()
	a := open(t, file.Options{Filename: filepath.Join(dir, "c.db")})
	b := open(t, file.Options{Filename: filepath.Join(dir, "c.db")})
	n := 0
	dogpiletest.TestMutex(t, func(key string) lock.Mutex {
		n++
		if n%2 == 0 {
			return b.Mutex(key)
		}
		return a.Mutex(key)
	})
}

// TestFB2ManyKeysIndependent: holding the locks of many keys at once never
// blocks a different key (each key has its own byte, not a shared stripe).
func TestFB2ManyKeysIndependent(t *testing.T) {
	b := open(t, file.Options{})
	ctx := context.Background()
	var held []lock.Mutex
	for i := range 1000 {
		m := b.Mutex(fmt.Sprintf("key-%d", i))
		if ok, err := m.TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock of key-%d with %d other keys held = %v, %v", i, i, ok, err)
		}
		held = append(held, m)
	}
	for _, m := range held {
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFB2LockWaitersInProcess: many goroutines of one process Lock one key;
// they hold it one at a time.
func TestFB2LockWaitersInProcess(t *testing.T) {
	b := open(t, file.Options{})
	ctx := context.Background()
	var inside, most int32
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := b.Mutex("k")
			for range 10 {
				if err := m.Lock(ctx); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				mu.Lock()
				inside--
				mu.Unlock()
				if err := m.Unlock(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if most != 1 {
		t.Fatalf("%d holders at once", most)
	}
}

// TestDistributedLockOff: distributed_lock=false, as for the other
// backends, and Python's dogpile_lockfile=false, leave the backend without a
// mutex (a region then elects one creator per process) and make no lock
// file; the two switches must agree.
func TestDistributedLockOff(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	for _, args := range []dogpile.Args{
		{"filename": db, "distributed_lock": false},
		{"filename": db, "distributed_lock": "false"},
		{"filename": db, "dogpile_lockfile": false},
		{"filename": db, "distributed_lock": false, "dogpile_lockfile": false},
	} {
		b, err := dogpile.NewBackend("file", args)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if m := b.(backend.Locking).Mutex("k"); m != nil {
			t.Errorf("%v: Mutex = %T; want none", args, m)
		}
		if b.(*file.Backend).Options().DistributedLock {
			t.Errorf("%v: DistributedLock is set", args)
		}
		b.(*file.Backend).Close()
	}
	if _, err := os.Stat(db + ".dogpile.lock"); !os.IsNotExist(err) {
		t.Fatalf("a lock file was made with the lock off (%v)", err)
	}

	on, err := dogpile.NewBackend("file", dogpile.Args{"filename": db, "distributed_lock": true})
	if err != nil {
		t.Fatal(err)
	}
	defer on.(*file.Backend).Close()
	if on.(backend.Locking).Mutex("k") == nil || on.(*file.Backend).Options().LockFile != db+".dogpile.lock" {
		t.Fatalf("distributed_lock=true: no mutex, or lock file %q", on.(*file.Backend).Options().LockFile)
	}

	for _, args := range []dogpile.Args{
		{"filename": db, "distributed_lock": false, "dogpile_lockfile": filepath.Join(dir, "locks")},
		{"filename": db, "distributed_lock": true, "dogpile_lockfile": false},
		{"filename": db, "distributed_lock": "sometimes"},
	} {
		_, err := dogpile.NewBackend("file", args)
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) || ae.Name != "distributed_lock" {
			t.Errorf("%v: %v; want an ArgError naming distributed_lock", args, err)
		}
	}
}

// TestOptionsLock: the zero Options have no distributed lock, as the other
// backends' Options, and make no lock file; DistributedLock gives the
// mutex.
func TestOptionsLock(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	if m := openAs(t, file.Options{Filename: db}).Mutex("k"); m != nil {
		t.Errorf("Mutex = %T; want none", m)
	}
	if _, err := os.Stat(db + ".dogpile.lock"); !os.IsNotExist(err) {
		t.Fatalf("a lock file was made with the lock off (%v)", err)
	}
	if b := openAs(t, file.Options{Filename: db, DistributedLock: true}); b.Mutex("k") == nil {
		t.Error("DistributedLock: no mutex")
	}
}

// TestNoDistributedLockIsPerProcess: with the lock off, a region elects one
// creator per key in each process, so two processes (here two regions on
// two backends) each create while the other is creating.
func TestNoDistributedLockIsPerProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	var wg sync.WaitGroup
	var got [2]string
	for i := range 2 {
		b := openAs(t, file.Options{Filename: db})
		r, err := dogpile.NewRegion().ConfigureBackend(b)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = dogpile.GetOrCreate(ctx, r, "k", func(context.Context) (string, error) {
				started <- struct{}{}
				<-release
				return fmt.Sprint("region ", i), nil
			})
		}()
	}
	for range 2 { // both creators run at once
		select {
		case <-started:
		case <-time.After(wait):
			close(release)
			t.Fatal("one region's creator waited for the other's: a lock across backends was taken")
		}
	}
	close(release)
	wg.Wait()
	if got[0] != "region 0" || got[1] != "region 1" {
		t.Fatalf("the regions got %q", got)
	}
}

// TestArguments checks Python's argument names and the values
// configuration files give them.
func TestArguments(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	good := []struct {
		args dogpile.Args
		want func(o file.Options) bool
	}{
		{dogpile.Args{"filename": db}, func(o file.Options) bool {
			return o.LockFile == db+".dogpile.lock" && o.DistributedLock && o.MaxSize == 0 && o.TTL == 0 && o.BusyTimeout == 5*time.Second
		}},
		{dogpile.Args{"filename": db, "dogpile_lockfile": filepath.Join(dir, "locks")}, func(o file.Options) bool { return o.LockFile == filepath.Join(dir, "locks") }},
		{dogpile.Args{"filename": db, "dogpile_lockfile": "false"}, func(o file.Options) bool { return !o.DistributedLock }},
		{dogpile.Args{"filename": db, "dogpile_lockfile": true}, func(o file.Options) bool { return o.LockFile == db+".dogpile.lock" }},
		{dogpile.Args{"filename": db, "rw_lockfile": false}, func(file.Options) bool { return true }},
		{dogpile.Args{"filename": db, "rw_lockfile": filepath.Join(dir, "rw")}, func(file.Options) bool { return true }},
		{dogpile.Args{"filename": db, "max_size": 1000}, func(o file.Options) bool { return o.MaxSize == 1000 }},
		{dogpile.Args{"filename": db, "max_size": float64(2e6)}, func(o file.Options) bool { return o.MaxSize == 2e6 }},
		{dogpile.Args{"filename": db, "max_size": "64MiB"}, func(o file.Options) bool { return o.MaxSize == 64<<20 }},
		{dogpile.Args{"filename": db, "max_size": "1.5 GB"}, func(o file.Options) bool { return o.MaxSize == 1.5e9 }},
		{dogpile.Args{"filename": db, "max_size": "4096"}, func(o file.Options) bool { return o.MaxSize == 4096 }},
		{dogpile.Args{"filename": db, "max_size": "500KB"}, func(o file.Options) bool { return o.MaxSize == 500e3 }},
		{dogpile.Args{"filename": db, "max_size": "2KiB"}, func(o file.Options) bool { return o.MaxSize == 2<<10 }},
		{dogpile.Args{"filename": db, "max_size": "4096 B"}, func(o file.Options) bool { return o.MaxSize == 4096 }},
		{dogpile.Args{"filename": db, "max_age": 3600}, func(o file.Options) bool { return o.TTL == time.Hour }},
		{dogpile.Args{"filename": db, "max_age": "90m"}, func(o file.Options) bool { return o.TTL == 90*time.Minute }},
		{dogpile.Args{"filename": db, "busy_timeout": 0.5}, func(o file.Options) bool { return o.BusyTimeout == 500*time.Millisecond }},
	}
	for _, c := range good {
		b, err := dogpile.NewBackend("file", c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if o := b.(*file.Backend).Options(); !c.want(o) {
			t.Errorf("%v gave %+v", c.args, o)
		}
		b.(*file.Backend).Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "locks")); err != nil {
		t.Errorf("dogpile_lockfile path not used: %v", err)
	}

	bad := []struct {
		args dogpile.Args
		name string // the argument the error must name
	}{
		{dogpile.Args{}, "filename"},
		{dogpile.Args{"filename": ""}, "filename"},
		{dogpile.Args{"filename": 7}, "filename"},
		{dogpile.Args{"filename": db, "filenmae": db}, "filenmae"},
		{dogpile.Args{"filename": db, "lock_factory": "x"}, "lock_factory"},
		{dogpile.Args{"filename": db, "dogpile_lockfile": 3.5}, "dogpile_lockfile"},
		{dogpile.Args{"filename": db, "rw_lockfile": []string{"x"}}, "rw_lockfile"},
		{dogpile.Args{"filename": db, "max_size": "lots"}, "max_size"},
		{dogpile.Args{"filename": db, "max_size": -1}, "max_size"},
		{dogpile.Args{"filename": db, "max_size": "-5MiB"}, "max_size"},
		{dogpile.Args{"filename": db, "max_age": "soon"}, "max_age"},
		{dogpile.Args{"filename": db, "busy_timeout": "-1s"}, "busy_timeout"},
	}
	for _, c := range bad {
		_, err := dogpile.NewBackend("file", c.args)
		var ae *dogpile.ArgError
		if !errors.Is(err, dogpile.ErrInvalidArgument) || !errors.As(err, &ae) || ae.Name != c.name {
			t.Errorf("%v: error %v; want an ArgError naming %q", c.args, err, c.name)
		}
	}
}

// TestNotACacheFile: New refuses a file that is not SQLite, and an SQLite
// database of another application, which it leaves as it was. The error is
// an *ArgError for filename (so a configuration file's error points at
// that line), carrying SQLite's own error.
func TestNotACacheFile(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := file.New(file.Options{Filename: junk, DistributedLock: true})
	wantNotACache(t, err, junk)
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_NOTADB {
		t.Fatalf("New on a junk file: %v; want SQLite's not-a-database error in the chain", err)
	}

	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	_, err = file.New(file.Options{Filename: other, DistributedLock: true})
	wantNotACache(t, err, other)
	if !strings.Contains(err.Error(), "another application") {
		t.Fatalf("New on another application's database: %v", err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "delete" {
		t.Fatalf("the other database's journal mode is now %q (%v)", mode, err)
	}
}

// wantNotACache checks that err is New's refusal of the file at path.
func wantNotACache(t *testing.T, err error, path string) {
	t.Helper()
	var ae *dogpile.ArgError
	if !errors.As(err, &ae) || ae.Name != "filename" || ae.Value != path || !errors.Is(err, dogpile.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "not a dogpile cache file") {
		t.Fatalf("New on %s: %v; want an *ArgError for filename saying it is not a dogpile cache file", path, err)
	}
}

// TestReopen: values outlive the backend that wrote them.
func TestReopen(t *testing.T) {
	db := leftBehind(t, func(ctx context.Context, a *file.Backend) error {
		if err := a.Set(ctx, "k", []byte("v")); err != nil {
			return err
		}
		return a.Set(ctx, "empty", nil)
	})
	ctx := context.Background()
	b := open(t, file.Options{Filename: db})
	if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || string(v) != "v" {
		t.Fatalf("after reopening, Get = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := b.Get(ctx, "empty"); err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("an empty value read back as %v, %v, %v", v, ok, err)
	}
}

// TestDefaultPath: the per-user cache file, and New makes its directory.
func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	t.Setenv("HOME", home)
	p, err := file.DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if dir, _ := os.UserCacheDir(); p != filepath.Join(dir, "dogpile", "cache.db") {
		t.Fatalf("DefaultPath() = %q", p)
	}
	open(t, file.Options{Filename: p})
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}

// TestClosedBackendErrors: calls after Close fail rather than panic.
func TestClosedBackendErrors(t *testing.T) {
	b, err := file.New(file.Options{Filename: filepath.Join(t.TempDir(), "c.db"), DistributedLock: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := b.Get(context.Background(), "k"); err == nil {
		t.Fatal("Get after Close succeeded")
	}
}

// TestContextCancelled: a cancelled context fails a call with its error.
func TestContextCancelled(t *testing.T) {
	b := open(t, file.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Set(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled context = %v", err)
	}
	// Every other call reports it too (nothing failed when Delete dropped
	// its error).
	for name, call := range map[string]func() error{
		"Get":            func() error { _, _, err := b.Get(ctx, "k"); return err },
		"Delete":         func() error { return b.Delete(ctx, "k") },
		"CompareAndSwap": func() error { _, err := b.CompareAndSwap(ctx, "k", nil, []byte("v")); return err },
		"GetMulti":       func() error { _, err := b.GetMulti(ctx, []string{"k", "l"}); return err },
		"SetMulti":       func() error { return b.SetMulti(ctx, map[string][]byte{"k": []byte("v")}) },
		"DeleteMulti":    func() error { return b.DeleteMulti(ctx, []string{"k", "l"}) },
	} {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v", name, err)
		}
	}
}

// TestNewRefusesNegativeOptions: New refuses a negative MaxSize, TTL or
// BusyTimeout with an ArgError naming the argument
// (nothing failed when it took them: the argument parser refuses negative
// values itself, so only Options reach these checks).
func TestNewRefusesNegativeOptions(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	for _, c := range []struct {
		o    file.Options
		name string
	}{
		{file.Options{MaxSize: -1}, "max_size"},
		{file.Options{TTL: -time.Second}, "max_age"},
		{file.Options{BusyTimeout: -time.Second}, "busy_timeout"},
	} {
		c.o.Filename = db
		b, err := file.New(c.o)
		var ae *dogpile.ArgError
		if !errors.As(err, &ae) || ae.Name != c.name {
			t.Errorf("%+v: %v; want an ArgError naming %s", c.o, err, c.name)
		}
		if b != nil {
			b.Close()
		}
	}
}

// TestOtherFormatVersionRefused: New refuses a dogpile cache file of another
// format version, and leaves it as it was (nothing failed when the version
// went unchecked).
func TestOtherFormatVersionRefused(t *testing.T) {
	db := leftBehind(t, func(ctx context.Context, b *file.Backend) error { return b.Set(ctx, "k", []byte("v")) })
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`PRAGMA user_version = 2`); err != nil {
		t.Fatal(err)
	}
	if b, err := file.New(file.Options{Filename: db}); err == nil || !strings.Contains(err.Error(), "format version is 2") {
		if b != nil {
			b.Close()
		}
		t.Fatalf("New on a cache file of format version 2: %v", err)
	}
	var version int
	if err := raw.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != 2 {
		t.Fatalf("the file's format version is now %d (%v)", version, err)
	}
}

// TestEmptyValuesMulti: an empty value, or a nil one, stored by SetMulti or
// Set reads back as an empty value, not a miss, through GetMulti as through
// Get (nothing failed when SetMulti stored nil as NULL, or GetMulti returned
// an empty value as nil, a miss: the conformance suite checks empty values
// through Set and Get only).
func TestEmptyValuesMulti(t *testing.T) {
	b := open(t, file.Options{})
	ctx := context.Background()
	if err := b.SetMulti(ctx, map[string][]byte{"nil": nil, "empty": {}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "set", nil); err != nil {
		t.Fatal(err)
	}
	keys := []string{"nil", "empty", "set", "missing"}
	vs, err := b.GetMulti(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		want := k != "missing"
		if (vs[i] != nil) != want || len(vs[i]) != 0 {
			t.Errorf("GetMulti: %s = %#v; want present = %v, and empty", k, vs[i], want)
		}
		if v, ok, err := b.Get(ctx, k); err != nil || ok != want || (v != nil) != want || len(v) != 0 {
			t.Errorf("Get: %s = %#v, %v, %v; want present = %v, and empty", k, v, ok, err, want)
		}
	}
}

// TestWriteUnderAnotherBackendsHold: a write whose context holds a mutex of
// another backend (another cache file's creation that writes here too) is a
// plain write to this backend: written into this file, not through the
// mutex into the other one, and not refused once that mutex is released
// (nothing failed when any file mutex held for the key fenced the write).
func TestWriteUnderAnotherBackendsHold(t *testing.T) {
	a, b := open(t, file.Options{}), open(t, file.Options{})
	ctx := context.Background()
	m := a.Mutex("k")
	testutil.MustLock(t, m)
	held := lock.WithHeld(ctx, "k", m)
	check := func(want string) {
		t.Helper()
		if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || string(v) != want {
			t.Fatalf("b holds %q, %v, %v; want %q", v, ok, err, want)
		}
		if v, ok, err := a.Get(ctx, "k"); err != nil || ok {
			t.Fatalf("a holds %q, %v, %v; want nothing: the write was b's", v, ok, err)
		}
	}
	if err := b.Set(held, "k", []byte("set")); err != nil {
		t.Fatal(err)
	}
	check("set")
	if err := b.SetMulti(held, map[string][]byte{"k": []byte("multi")}); err != nil {
		t.Fatal(err)
	}
	check("multi")
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(held, "k", []byte("after")); err != nil {
		t.Fatalf("Set under another backend's released mutex: %v", err)
	}
	if err := b.SetMulti(held, map[string][]byte{"k": []byte("after multi")}); err != nil {
		t.Fatalf("SetMulti under another backend's released mutex: %v", err)
	}
	check("after multi")
}

// TestWritersOfOneProcessQueue: the writes of one process wait for each
// other in the process, however short the busy timeout, rather than fail on
// SQLite's lock of the file (nothing failed when the backend opened a writer
// connection per concurrent write, which then raced for that lock).
func TestWritersOfOneProcessQueue(t *testing.T) {
	// A busy timeout well under the time that the other writers' writes take
	// together (opening still has twice the busy timeout to create the file).
	b := open(t, file.Options{BusyTimeout: 100 * time.Millisecond})
	ctx := context.Background()
	items := map[string][]byte{}
	for i := range 4000 {
		items[fmt.Sprint("k", i)] = make([]byte, 1<<10)
	}
	const writers = 8
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range 2 {
				if err := b.SetMulti(ctx, items); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestGetMultiSizes: GetMulti in chunks (more keys than one statement takes),
// with repeated keys, each of which gets its value at every position, and
// through cached and uncached statements.
func TestGetMultiSizes(t *testing.T) {
	b := open(t, file.Options{})
	ctx := context.Background()
	items := map[string][]byte{}
	for i := range 1200 {
		items[fmt.Sprintf("k%d", i)] = []byte(fmt.Sprintf("v%d", i))
	}
	if err := b.SetMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3, 64, 65, 500, 501, 1300} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%d", (i*7)%1300) // some missing
			if i%5 == 4 {
				keys[i] = keys[i/2] // some repeated (i*7 mod 1300 alone repeats none)
			}
		}
		for range 2 {
			vs, err := b.GetMulti(ctx, keys)
			if err != nil {
				t.Fatalf("%d keys: %v", n, err)
			}
			for i, k := range keys {
				if want := items[k]; !bytes.Equal(vs[i], want) {
					t.Fatalf("%d keys: [%d] %s = %q, want %q", n, i, k, vs[i], want)
				}
			}
		}
	}
	if err := b.DeleteMulti(ctx, slices.Collect(maps.Keys(items))); err != nil {
		t.Fatal(err)
	}
	if s := stats(t, b); s.Entries != 0 {
		t.Fatalf("%d entries left after DeleteMulti of 1200 keys", s.Entries)
	}
}
