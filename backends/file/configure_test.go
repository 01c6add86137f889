package file_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// openFilesIn counts this process's open file descriptors on files in dir
// (removed ones included): only those, so that a pipe or socket another part
// of the test binary opens or closes meanwhile does not count.
func openFilesIn(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd here: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// A Configure that fails leaves nothing behind: no open file, no goroutine,
// whether it fails on an option checked before the backend is made or after
// the backend was made for it; and it returns no region.
func TestConfigureFailureLeavesNothingOpen(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	dir := t.TempDir()
	args := dogpile.Args{"filename": filepath.Join(dir, "c.db")}
	// A strategy that serves one region, already serving one: the second
	// region's Configure fails after its backend was made.
	taken := dogpile.SharedInvalidation(0)
	first, err := dogpile.NewRegion(dogpile.WithName("first")).Configure("file", dogpile.WithArguments(args), dogpile.WithInvalidationStrategy(taken))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	fail := func() {
		t.Helper()
		r, err := dogpile.NewRegion().Configure("file", dogpile.WithExpiration(-5*time.Second), dogpile.WithArguments(args))
		if err == nil || r != nil {
			t.Fatalf("a negative expiration: %v, %v; want nil and an error", r, err)
		}
		r, err = dogpile.NewRegion(dogpile.WithName("second")).Configure("file", dogpile.WithArguments(args), dogpile.WithInvalidationStrategy(taken))
		if err == nil || r != nil {
			t.Fatalf("a strategy already in use: %v, %v; want nil and an error", r, err)
		}
	}
	fail() // the first may open what the process then keeps (SQLite's shared state)
	before := openFilesIn(t, dir)
	for range 20 {
		fail()
	}
	if after := openFilesIn(t, dir); after != before {
		fds, _ := os.ReadDir("/proc/self/fd")
		for _, fd := range fds {
			l, _ := os.Readlink("/proc/self/fd/" + fd.Name())
			t.Log(fd.Name(), l)
		}
		t.Fatalf("%d open files before 40 failed Configure calls, %d after", before, after)
	}
	if err := goleak.Find(append(testutil.LeakOptions(), goleak.IgnoreCurrent())...); err != nil {
		t.Fatal(err)
	}
}

// TestCloseLeavesNoFileOpen: Close closes every file the backend opened,
// among them a lock file it moved off when the file was replaced (nothing
// failed when Close left the lock file open, or the replaced one, for the
// life of the process).
func TestCloseLeavesNoFileOpen(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	db := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	before := openFilesIn(t, filepath.Dir(db))
	b, err := file.New(file.Options{Filename: db, DistributedLock: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // in the first lock file, then in its replacement
		m := b.Mutex("k")
		testutil.MustLock(t, m)
		if err := m.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		replaceLockFile(t, b)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if after := openFilesIn(t, filepath.Dir(db)); after != before {
		t.Fatalf("%d open files before the backend was opened, %d after it was closed", before, after)
	}
}
